package reports

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/holdfast/holdfast"
)

// The signature is an incremental update appended to the PDF: a signature
// dictionary (adbe.pkcs7.detached, CMS SignedData over SHA-256 of every
// byte but the signature itself), an invisible signature widget on the
// first page, and the catalog again with an AcroForm (SigFlags 3) naming
// it — what Adobe Reader and poppler's pdfsig expect. The original bytes
// are left as they are.

const sigHexLen = 16384 // room for the CMS: certificate chain and signature, hex

var (
	reTrailerRoot = regexp.MustCompile(`/Root (\d+) 0 R`)
	reTrailerSize = regexp.MustCompile(`/Size (\d+)`)
	reTrailerInfo = regexp.MustCompile(`/Info (\d+) 0 R`)
	reStartXref   = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	reKids        = regexp.MustCompile(`/Kids \[(\d+) 0 R`)
	rePages       = regexp.MustCompile(`/Pages (\d+) 0 R`)
)

// object returns the dictionary text of object n (between "n 0 obj" and
// "endobj"), from the last definition in the file.
func object(pdf []byte, n int) (string, error) {
	head := []byte("\n" + strconv.Itoa(n) + " 0 obj")
	i := bytes.LastIndex(pdf, head)
	if i < 0 {
		return "", fmt.Errorf("object %d not found", n)
	}
	rest := pdf[i+len(head):]
	j := bytes.Index(rest, []byte("endobj"))
	if j < 0 {
		return "", fmt.Errorf("object %d has no endobj", n)
	}
	return strings.TrimSpace(string(rest[:j])), nil
}

func match(re *regexp.Regexp, s []byte, what string) (int, error) {
	m := re.FindSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("no %s", what)
	}
	return strconv.Atoi(string(m[1]))
}

// withEntry adds an entry before a dictionary's closing >>.
func withEntry(dict, entry string) (string, error) {
	if !strings.HasSuffix(dict, ">>") {
		return "", fmt.Errorf("not a dictionary: %.40q", dict)
	}
	return dict[:len(dict)-2] + "\n" + entry + "\n>>", nil
}

// Signer is a report-signing identity.
type Signer struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Chain []*x509.Certificate // intermediates, if any
	Name  string
	// TSA, if set, is the URL of an RFC 3161 time-stamping authority
	// whose token is added to every signature.
	TSA string
	// CA and CAKey are the data directory's report CA when it issued Cert:
	// it signs the CRL a report carries as validation data.
	CA    *x509.Certificate
	CAKey crypto.Signer
}

