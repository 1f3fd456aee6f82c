package reports

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	if !strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Total document signed") {
		t.Fatalf("pdfsig does not accept the signature:\n%s", out)
	}
	info, err := VerifySignature(signed)
	if err != nil || !info.WholeFile || info.Fingerprint != s.Fingerprint() {
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
