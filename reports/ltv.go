package reports

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
)

// PAdES-B-LT and -B-LTA (ETSI EN 319 142-1, 5.4 and 5.5): after the
// signature, an incremental update adds a Document Security Store (/DSS
// in the catalog) holding the signer's certificate chain and revocation
// data for it — a CRL of the report CA, issued for the report — so that
// the signature can be validated when the CA is long gone; a second update
// adds a document time-stamp (/Type /DocTimeStamp, ETSI.RFC3161) over the
// whole file, validation data included, which a later time-stamp can renew.

// CRLValidity is how long the CRL put into a report says it is current:
// a validator years later reads it as the CA's word at the time of the
// signature, which is what B-LT needs.
const CRLValidity = 30 * 24 * time.Hour

// pdfUpdate is an incremental update being written after a PDF's bytes.
type pdfUpdate struct {
	buf     bytes.Buffer
	offsets map[int]int
	order   []int
	root    int
	info    int
	prev    int
	size    int // the next free object number
}

// newUpdate starts an update of pdf, reading its trailer.
func newUpdate(pdf []byte) (*pdfUpdate, error) {
	u := &pdfUpdate{offsets: map[int]int{}}
	if err := u.readTrailer(pdf); err != nil {
		return nil, err
	}
	u.buf.Write(pdf)
	if !bytes.HasSuffix(pdf, []byte("\n")) {
		u.buf.WriteByte('\n')
	}
	return u, nil
}

// readTrailer reads the last trailer of pdf: root, size, info, and where
// its cross-reference section starts.
func (u *pdfUpdate) readTrailer(pdf []byte) error {
	tail := pdf[max(0, len(pdf)-1024):]
	trailerAt := bytes.LastIndex(pdf, []byte("trailer"))
	if trailerAt < 0 {
		return fmt.Errorf("not a PDF with a trailer")
	}
	trailer := pdf[trailerAt:]
	var err error
	if u.root, err = match(reTrailerRoot, trailer, "/Root in the trailer"); err != nil {
		return err
	}
	if u.size, err = match(reTrailerSize, trailer, "/Size in the trailer"); err != nil {
		return err
	}
	u.info, _ = match(reTrailerInfo, trailer, "/Info")
	u.prev, err = match(reStartXref, tail, "startxref")
	return err
}

// next reserves a new object number.
func (u *pdfUpdate) next() int { u.size++; return u.size - 1 }

func (u *pdfUpdate) start(n int) {
	u.offsets[n] = u.buf.Len()
	u.order = append(u.order, n)
}

// obj writes object n with a dictionary body.
func (u *pdfUpdate) obj(n int, body string) {
	u.start(n)
	fmt.Fprintf(&u.buf, "%d 0 obj\n%s\nendobj\n", n, body)
}

// stream writes object n as a stream of data.
func (u *pdfUpdate) stream(n int, data []byte) {
	u.start(n)
	fmt.Fprintf(&u.buf, "%d 0 obj\n<< /Length %d >>\nstream\n", n, len(data))
	u.buf.Write(data)
	u.buf.WriteString("\nendstream\nendobj\n")
}

// newPageUpdate is newUpdate for a change to the first page (a signature
// field): the update, the catalog, and the first page's number and
// dictionary.
func newPageUpdate(pdf []byte) (u *pdfUpdate, catalog string, pageN int, page string, err error) {
	if u, err = newUpdate(pdf); err != nil {
		return nil, "", 0, "", err
	}
	catalog, pageN, page, err = firstPage(pdf, u.root)
	return u, catalog, pageN, page, err
}

// firstPage returns the catalog (object root) and the first page's number
// and dictionary, as last defined in pdf.
func firstPage(pdf []byte, root int) (catalog string, pageN int, page string, err error) {
	if catalog, err = object(pdf, root); err != nil {
		return "", 0, "", err
	}
	pagesN, err := match(rePages, []byte(catalog), "/Pages in the catalog")
	if err != nil {
		return "", 0, "", err
	}
	pages, err := object(pdf, pagesN)
	if err != nil {
		return "", 0, "", err
	}
	if pageN, err = match(reKids, []byte(pages), "first page"); err != nil {
		return "", 0, "", err
	}
	page, err = object(pdf, pageN)
	return catalog, pageN, page, err
}

