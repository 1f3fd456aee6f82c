package main

import (
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
	cmd := exec.Command("bash", "../../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "HF="+bin, "DEMO_DIR="+filepath.Join(dir, "demo"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"completed",
		"Every restored file is byte for byte the file as it was before the disaster.",
		"are byte for byte the originals.",
		"OK: nothing stored was altered or removed",
		"verify exited 3 (integrity failure) and named the damaged pack",
		": passed",
		"Witnessed: checkpoint",
		"FAILED witness witness.auditor.example/w1: refused checkpoint",
		"checkpoints issued, 0 of them not cosigned by the witness.",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
