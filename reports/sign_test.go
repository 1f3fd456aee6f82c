package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jung-kurt/gofpdf"
)

func testSigner(t *testing.T) *Signer {
	t.Helper()
	dir := t.TempDir()
	if err := CreateSigner(dir, "Holdfast test signer"); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func samplePDF(t *testing.T) []byte {
	pdf := gofpdf.New("P", "mm", "A4", "")
	pdf.AddPage()
	pdf.SetFont("Helvetica", "", 12)
	pdf.Cell(40, 10, "Backup procedures")
	pdf.AddPage()
	pdf.Cell(40, 10, "page two")
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pdfsig is poppler's signature checker; the Makefile installs it.
func pdfsig(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdfsig"); err != nil {
		t.Fatal("pdfsig (poppler-utils) is not installed; make test installs it")
	}
	path := filepath.Join(t.TempDir(), "r.pdf")
	os.WriteFile(path, pdf, 0o644)
	out, _ := exec.Command("pdfsig", path).CombinedOutput()
	return string(out)
}

func TestSignAcceptedByPdfsig(t *testing.T) {
	s := testSigner(t)
	signed, err := Sign(context.Background(), samplePDF(t), *s, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	out := pdfsig(t, signed)
	if !strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Total document signed") || !strings.Contains(out, "Signature Type: ETSI.CAdES.detached") {
		t.Fatalf("pdfsig does not accept the signature as PAdES:\n%s", out)
	}
	info, err := VerifySignature(signed)
	if err != nil || !info.WholeFile || info.Fingerprint != s.Fingerprint() || info.Profile != "PAdES-B-B" {
		t.Fatalf("VerifySignature: %+v %v", info, err)
	}
	// One flipped byte, in the original document and in the update.
	for _, at := range []int{200, len(signed) - 40} { // in the document and in the update, outside the signature itself
		bad := append([]byte(nil), signed...)
		bad[at] ^= 1
		if out := pdfsig(t, bad); strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Digest Mismatch") {
			t.Errorf("byte %d changed, pdfsig still says valid:\n%s", at, out)
		}
		if _, err := VerifySignature(bad); err == nil {
			t.Errorf("byte %d changed, VerifySignature accepted it", at)
		}
	}
}

// signatureCMS returns a signed PDF's CMS and the bytes it signs.
func signatureCMS(t *testing.T, pdf []byte) (cms, signed []byte) {
	t.Helper()
	i := bytes.LastIndex(pdf, []byte("/Type /Sig"))
	m := reByteRange.FindSubmatch(pdf[i:])
	c := reContents.FindSubmatch(pdf[i:])
	var r [4]int
	for k := range r {
		r[k], _ = strconv.Atoi(string(m[k+1]))
	}
	full, _ := hex.DecodeString(string(c[1]))
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(full, &rv)
	if err != nil {
		t.Fatal(err)
	}
	return full[:len(full)-len(rest)], append(append([]byte(nil), pdf[r[0]:r[1]]...), pdf[r[2]:r[2]+r[3]]...)
}

// TestPAdESSignedAttributes: the CMS signs exactly the content type, the
// message digest and signing-certificate-v2 naming the signer's
// certificate by its SHA-256 (no signing-time, as PAdES baseline wants),
// and OpenSSL's CMS verifier, a second and independent implementation,
// accepts it over the signed byte range.
func TestPAdESSignedAttributes(t *testing.T) {
	s := testSigner(t)
	pdf, err := Sign(context.Background(), samplePDF(t), *s, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	cms, signed := signatureCMS(t, pdf)
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(cms, &ci); err != nil || !ci.Type.Equal(oidSignedData) {
		t.Fatalf("ContentInfo: %v %v", ci.Type, err)
	}
	var sd cmsSignedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatal(err)
	}
	var si cmsSignerInfo
	if _, err := asn1.Unmarshal(sd.SignerInfos.Bytes, &si); err != nil {
		t.Fatal(err)
	}
	var got []string
	for rest := si.SignedAttrs.Bytes; len(rest) > 0; {
		var a cmsAttribute
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			t.Fatal(err)
		}
		got = append(got, a.Type.String())
		if a.Type.Equal(oidSigningCertificateV2) {
			var sc signingCertificateV2
			if _, err := asn1.Unmarshal(a.Values.Bytes, &sc); err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(s.Cert.Raw); len(sc.Certs) != 1 || !bytes.Equal(sc.Certs[0].CertHash, h[:]) || sc.Certs[0].IssuerSerial.Serial.Cmp(s.Cert.SerialNumber) != 0 {
				t.Errorf("signing-certificate-v2 does not name the signer's certificate: %+v", sc)
			}
		}
	}
	sort.Strings(got)
	want := []string{oidContentType.String(), oidMessageDigest.String(), oidSigningCertificateV2.String()}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("signed attributes %v, want %v", got, want)
	}

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed; make test installs it")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sig.der"), cms, 0o644)
	os.WriteFile(filepath.Join(dir, "signed"), signed, 0o644)
	verify := func() ([]byte, error) {
		return exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(dir, "sig.der"),
			"-content", filepath.Join(dir, "signed"), "-noverify", "-out", os.DevNull).CombinedOutput()
	}
	if out, err := verify(); err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Errorf("openssl cms -verify: %v\n%s", err, out)
	}
	signed[100] ^= 1
	os.WriteFile(filepath.Join(dir, "signed"), signed, 0o644)
	if out, err := verify(); err == nil {
		t.Errorf("openssl cms -verify accepted a changed document:\n%s", out)
	}
}

// TestReportCA: CreateSigner makes a CA and a signer it issued; a report
// signed by it chains to that CA (the auditor trusts the CA once), and not
// to another data directory's.
func TestReportCA(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} {
		if err := CreateSigner(d, "Contoso MSP reports"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := LoadSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Chain) != 1 || !s.Chain[0].IsCA || s.Cert.Issuer.CommonName != "Contoso MSP reports CA" {
		t.Fatalf("the signer's chain: %d certificates, issuer %q", len(s.Chain), s.Cert.Issuer.CommonName)
	}
	pdf, err := Sign(context.Background(), samplePDF(t), *s, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	pool := func(d string) *x509.CertPool {
		b, err := CACertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		p.AppendCertsFromPEM(b)
		return p
	}
	info, err := VerifySignature(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if err := info.CheckChain(pool(dir)); err != nil || info.Issuer != "Contoso MSP reports CA" {
		t.Errorf("chain to its own CA: %v (issuer %q)", err, info.Issuer)
	}
	info, _ = VerifySignature(pdf)
	if err := info.CheckChain(pool(other)); err == nil {
		t.Error("a report chained to another data directory's CA")
	}
	if out := pdfsig(t, pdf); !strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Contoso MSP reports") {
		t.Errorf("pdfsig on a CA-issued signer's report:\n%s", out)
	}
	if _, err := CACertificate(t.TempDir()); err == nil {
		t.Error("a CA certificate where none was made")
	}
}
