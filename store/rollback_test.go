package store_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// rollBack removes the newest n log batches and every checkpoint beyond
// what is left, as someone hiding the newest records would, and returns
// the size of the log that is left.
func rollBack(t *testing.T, tdir string, n int) uint64 {
	t.Helper()
	logs := listFiles(t, tdir, "log")
	for _, l := range logs[len(logs)-n:] {
		if err := os.Remove(filepath.Join(tdir, l)); err != nil {
			t.Fatal(err)
		}
	}
	// A batch is named by its first record: the log left ends before
	// the first one removed.
	size, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(logs[len(logs)-n]), ".jsonl"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range listFiles(t, tdir, "checkpoints") {
		if cs, _ := strconv.ParseUint(filepath.Base(c), 10, 64); cs > size {
			os.Remove(filepath.Join(tdir, c))
		}
	}
	return size
}

func TestRollbackIsRefused(t *testing.T) {
	ctx := context.Background()
	template := t.TempDir()
	buildTamperRepo(t, template)
	full := openRO(t, template).Size()

	tests := []struct {
		name   string
		damage func(t *testing.T, data string)
	}{
		{"newest batches and checkpoints removed", func(t *testing.T, data string) {
			rollBack(t, filepath.Join(data, "tenants", "acme"), 3)
		}},
		{"newest batches removed and the cached tree too", func(t *testing.T, data string) {
			tdir := filepath.Join(data, "tenants", "acme")
			rollBack(t, tdir, 3)
			os.RemoveAll(filepath.Join(tdir, "state"))
		}},
		{"newest batches removed and the high-water mark too", func(t *testing.T, data string) {
			rollBack(t, filepath.Join(data, "tenants", "acme"), 3)
			os.RemoveAll(filepath.Join(data, "keys", "seen"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			copyDir(t, template, data)
			tdir := filepath.Join(data, "tenants", "acme")
			cacheBefore, _ := os.ReadFile(filepath.Join(tdir, "state", "tree.json"))
			tt.damage(t, data)
			d := store.DataDir{Dir: data}
			s, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
			if err != nil {
				t.Fatalf("open: %v (verify must still be able to run)", err)
			}
			left := s.Size()
			wantMsg := "records " + itoa(left) + "–" + itoa(full-1) + " are missing"
			if !strings.Contains(s.Damaged(), wantMsg) {
				t.Errorf("Damaged() = %q, want it to say %q", s.Damaged(), wantMsg)
			}
			if _, err := s.Append(ctx, record.TypeAudit, map[string]string{"x": "y"}); !holdfast.Is(holdfast.Integrity, err) {
				t.Errorf("Append on a rolled-back log: err = %v, want an Integrity error", err)
			}
			if _, _, err := s.Checkpoint(ctx); !holdfast.Is(holdfast.Integrity, err) {
				t.Errorf("Checkpoint on a rolled-back log: err = %v, want an Integrity error", err)
			}
			rep, err := s.Verify(ctx, store.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || !failuresSay(rep, wantMsg) {
				t.Errorf("Verify: ok=%v, failures %v; want one saying %q", rep.OK, rep.Failures, wantMsg)
			}
			s.Close(ctx)
			if after, _ := os.ReadFile(filepath.Join(tdir, "state", "tree.json")); len(cacheBefore) > 0 && len(after) > 0 && string(after) != string(cacheBefore) {
				t.Error("the cached tree of the longer log was replaced")
			}
		})
	}
}

// newAcme initialises a data directory with an empty tenant acme.
func newAcme(t *testing.T) store.DataDir {
	t.Helper()
	d := store.DataDir{Dir: t.TempDir()}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(context.Background(), "acme", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOldCopyOfTheTenantFolderIsRefused(t *testing.T) {
	ctx := context.Background()
	d := newAcme(t)
	tdir := d.TenantDir("acme")
	snapshot := t.TempDir()
	copyDir(t, tdir, snapshot) // an old disk snapshot of the folder
	s, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		s.Append(ctx, record.TypeAudit, map[string]int{"i": i})
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	os.RemoveAll(tdir)
	os.MkdirAll(tdir, 0o700)
	copyDir(t, snapshot, tdir)

	s, err = d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if !strings.Contains(s.Damaged(), "records 2–7 are missing") {
		t.Errorf("Damaged() = %q, want records 2–7 missing", s.Damaged())
	}
	if _, err := s.Append(ctx, record.TypeAudit, nil); !holdfast.Is(holdfast.Integrity, err) {
		t.Errorf("Append: %v, want an Integrity error", err)
	}
}

func TestHeldCheckpointsCatchRollbackAndFork(t *testing.T) {
	ctx := context.Background()
	template := t.TempDir()
	buildTamperRepo(t, template)
	s := openRO(t, template)
	c, err := s.LatestCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifierFromCheckpoint(t, template)
	held, _, err := store.ParseHeldCheckpoints(c.Note, v, "auditor.ckpt")
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := s.Verify(ctx, store.VerifyOptions{Held: held}); !rep.OK || rep.Held != 1 {
		t.Fatalf("sound log against its own checkpoint: ok=%v held=%d %v", rep.OK, rep.Held, rep.Failures)
	}
	// A proof bundle carries its checkpoint too.
	b, err := s.InclusionBundle(ctx, 3, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	bj, _ := json.Marshal(b)
	if got, _, err := store.ParseHeldCheckpoints(bj, v, "r3.json"); err != nil || len(got) != 1 || got[0].Size != c.Size {
		t.Fatalf("ParseHeldCheckpoints(bundle) = %v, %v", got, err)
	}

	// Whoever controls the machine removes every local trace of the longer
	// log: only the checkpoint held elsewhere can tell.
	data := t.TempDir()
	copyDir(t, template, data)
	tdir := filepath.Join(data, "tenants", "acme")
	left := rollBack(t, tdir, 3)
	os.RemoveAll(filepath.Join(tdir, "state"))
	os.RemoveAll(filepath.Join(data, "keys", "seen"))
	w, err := store.DataDir{Dir: data}.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Damaged() != "" {
		t.Fatalf("with every local trace gone the rollback cannot be seen locally, yet: %s", w.Damaged())
	}
	rep, _ := w.Verify(ctx, store.VerifyOptions{Held: held})
	want := "records " + itoa(left) + "–" + itoa(c.Size-1) + " are missing"
	if rep.OK || !failuresSay(rep, want) || !failuresSay(rep, "auditor.ckpt") {
		t.Errorf("rolled back: ok=%v %v; want a failure naming auditor.ckpt and %q", rep.OK, rep.Failures, want)
	}
	// The log grows again past the held size: a fork.
	for w.Size() <= c.Size {
		if _, err := w.Append(ctx, record.TypeAudit, map[string]string{"rewritten": "history"}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rep, _ = w.Verify(ctx, store.VerifyOptions{Held: held})
	if rep.OK || !failuresSay(rep, "a fork") {
		t.Errorf("forked: ok=%v %v; want a failure saying the log was rewritten", rep.OK, rep.Failures)
	}
	w.Close(ctx)

	// A checkpoint of another log is named as such.
	other := t.TempDir()
	buildTamperRepo(t, other)
	oc, _ := openRO(t, other).LatestCheckpoint(ctx)
	if _, _, err := store.ParseHeldCheckpoints(oc.Note, v, "other.ckpt"); err == nil {
		t.Error("a checkpoint signed by another key was accepted")
	}
}

func TestDamageRefusesWritesAtOpen(t *testing.T) {
	ctx := context.Background()
	template := t.TempDir()
	buildTamperRepo(t, template)
	tdir := filepath.Join(template, "tenants", "acme")
	packs := listFiles(t, tdir, "packs")
	logs := listFiles(t, tdir, "log")
	tests := []struct {
		name, want string
		damage     func(t *testing.T, dir string)
	}{
		{"a pack deleted", packs[1] + ", named by the log, missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, packs[1]))
		}},
		{"a batch the cached tree covers cut at a record boundary", logs[2] + " is ", func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, logs[2]), func(b []byte) []byte {
				i := strings.IndexByte(string(b), '\n')
				return b[:i+1]
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			copyDir(t, template, data)
			tt.damage(t, filepath.Join(data, "tenants", "acme"))
			s, err := store.DataDir{Dir: data}.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			if !strings.Contains(s.Damaged(), tt.want) {
				t.Errorf("Damaged() = %q, want it to name %q", s.Damaged(), tt.want)
			}
			if _, err := s.Append(ctx, record.TypeAudit, nil); !holdfast.Is(holdfast.Integrity, err) {
				t.Errorf("Append: %v, want an Integrity error", err)
			}
			if _, err := s.PutBytes(ctx, []byte("new content")); !holdfast.Is(holdfast.Integrity, err) {
				t.Errorf("PutBytes: %v, want an Integrity error", err)
			}
		})
	}
}

func TestVerifySubsetReadsAtLeastOnePack(t *testing.T) {
	ctx := context.Background()
	template := t.TempDir()
	buildTamperRepo(t, template)
	rep, err := openRO(t, template).Verify(ctx, store.VerifyOptions{ReadDataPercent: 0.0001})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PacksRead < 1 || rep.Bytes == 0 {
		t.Errorf("a 0.0001%% subset read %d packs, %d bytes; want at least one pack", rep.PacksRead, rep.Bytes)
	}
}

func openRO(t *testing.T, data string) *store.Store {
	t.Helper()
	s, err := store.DataDir{Dir: data}.OpenTenant(context.Background(), "acme", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func failuresSay(rep *store.VerifyReport, s string) bool {
	for _, f := range rep.Failures {
		if strings.Contains(f.String(), s) {
			return true
		}
	}
	return false
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
