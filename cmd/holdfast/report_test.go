package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/reports"
	"software.sslmate.com/src/go-pkcs12"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func pdfText(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestReportsFromABackup(t *testing.T) {
	_, info, c := connectedFake(t, 12)
	c.ok("--tenant", "contoso", "backup")
	c.ok("--tenant", "contoso", "restore-test", "--sample", "3")
	c.ok("--tenant", "contoso", "verify")
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Harbour v Contoso", "--custodian", info.Users[0], "--query", "reconciliation", "--reason", "letter before action")
	c.ok("--tenant", "contoso", "search", "invoice*")
	// A report speaks for the checkpoints of whole seconds before it: on a
	// fast machine all of the above fits in one second.
	c.skew = 2 * time.Second
	dir := t.TempDir()
	key := strings.TrimSpace(c.ok("log-key"))
	var issued struct {
		SHA256     string `json:"sha256"`
		Checkpoint uint64 `json:"checkpoint_size"`
		Root       string `json:"checkpoint_root"`
	}
	for _, kind := range []string{"procedures", "coverage", "hold", "restore-tests"} {
		out := filepath.Join(dir, kind+".pdf")
		jsonDoc(t, c.ok("--json", "--tenant", "contoso", "report", "--kind", kind, "--case", "Harbour v Contoso", "--out", out), &issued)
		sig, _ := exec.Command("pdfsig", out).CombinedOutput()
		if !strings.Contains(string(sig), "Signature is Valid.") || !strings.Contains(string(sig), "Total document signed") {
			t.Errorf("%s: pdfsig:\n%s", kind, sig)
		}
		text := pdfText(t, out)
		for _, fact := range []string{"contoso", issued.Root[:16]} {
			if !strings.Contains(strings.ReplaceAll(text, "\n", " "), fact) && kind == "procedures" {
				t.Errorf("%s report lacks %q", kind, fact)
			}
		}
		c.ok("report", "verify", out, "--key", key)
		c.ok("--tenant", "contoso", "report", "verify", out)
	}
	text := pdfText(t, filepath.Join(dir, "procedures.pdf"))
	flat := strings.Join(strings.Fields(text), " ")
	for _, fact := range []string{info.Users[0], "Backup and retention procedures", "departed-not-captured", "Restore tests", "passed", "recovery point objective is 24 hours"} {
		if !strings.Contains(flat, fact) {
			t.Errorf("the procedures report does not state %q", fact)
		}
	}
	if !strings.Contains(pdfText(t, filepath.Join(dir, "coverage.pdf")), "Items captured per workload") {
		t.Error("the coverage report has no chart")
	}
	holdText := strings.Join(strings.Fields(pdfText(t, filepath.Join(dir, "hold.pdf"))), " ")
	for _, fact := range []string{"Legal hold: Harbour v Contoso", info.Users[0], "letter before action", "reconciliation", "invoice*", "What is held"} {
		if !strings.Contains(holdText, fact) {
			t.Errorf("the hold report does not state %q", fact)
		}
	}
	rtText := strings.Join(strings.Fields(pdfText(t, filepath.Join(dir, "restore-tests.pdf"))), " ")
	for _, fact := range []string{"SOC 2 A1.3", "1 restore tests, 1 passed", "random sample"} {
		if !strings.Contains(rtText, fact) {
			t.Errorf("the restore-tests report does not state %q", fact)
		}
	}
	// --all: one report per tenant into a directory.
	all := filepath.Join(dir, "all")
	c.ok("report", "--all", "--kind", "coverage", "--out", all)
	if _, err := os.Stat(filepath.Join(all, "contoso-coverage.pdf")); err != nil {
		t.Errorf("--all: %v", err)
	}
	// Every report is on record.
	var log struct {
		Records []struct{ Data map[string]any }
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "log", "--type", "report.issued"), &log)
	if len(log.Records) != 5 || log.Records[3].Data["sha256"] != issued.SHA256 {
		t.Errorf("report.issued records: %+v", log.Records)
	}
	// A changed byte: pdfsig and report verify both say so.
	bad := filepath.Join(dir, "bad.pdf")
	b, _ := os.ReadFile(filepath.Join(dir, "procedures.pdf"))
	b[300] ^= 1
	os.WriteFile(bad, b, 0o644)
	if sig, _ := exec.Command("pdfsig", bad).CombinedOutput(); !strings.Contains(string(sig), "Digest Mismatch") {
		t.Errorf("pdfsig on a changed report:\n%s", sig)
	}
	if code, _, errs := c.run("report", "verify", bad, "--key", key); code != exitIntegrity {
		t.Errorf("report verify of a changed report: exit %d %s", code, errs)
	}
	// --tsa reaches the time-stamping authority; one that fails fails the report.
	tsa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer tsa.Close()
	if code, _, errs := c.run("--tenant", "contoso", "report", "--tsa", tsa.URL, "--out", filepath.Join(dir, "tsa.pdf")); code == exitOK || !strings.Contains(errs, "503") {
		t.Errorf("a failing TSA: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "tsa.pdf")); err == nil {
		t.Error("a report was written without the time-stamp asked for")
	}
	// Never overwrites; unknown kinds are refused.
	if code, _, _ := c.run("--tenant", "contoso", "report", "--out", filepath.Join(dir, "procedures.pdf")); code == exitOK {
		t.Error("a report overwrote an existing file")
	}
	if code, _, _ := c.run("--tenant", "contoso", "report", "--kind", "poem", "--out", filepath.Join(dir, "x.pdf")); code != exitUsage {
		t.Errorf("unknown kind: exit %d", code)
	}
	// A CA-issued signer replaces the self-signed one.
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Contoso MSP reports"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	kd, _ := x509.MarshalPKCS8PrivateKey(caKey)
	os.WriteFile(filepath.Join(dir, "c.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	c.ok("signer", "import", "--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "k.pem"))
	out := filepath.Join(dir, "ca.pdf")
	c.ok("--tenant", "contoso", "report", "--out", out)
	if sig, _ := exec.Command("pdfsig", out).CombinedOutput(); !strings.Contains(string(sig), "Contoso MSP reports") || !strings.Contains(string(sig), "Signature is Valid.") {
		t.Errorf("report signed by the imported key:\n%s", sig)
	}
	// And a PKCS #12 file, with its password from the environment.
	pfx, err := pkcs12.Modern.Encode(caKey, must(x509.ParseCertificate(der)), nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "s.p12"), pfx, 0o600)
	t.Setenv("P12_PASS", "wrong")
	if code, _, errs := c.run("signer", "import", "--p12", filepath.Join(dir, "s.p12"), "--password-env", "P12_PASS"); code != exitUsage || !strings.Contains(errs, "password") {
		t.Errorf("wrong PKCS #12 password: %d %s", code, errs)
	}
	t.Setenv("P12_PASS", "s3cret")
	c.ok("signer", "import", "--p12", filepath.Join(dir, "s.p12"), "--password-env", "P12_PASS")
	c.ok("--tenant", "contoso", "report", "--out", filepath.Join(dir, "p12.pdf"))
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	od, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	os.WriteFile(filepath.Join(dir, "other.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: od}), 0o600)
	if code, _, errs := c.run("signer", "import", "--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "other.pem")); code != exitUsage || !strings.Contains(errs, "does not belong") {
		t.Errorf("mismatched key: %d %s", code, errs)
	}
}

// TestReportCAThroughTheCLI: init makes a report-signing CA; signer ca
// hands its certificate to the auditor, and report verify --ca checks a
// report's signer against it.
func TestReportCAThroughTheCLI(t *testing.T) {
	c := setupTenant(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	c.ok("signer", "ca", "--out", ca)
	if b, _ := os.ReadFile(ca); !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatalf("signer ca wrote %q", b)
	}
	pdf := filepath.Join(dir, "r.pdf")
	c.skew = 2 * time.Second
	c.ok("--tenant", "acme", "report", "--kind", "procedures", "--out", pdf)
	key := strings.TrimSpace(c.ok("log-key"))
	out := c.ok("report", "verify", pdf, "--key", key, "--ca", ca)
	if !strings.Contains(out, "PAdES-B-B") || !strings.Contains(out, "issued by") {
		t.Errorf("report verify --ca:\n%s", out)
	}
	other := newCLI(t)
	other.ok("init")
	otherCA := filepath.Join(dir, "other.pem")
	other.ok("signer", "ca", "--out", otherCA)
	if code, _, errs := c.run("report", "verify", pdf, "--key", key, "--ca", otherCA); code != exitIntegrity || !strings.Contains(errs, "does not chain") {
		t.Errorf("report verify against another CA: exit %d %q", code, errs)
	}
}

// TestReportLongTermProfiles: with --tsa a report is PAdES-B-LT (the
// signature time-stamped, the chain and the report CA's CRL after it);
// with --lta too, B-LTA; --lta without a TSA is refused.
func TestReportLongTermProfiles(t *testing.T) {
	c := setupTenant(t)
	tsa := httptest.NewServer(reports.TestTSA(time.Now().UTC().Truncate(time.Second)))
	defer tsa.Close()
	dir := t.TempDir()
	key := strings.TrimSpace(c.ok("log-key"))
	ca := filepath.Join(dir, "ca.pem")
	c.ok("signer", "ca", "--out", ca)
	c.skew = 2 * time.Second
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tsa", tsa.URL}, "PAdES-B-LT"},
		{[]string{"--tsa", tsa.URL, "--lta"}, "PAdES-B-LTA"},
	} {
		pdf := filepath.Join(dir, tc.want+".pdf")
		c.ok(append([]string{"--tenant", "acme", "report", "--kind", "procedures", "--out", pdf}, tc.args...)...)
		out := c.ok("report", "verify", pdf, "--key", key, "--ca", ca)
		if !strings.Contains(out, "("+tc.want+")") {
			t.Errorf("%v: report verify:\n%s", tc.args, out)
		}
		if sig, _ := exec.Command("pdfsig", pdf).CombinedOutput(); !strings.Contains(string(sig), "Signature is Valid.") || !strings.Contains(string(sig), "ETSI.CAdES.detached") {
			t.Errorf("%v: pdfsig:\n%s", tc.args, sig)
		}
	}
	if code, _, errs := c.run("--tenant", "acme", "report", "--kind", "procedures", "--lta", "--out", filepath.Join(dir, "x.pdf")); code != exitUsage || !strings.Contains(errs, "needs a time-stamping authority") {
		t.Errorf("--lta without --tsa: exit %d %q", code, errs)
	}
}