// Sign appends the signature to pdf.
func Sign(ctx context.Context, pdf []byte, s Signer, at time.Time, reason string) ([]byte, error) {
	const op = "sign report"
	u, catalog, pageN, page, err := newPageUpdate(pdf)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if strings.Contains(catalog, "/AcroForm") || strings.Contains(page, "/Annots") {
		return nil, holdfast.E(op, holdfast.Invalid, "the PDF already has a form or annotations; Holdfast signs the reports it renders")
	}
	sigN, widgetN := u.next(), u.next()
	if catalog, err = withEntry(catalog, fmt.Sprintf("/AcroForm << /Fields [%d 0 R] /SigFlags 3 >>", widgetN)); err != nil {
		return nil, holdfast.E(op, err)
	}
	if page, err = withEntry(page, fmt.Sprintf("/Annots [%d 0 R]", widgetN)); err != nil {
		return nil, holdfast.E(op, err)
	}
	sigAt := u.buf.Len()
	start, end := u.sigPlaceholder(sigN, "/Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached",
		fmt.Sprintf("/M (D:%s) /Name (%s) /Reason (%s) ", at.UTC().Format("20060102150405Z"), pdfString(s.Name), pdfString(reason)))
	u.obj(widgetN, fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /Rect [0 0 0 0] /F 132 /T (Holdfast signature) /V %d 0 R /P %d 0 R >>", sigN, pageN))
	u.obj(u.root, catalog)
	u.obj(pageN, page)
	out := u.finish()
	signed := fillByteRange(out, sigAt, start, end)
	der, err := cadesSign(ctx, signed, s, s.TSA)
	if err != nil {
		return nil, err
	}
	if err := putContents(out, start, der); err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	return out, nil
}

func pdfString(s string) string {
	return strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`, "\n", " ", "\r", " ").Replace(s)
}

var (
	reByteRange = regexp.MustCompile(`/ByteRange \[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)
	reContents  = regexp.MustCompile(`/Contents <([0-9a-fA-F]+)>`)
)

// SignatureInfo is what Verify found.
type SignatureInfo struct {
	// Profile is PAdES-B-B, -B-T, -B-LT or -B-LTA for ETSI.CAdES.detached
	// signatures, adbe.pkcs7.detached for reports signed before them.
	Profile     string     `json:"profile"`
	Signer      string     `json:"signer"`
	Fingerprint string     `json:"certificate_sha256"`
	WholeFile   bool       `json:"total_document_signed"`
	Timestamp   *Timestamp `json:"timestamp,omitempty"` // RFC 3161, if the signature has one
	// RevocationChecked: the validation data after the signature holds a
	// CRL of the signer's issuer, current when the signature was made and
	// not revoking the signer's certificate.
	RevocationChecked bool `json:"revocation_checked,omitempty"`
	// DocumentTimestamp is the document time-stamp over the whole file,
	// validation data included (PAdES-B-LTA), if there is one.
	DocumentTimestamp *Timestamp `json:"document_timestamp,omitempty"`
	// Issuer is the CA the signer's certificate chains to, when
	// CheckChain was given it.
	Issuer string `json:"issuer,omitempty"`

	signer  *x509.Certificate
	certs   []*x509.Certificate
	claimed time.Time // the signature dictionary's /M
}

var reSigningTime = regexp.MustCompile(`/M \(D:(\d{14})Z\)`)

// CheckChain verifies that the signer's certificate chains to one of
// roots (the MSP's report-signing CA, which the auditor trusts once) as
// of the time the signature was made: the time-stamp's when there is one,
// else the claimed signing time. An expired certificate does not fail a
// report signed while it was valid.
func (info *SignatureInfo) CheckChain(roots *x509.CertPool) error {
	const op = "verify report signature"
	if info.signer == nil {
		return holdfast.E(op, holdfast.Integrity, "the signature carries no signer certificate")
	}
	at := info.claimed
	if info.Timestamp != nil {
		at = info.Timestamp.Time
	}
	inter := x509.NewCertPool()
	for _, c := range info.certs {
		inter.AddCert(c)
	}
	chains, err := info.signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return holdfast.E(op, holdfast.Integrity, err, "the signer's certificate does not chain to the trusted CA")
	}
	info.Issuer = chains[0][len(chains[0])-1].Subject.CommonName
	return nil
}

