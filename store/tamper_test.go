package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"golang.org/x/mod/sumdb/note"
)

// buildTamperRepo makes a repository with several packs, log batches and
// checkpoints in dir and returns it.
func buildTamperRepo(t *testing.T, dir string) store.DataDir {
	t.Helper()
	ctx := context.Background()
	d := store.DataDir{Dir: dir}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(ctx, "acme", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 6<<20)
	for round := 0; round < 4; round++ {
		for i := 0; i < 40; i++ {
			ref, err := s.PutBytes(ctx, synth.Message(uint64(round), i, 5000))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, record.TypeItemVersion, map[string]int{"round": round, "i": i}, ref); err != nil {
				t.Fatal(err)
			}
			if i%10 == 9 {
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Incompressible content fills packs quickly.
		rand.Read(big)
		ref, err := s.PutBytes(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]int{"round": round, "file": 1}, ref); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func listFiles(t *testing.T, dir, sub string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, sub), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

func rewrite(t *testing.T, p string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	out := f(bytes.Clone(b))
	if bytes.Equal(out, b) {
		t.Fatalf("damage left %s unchanged", p)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	template := t.TempDir()
	buildTamperRepo(t, template)
	tdir := filepath.Join(template, "tenants", "acme")
	packs := listFiles(t, tdir, "packs")
	logs := listFiles(t, tdir, "log")
	ckpts := listFiles(t, tdir, "checkpoints")
	if len(packs) < 3 || len(logs) < 6 || len(ckpts) < 4 {
		t.Fatalf("template has %d packs, %d batches, %d checkpoints; want at least 3, 6, 4", len(packs), len(logs), len(ckpts))
	}
	// A batch in the middle that holds item records.
	midLog := ""
	for _, l := range logs[len(logs)/2:] {
		if b, _ := os.ReadFile(filepath.Join(tdir, l)); bytes.Contains(b, []byte(`"i":`)) {
			midLog = l
			break
		}
	}
	if midLog == "" {
		t.Fatal("no batch with item records in the second half of the log")
	}
	otherKey, _, _ := note.GenerateKey(rand.Reader, "mallory")

	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) // dir is the tenant directory
		object string                         // a failure must name this
	}{
		{"flip a byte in a pack", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, packs[0]), func(b []byte) []byte { b[len(b)/3] ^= 0x01; return b })
		}, packs[0]},
		{"flip a byte in a pack header", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, packs[1]), func(b []byte) []byte { b[len(b)-20] ^= 0x80; return b })
		}, packs[1]},
		{"delete a pack", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, packs[1]))
		}, packs[1]},
		{"truncate the log", func(t *testing.T, dir string) {
			last := logs[len(logs)-1]
			rewrite(t, filepath.Join(dir, last), func(b []byte) []byte { return b[:len(b)/2] })
		}, logs[len(logs)-1]},
		{"truncate a batch at a record boundary", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, midLog), func(b []byte) []byte {
				i := bytes.IndexByte(b, '\n')
				return b[:i+1]
			})
		}, midLog},
		{"delete a log batch", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, midLog))
		}, "records"},
		{"edit a record, keeping it canonical", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, midLog), func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"i":`), []byte(`"i":1`), 1)
			})
		}, midLog},
		{"edit a record's layout", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, midLog), func(b []byte) []byte {
				return bytes.Replace(b, []byte(`{"data"`), []byte(`{ "data"`), 1)
			})
		}, midLog},
		{"replace a checkpoint with garbage", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, ckpts[1]), func(b []byte) []byte { return []byte("not a checkpoint\n") })
		}, ckpts[1]},
		{"replace a checkpoint with one signed by another key", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, ckpts[2]), func(b []byte) []byte {
				n, err := note.Open(b, note.VerifierList(mustVerifierFromCheckpoint(t, template)))
				if err != nil {
					t.Fatal(err)
				}
				signer, _ := note.NewSigner(otherKey)
				out, _ := note.Sign(&note.Note{Text: n.Text}, signer)
				return out
			})
		}, ckpts[2]},
		{"alter a checkpoint's root", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, ckpts[2]), func(b []byte) []byte {
				lines := strings.SplitN(string(b), "\n", 4)
				r := []byte(lines[2])
				if r[0] == 'A' {
					r[0] = 'B'
				} else {
					r[0] = 'A'
				}
				lines[2] = string(r)
				return []byte(strings.Join(lines, "\n"))
			})
		}, ckpts[2]},
		{"delete a checkpoint", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ckpts[1]))
		}, ckpts[1]},
		{"delete the newest checkpoint", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ckpts[len(ckpts)-1]))
		}, ckpts[len(ckpts)-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			copyDir(t, template, data)
			tt.damage(t, filepath.Join(data, "tenants", "acme"))
			s, err := store.DataDir{Dir: data}.OpenTenant(ctx, "acme", store.OpenTenantOptions{ReadOnly: true})
			if err != nil {
				t.Fatalf("open a damaged repository: %v (verify must still be able to run)", err)
			}
			rep, err := s.Verify(ctx, store.VerifyOptions{})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK {
				t.Fatalf("Verify passed after: %s", tt.name)
			}
			named := false
			for _, f := range rep.Failures {
				if strings.Contains(f.Object, tt.object) || strings.Contains(f.Problem, tt.object) {
					named = true
				}
			}
			if !named {
				t.Errorf("no failure names %s; got:\n%v", tt.object, rep.Failures)
			}
		})
	}
	// And the untouched template verifies.
	s, err := store.DataDir{Dir: template}.OpenTenant(ctx, "acme", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(ctx, store.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("untouched repository: %v %v", err, rep.Failures)
	}
}

func mustVerifierFromCheckpoint(t *testing.T, dataDir string) note.Verifier {
	vkey, err := store.DataDir{Dir: dataDir}.LogKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