// finish writes the cross-reference section and the trailer.
func (u *pdfUpdate) finish() []byte {
	xref := u.buf.Len()
	u.buf.WriteString("xref\n")
	for _, n := range u.order {
		fmt.Fprintf(&u.buf, "%d 1\n%010d 00000 n \n", n, u.offsets[n])
	}
	fmt.Fprintf(&u.buf, "trailer\n<< /Size %d /Root %d 0 R", u.size, u.root)
	if u.info > 0 {
		fmt.Fprintf(&u.buf, " /Info %d 0 R", u.info)
	}
	fmt.Fprintf(&u.buf, " /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", u.prev, xref)
	return u.buf.Bytes()
}

// sigPlaceholder writes signature dictionary n, with a byte range to fill
// and /Contents reserved, and returns where the contents' hex string
// (with its brackets) starts and ends.
func (u *pdfUpdate) sigPlaceholder(n int, head, tail string) (start, end int) {
	const placeholder = "          " // ten digits
	u.start(n)
	fmt.Fprintf(&u.buf, "%d 0 obj\n<< %s /ByteRange [0 %s %s %s]\n/Contents <", n, head, placeholder, placeholder, placeholder)
	start = u.buf.Len() - 1
	u.buf.WriteString(strings.Repeat("0", sigHexLen))
	u.buf.WriteString(">")
	end = u.buf.Len()
	fmt.Fprintf(&u.buf, "\n%s>>\nendobj\n", tail)
	return start, end
}

// fillSignature writes the byte range of signature n into out and returns
// the bytes it covers, for the caller to sign and then put with putContents.
func fillByteRange(out []byte, sigAt, start, end int) []byte {
	br := fmt.Sprintf("%-10d %-10d %-10d", start, end, len(out)-end)
	at := bytes.Index(out[sigAt:], []byte("/ByteRange [0 ")) + sigAt + len("/ByteRange [0 ")
	copy(out[at:], br)
	return append(append([]byte(nil), out[:start]...), out[end:]...)
}

func putContents(out []byte, start int, der []byte) error {
	h := hex.EncodeToString(der)
	if len(h) > sigHexLen {
		return fmt.Errorf("the signature (%d bytes) does not fit the %d bytes reserved", len(der), sigHexLen/2)
	}
	copy(out[start+1:], h)
	return nil
}

// AddValidationData appends the Document Security Store: the signer's
// certificate and chain, and, when the data directory's report CA issued
// the signer, a CRL of that CA made now (nothing revoked). A report whose
// signature has a time-stamp is then PAdES-B-LT.
func AddValidationData(pdf []byte, s Signer, now time.Time) ([]byte, error) {
	const op = "report validation data"
	u, err := newUpdate(pdf)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	catalog, err := object(pdf, u.root)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if strings.Contains(catalog, "/DSS") {
		return nil, holdfast.E(op, holdfast.Invalid, "the report has validation data already")
	}
	var certRefs, crlRefs []string
	for _, c := range append([]*x509.Certificate{s.Cert}, s.Chain...) {
		n := u.next()
		u.stream(n, c.Raw)
		certRefs = append(certRefs, fmt.Sprintf("%d 0 R", n))
	}
	if s.CA != nil && s.CAKey != nil {
		crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now.UTC(), NextUpdate: now.UTC().Add(CRLValidity)}, s.CA, s.CAKey)
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		n := u.next()
		u.stream(n, crl)
		crlRefs = append(crlRefs, fmt.Sprintf("%d 0 R", n))
	}
	dss := u.next()
	body := fmt.Sprintf("<< /Type /DSS /Certs [%s]", strings.Join(certRefs, " "))
	if len(crlRefs) > 0 {
		body += fmt.Sprintf(" /CRLs [%s]", strings.Join(crlRefs, " "))
	}
	u.obj(dss, body+" >>")
	if catalog, err = withEntry(catalog, fmt.Sprintf("/DSS %d 0 R", dss)); err != nil {
		return nil, holdfast.E(op, err)
	}
	u.obj(u.root, catalog)
	return u.finish(), nil
}