// VerifySignature checks the last signature of a signed report: that it
// covers the whole file and that the CMS signature matches its bytes.
func VerifySignature(pdf []byte) (*SignatureInfo, error) {
	const op = "verify report signature"
	i := bytes.LastIndex(pdf, []byte("/Type /Sig"))
	if i < 0 {
		return nil, holdfast.E(op, holdfast.Integrity, "the report is not signed")
	}
	m := reByteRange.FindSubmatch(pdf[i:])
	c := reContents.FindSubmatch(pdf[i:])
	if m == nil || c == nil {
		return nil, holdfast.E(op, holdfast.Integrity, "the signature has no byte range or contents")
	}
	var r [4]int
	for k := range r {
		r[k], _ = strconv.Atoi(string(m[k+1]))
	}
	if r[0] != 0 || r[1] > r[2] || r[2]+r[3] > len(pdf) {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "byte range %v does not fit the file", r)
	}
	full, err := hex.DecodeString(string(c[1]))
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "signature contents")
	}
	// The contents are zero-padded: the DER value is its first element.
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(full, &rv)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the signature is not DER")
	}
	p7, err := pkcs7.Parse(full[:len(full)-len(rest)])
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the signature is not CMS")
	}
	p7.Content = append(append([]byte(nil), pdf[r[0]:r[1]]...), pdf[r[2]:r[2]+r[3]]...)
	if err := p7.Verify(); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "digest mismatch: the report was changed after it was signed")
	}
	info := &SignatureInfo{WholeFile: r[2]+r[3] == len(pdf), Profile: "adbe.pkcs7.detached"}
	signer := p7.GetOnlySigner()
	if signer != nil {
		info.Signer = signer.Subject.CommonName
		info.Fingerprint = fingerprint(signer)
		info.signer, info.certs = signer, p7.Certificates
	}
	if m := reSigningTime.FindSubmatch(pdf[i:min(len(pdf), i+400+len(c[0]))]); m != nil {
		info.claimed, _ = time.Parse("20060102150405", string(m[1]))
	}
	if bytes.Contains(pdf[i:min(len(pdf), i+400)], []byte("/SubFilter /ETSI.CAdES.detached")) {
		// PAdES: the signed attributes bind the signer's certificate
		// (signing-certificate-v2) and carry no signing-time.
		var sc signingCertificateV2
		if err := p7.UnmarshalSignedAttribute(oidSigningCertificateV2, &sc); err != nil || len(sc.Certs) == 0 || signer == nil {
			return info, holdfast.E(op, holdfast.Integrity, "a PAdES signature without the signing-certificate-v2 attribute")
		}
		if h := sha256.Sum256(signer.Raw); !bytes.Equal(sc.Certs[0].CertHash, h[:]) {
			return info, holdfast.E(op, holdfast.Integrity, "the signing-certificate-v2 attribute names another certificate than the signer's")
		}
		var t time.Time
		if p7.UnmarshalSignedAttribute(oidSigningTime, &t) == nil {
			return info, holdfast.E(op, holdfast.Integrity, "a PAdES signature with a signing-time attribute")
		}
		info.Profile = "PAdES-B-B"
	}
	if token, err := tokenOf(p7); err == nil {
		ts, err := checkToken(token, p7.Signers[0].EncryptedDigest)
		if err != nil {
			return info, err
		}
		info.Timestamp = &ts.Timestamp
		if info.Profile == "PAdES-B-B" {
			info.Profile = "PAdES-B-T"
		}
	}
	if end := r[2] + r[3]; end < len(pdf) {
		// Only validation data and a document time-stamp may follow the
		// signature (PAdES-B-LT, -B-LTA).
		a, err := appended(pdf, end)
		if err != nil {
			return info, holdfast.Errorf(op, holdfast.Integrity, "the signature covers %d of the file's %d bytes, and what was appended after it is not validation data: %v", end, len(pdf), err)
		}
		if a.docTS >= 0 {
			ts, err := checkDocTimestamp(pdf, a.docTS)
			if err != nil {
				return info, holdfast.E(op, holdfast.Integrity, err, "the document time-stamp")
			}
			info.DocumentTimestamp = ts
		} else if a.dss && bytes.Count(pdf[end:], []byte("%%EOF")) != 1 {
			return info, holdfast.Errorf(op, holdfast.Integrity, "more than the validation data was appended after the signature")
		}
		info.WholeFile = true
		if a.dss && signer != nil {
			at := info.claimed
			if info.Timestamp != nil {
				at = info.Timestamp.Time
			}
			for _, c := range info.certs {
				if signer.CheckSignatureFrom(c) == nil && crlCurrent(a.crls, signer, c, at) {
					info.RevocationChecked = true
				}
			}
		}
		switch {
		case info.Profile == "PAdES-B-T" && info.RevocationChecked && info.DocumentTimestamp != nil:
			info.Profile = "PAdES-B-LTA"
		case info.Profile == "PAdES-B-T" && info.RevocationChecked:
			info.Profile = "PAdES-B-LT"
		}
	}
	if !info.WholeFile {
		return info, holdfast.Errorf(op, holdfast.Integrity, "the signature covers %d of the file's %d bytes: something was appended after signing", r[2]+r[3], len(pdf))
	}
	return info, nil
}

var reNote = regexp.MustCompile(`/Keywords \(holdfast-checkpoint-note ([A-Za-z0-9+/=]+)\)`)

// EmbeddedCheckpoint returns the signed checkpoint note a report speaks
// for.
func EmbeddedCheckpoint(pdf []byte) ([]byte, error) {
	m := reNote.FindSubmatch(pdf)
	if m == nil {
		return nil, holdfast.E("report checkpoint", holdfast.Integrity, "the report names no checkpoint")
	}
	note, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil {
		return nil, holdfast.E("report checkpoint", holdfast.Integrity, err)
	}
	return note, nil
}
