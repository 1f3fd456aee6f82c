package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs scripts/demo.sh — what `make demo` runs — with a freshly
// built binary, so that the demo cannot rot.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the whole demo")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "holdfast")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, mode := range []string{"local", "s3"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command("bash", "../../scripts/demo.sh")
			cmd.Env = append(os.Environ(), "HF="+bin, "DEMO_DIR="+filepath.Join(dir, "demo-"+mode))
			wants := []string{
				"completed",
				"Every restored file is byte for byte the file as it was before the disaster.",
				"are byte for byte the originals.",
				"OK: nothing stored was altered or removed",
				": passed",
				"Witnessed: checkpoint",
			}
			if mode == "s3" {
				// make demo HOLDFAST_DEMO_S3=1: the repository in a versitygw
				// bucket with Object Lock (make test builds bin/versitygw).
				cmd.Env = append(cmd.Env, "HOLDFAST_DEMO_S3=1", "S3_PORT="+freePort(t))
				wants = append(wants, "Its repository is in s3://holdfast-demo/tenants/contoso")
			} else {
				wants = append(wants, "verify exited 3 (integrity failure) and named the damaged pack",
					"FAILED witness witness.auditor.example/w1: refused checkpoint",
					"checkpoints issued, 0 of them not cosigned by the witness.")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("demo failed: %v\n%s", err, out)
			}
			for _, want := range wants {
				if !strings.Contains(string(out), want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
		})
	}
}

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}