var (
	reFields = regexp.MustCompile(`/Fields \[`)
	reAnnots = regexp.MustCompile(`/Annots \[`)
)

// AddDocumentTimestamp appends a document time-stamp by the TSA at url
// over the whole file: PAdES-B-LTA when the file has validation data.
func AddDocumentTimestamp(ctx context.Context, pdf []byte, url string) ([]byte, error) {
	const op = "document time-stamp"
	u, catalog, pageN, page, err := newPageUpdate(pdf)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if !reFields.MatchString(catalog) || !reAnnots.MatchString(page) {
		return nil, holdfast.E(op, holdfast.Invalid, "the report is not signed")
	}
	sigN, widgetN := u.next(), u.next()
	catalog = reFields.ReplaceAllLiteralString(catalog, fmt.Sprintf("/Fields [%d 0 R ", widgetN))
	page = reAnnots.ReplaceAllLiteralString(page, fmt.Sprintf("/Annots [%d 0 R ", widgetN))
	sigAt := u.buf.Len()
	start, end := u.sigPlaceholder(sigN, "/Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161", "")
	u.obj(widgetN, fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /Rect [0 0 0 0] /F 132 /T (Holdfast document time-stamp) /V %d 0 R /P %d 0 R >>", sigN, pageN))
	u.obj(u.root, catalog)
	u.obj(pageN, page)
	out := u.finish()
	covered := fillByteRange(out, sigAt, start, end)
	ts, err := requestTimestamp(ctx, http.DefaultClient, url, covered)
	if err != nil {
		return nil, err
	}
	if err := putContents(out, start, ts.Token); err != nil {
		return nil, holdfast.E(op, err)
	}
	return out, nil
}

// appended checks what was appended after the signature (the bytes from
// signedEnd): only validation data (certificates, CRLs, the DSS and the
// catalog naming it) and a document time-stamp (its dictionary, widget,
// and the catalog and page naming the widget) may be there, and the
// trailers must keep the document's root. before is the file the
// signature covers. It returns whether a DSS and a document time-stamp
// were found.
func appended(pdf []byte, signedEnd int) (a appendix, err error) {
	before := pdf[:signedEnd]
	rest := pdf[signedEnd:]
	a.docTS = -1
	var t pdfUpdate
	if err := t.readTrailer(before); err != nil {
		return a, err
	}
	root := t.root
	catalog0, err := object(before, root)
	if err != nil {
		return a, err
	}
	for _, m := range reTrailerRoot.FindAllSubmatch(rest, -1) {
		if n, _ := strconv.Atoi(string(m[1])); n != root {
			return a, fmt.Errorf("an pdfUpdate after the signature changes the document's root to object %d", n)
		}
	}
	objs := reObjHead.FindAllSubmatchIndex(rest, -1)
	for k, m := range objs {
		n, _ := strconv.Atoi(string(rest[m[2]:m[3]]))
		bodyEnd := len(rest)
		if k+1 < len(objs) {
			bodyEnd = objs[k+1][0]
		}
		body := rest[m[1]:bodyEnd]
		if j := bytes.Index(body, []byte("endobj")); j >= 0 {
			body = body[:j]
		}
		text := strings.TrimSpace(string(body))
		switch {
		case reStreamObj.MatchString(text):
			data := streamData(text)
			if _, err := x509.ParseCertificate(data); err != nil {
				if _, err := x509.ParseRevocationList(data); err != nil {
					return a, fmt.Errorf("object %d appended after the signature is a stream that is neither a certificate nor a CRL", n)
				}
				a.crls = append(a.crls, data)
			}
		case strings.HasPrefix(text, "<< /Type /DSS "):
			a.dss = true
		case strings.HasPrefix(text, "<< /Type /DocTimeStamp "):
			a.docTS = signedEnd + m[0]
		case strings.HasPrefix(text, "<< /Type /Annot /Subtype /Widget /FT /Sig /Rect [0 0 0 0] /F 132 /T (Holdfast document time-stamp)"):
		case n == root:
			if !sameBut(catalog0, text) {
				return a, fmt.Errorf("the document catalog was changed after the signature beyond naming validation data or a time-stamp")
			}
		default:
			page0, err := object(before, n)
			if err != nil || !sameBut(page0, text) {
				return a, fmt.Errorf("object %d was added or changed after the signature", n)
			}
		}
	}
	return a, nil
}

// appendix is what was appended after a signature.
type appendix struct {
	dss   bool
	crls  [][]byte
	docTS int // offset of the document time-stamp's object, or -1
}

var (
	reObjHead   = regexp.MustCompile(`(?m)^(\d+) 0 obj\n`)
	reStreamObj = regexp.MustCompile(`^<< /Length \d+ >>\nstream\n`)
	reAddedRef  = regexp.MustCompile(`(/(?:Fields|Annots) \[)\d+ 0 R |\n/DSS \d+ 0 R\n`)
)

func streamData(text string) []byte {
	i := strings.Index(text, "stream\n")
	data := text[i+len("stream\n"):]
	return []byte(strings.TrimSuffix(strings.TrimSuffix(data, "endstream"), "\n"))
}

// sameBut reports whether after is before with only the entries an
// pdfUpdate may add: /DSS, and one more widget in /Fields or /Annots.
func sameBut(before, after string) bool {
	strip := func(s string) string {
		for {
			t := reAddedRef.ReplaceAllStringFunc(s, func(m string) string {
				if strings.HasPrefix(m, "\n/DSS") {
					return ""
				}
				return reAddedRef.FindStringSubmatch(m)[1]
			})
			if t == s {
				return s
			}
			s = t
		}
	}
	return strip(before) == strip(after)
}

// checkDocTimestamp verifies the document time-stamp whose dictionary is
// at offset at: it covers the whole file and its token stamps its bytes.
func checkDocTimestamp(pdf []byte, at int) (*Timestamp, error) {
	m := reByteRange.FindSubmatch(pdf[at:])
	c := reContents.FindSubmatch(pdf[at:])
	if m == nil || c == nil {
		return nil, fmt.Errorf("the document time-stamp has no byte range or contents")
	}
	var r [4]int
	for k := range r {
		r[k], _ = strconv.Atoi(string(m[k+1]))
	}
	if r[0] != 0 || r[1] > r[2] || r[2]+r[3] != len(pdf) {
		return nil, fmt.Errorf("the document time-stamp does not cover the whole file")
	}
	full, err := hex.DecodeString(string(c[1]))
	if err != nil {
		return nil, err
	}
	token := bytes.TrimRight(full, "\x00")
	covered := append(append([]byte(nil), pdf[:r[1]]...), pdf[r[2]:]...)
	ts, err := checkToken(token, covered)
	if err != nil {
		return nil, err
	}
	return &ts.Timestamp, nil
}

// crlCurrent says whether crls hold a CRL of the signer's issuer, current
// at t and not revoking it.
func crlCurrent(crls [][]byte, signer, issuer *x509.Certificate, t time.Time) bool {
	for _, b := range crls {
		crl, err := x509.ParseRevocationList(b)
		if err != nil || crl.CheckSignatureFrom(issuer) != nil || t.Before(crl.ThisUpdate.Add(-time.Hour)) || t.After(crl.NextUpdate) {
			continue
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(signer.SerialNumber) == 0 {
				return false
			}
		}
		return true
	}
	return false
}
