package ediscovery

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"golang.org/x/mod/sumdb/note"
)

func testVerifier(t *testing.T) note.Verifier {
	_, vkey, err := note.GenerateKey(rand.Reader, "test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// writeBomb writes a small zip holding two files of zeros, each of size
// bytes, with a manifest that lists them.
func writeBomb(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bomb.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	zeros := make([]byte, 1<<20)
	var files []FileEntry
	for _, name := range []string{"natives/a.bin", "natives/b.bin"} {
		w, _ := zw.Create(name)
		for n := int64(0); n < size; n += int64(len(zeros)) {
			w.Write(zeros)
		}
		files = append(files, FileEntry{Path: name, Bytes: size, SHA256: strings.Repeat("0", 64), Record: 1})
	}
	mj, _ := json.Marshal(Manifest{Format: manifestFormat, Files: files})
	w, _ := zw.Create("manifest.json")
	w.Write(mj)
	zw.Close()
	f.Close()
	return p
}

func TestVerifyRefusesABomb(t *testing.T) {
	pkg := writeBomb(t, 300<<20)
	st, _ := os.Stat(pkg)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Verify(pkg, testVerifier(t), store.WitnessPolicy{})
	runtime.ReadMemStats(&after)
	if !holdfast.Is(holdfast.Integrity, err) || !strings.Contains(err.Error(), "zip bomb") {
		t.Errorf("Verify of a %d-byte package holding 600 MiB: %v, want an integrity error naming a zip bomb", st.Size(), err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 100<<20 {
		t.Errorf("Verify allocated %d MB on a bomb, want under 100 MB", alloc>>20)
	}
}

// TestVerifyReadsNoFurtherThanTheManifest: an entry longer than the
// manifest says is a problem found after reading just past that size.
func TestVerifyReadsNoFurtherThanTheManifest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "long.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("natives/a.txt")
	w.Write(bytes.Repeat([]byte("x"), 100<<10))
	mj, _ := json.Marshal(Manifest{Format: manifestFormat, Files: []FileEntry{{Path: "natives/a.txt", Bytes: 10, SHA256: strings.Repeat("0", 64)}}})
	w, _ = zw.Create("manifest.json")
	w.Write(mj)
	zw.Close()
	os.WriteFile(p, buf.Bytes(), 0o644)
	rep, err := Verify(p, testVerifier(t), store.WitnessPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.Path == "natives/a.txt" && strings.Contains(p.Reason, "the manifest says 10"))
	}
	if !found {
		t.Errorf("problems = %+v, want natives/a.txt longer than the manifest says", rep.Problems)
	}
}

func TestLoadFileFormats(t *testing.T) {
	rows := []Row{{DocID: "HF000001", Subject: "a þ and ¶\x14 and\r\nlines", Record: 7}, {DocID: "HF000002", ParentDocID: "HF000001"}}
	dat, err := encodeLoadFile(FormatDAT, rows)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseDAT(dat)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[0]) != len(loadColumns) || got[1][0] != "HF000001" || got[2][1] != "HF000001" {
		t.Fatalf("DAT round trip: %q", got)
	}
	if subj := got[1][10]; subj != "a th and ¶  and®lines" {
		t.Errorf("DAT subject = %q", subj)
	}
	if _, err := ParseFormat("xml"); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
}
