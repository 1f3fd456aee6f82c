package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// Two writers of one repository from two machines (two local
// directories, one backend): the one that appends second at the same
// place finds the batch's name taken, is fenced off, and writes nothing
// more; the log stays one and verifies, and the fenced writer, reopened,
// goes on from the log as it is.
func TestSecondWriterIsFencedOff(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	be := store.NewLocal(root)
	r := storetest.NewRepo(t, be, root, nil)
	a := r.Open(t)
	defer a.Close(ctx)
	if _, err := a.Append(ctx, "test.item", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The second machine: its own local state, the same backend.
	ro := r.Opts
	ro.LocalDir = t.TempDir()
	b, err := store.Open(ctx, be, ro)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if got, want := b.Size(), a.Size(); got != want {
		t.Fatalf("second writer sees %d records, want %d", got, want)
	}
	// Both append at the same place; a flushes first.
	for i, s := range []*store.Store{a, b} {
		for j := 0; j < 3+i; j++ {
			if _, err := s.Append(ctx, "test.item", map[string]string{"by": fmt.Sprint("writer ", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("first writer's flush: %v", err)
	}
	err = b.Flush(ctx)
	if !holdfast.Is(holdfast.Locked, err) || !strings.Contains(err.Error(), "another writer appended record") {
		t.Fatalf("second writer's flush = %v, want a Locked error naming the other writer", err)
	}
	if _, err := b.Append(ctx, "test.item", nil); !holdfast.Is(holdfast.Locked, err) {
		t.Errorf("append after being fenced off = %v, want Locked", err)
	}
	if _, _, err := b.Checkpoint(ctx); !holdfast.Is(holdfast.Locked, err) {
		t.Errorf("checkpoint after being fenced off = %v, want Locked", err)
	}
	if _, _, err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Verify(ctx, store.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Records != a.Size() {
		t.Fatalf("verify: ok %v, %d records (writer holds %d), failures %v", rep.OK, rep.Records, a.Size(), rep.Failures)
	}
	// Reopened, the fenced writer goes on from the log as it is.
	b.Close(ctx)
	b, err = store.Open(ctx, be, ro)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Size(), a.Size(); got != want {
		t.Fatalf("reopened second writer sees %d records, want %d", got, want)
	}
}

// A Fence that says stop refuses every write before it reaches the
// backend: nothing is written once the writer's lease may lapse.
func TestFenceStopsWrites(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	r := storetest.NewRepo(t, store.NewLocal(root), root, nil)
	var stop error
	r.Opts.Fence = func() error { return stop }
	s := r.Open(t)
	defer s.Close(ctx)
	ref, err := s.PutBytes(ctx, []byte("content"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "test.item", nil, ref); err != nil {
		t.Fatal(err)
	}
	before := files(t, root)
	stop = errors.New("the lease on the tenant lapses in 2s and could not be renewed")
	if err := s.Flush(ctx); !holdfast.Is(holdfast.Locked, err) || !strings.Contains(err.Error(), "could not be renewed") {
		t.Fatalf("Flush with the fence shut = %v, want Locked with the fence's reason", err)
	}
	if _, _, err := s.Checkpoint(ctx); !holdfast.Is(holdfast.Locked, err) {
		t.Errorf("Checkpoint with the fence shut = %v, want Locked", err)
	}
	if after := files(t, root); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("objects written with the fence shut: before %v, after %v", before, after)
	}
}

// files lists the repository's objects (not local state, not temporary
// files).
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"log", "packs", "checkpoints"} {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, strings.TrimPrefix(p, root))
			}
			return nil
		})
	}
	return out
}

// Repositories written before batches were named by their first record
// alone (first-last names) open, verify and take new batches beside the
// old ones; a batch cut short in the middle is still found by verify,
// from the next batch's first record.
func TestBatchNamesOfBothForms(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	r := storetest.NewRepo(t, store.NewLocal(root), root, nil)
	s := r.Open(t)
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			if _, err := s.Append(ctx, "test.item", map[string]int{"batch": i, "n": j}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	size := s.Size()
	s.Close(ctx)
	// As an older Holdfast named them: first-last.
	logs, _ := filepath.Glob(filepath.Join(root, "log", "*.jsonl"))
	for i, l := range logs {
		var first, next uint64
		fmt.Sscanf(filepath.Base(l), "%d.jsonl", &first)
		next = size
		if i+1 < len(logs) {
			fmt.Sscanf(filepath.Base(logs[i+1]), "%d.jsonl", &next)
		}
		if err := os.Rename(l, filepath.Join(root, "log", fmt.Sprintf("%020d-%020d.jsonl", first, next-1))); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(root, "state", "tree.json"))
	s = r.Open(t)
	if got := s.Size(); got != size {
		t.Fatalf("old-named log: %d records, want %d", got, size)
	}
	if _, err := s.Append(ctx, "test.item", map[string]string{"after": "rename"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx, store.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != size+2 {
		t.Fatalf("verify of a log of both forms: %v, ok %v, %d records (want %d), %v", err, rep.OK, rep.Records, size+2, rep.Failures)
	}
	s.Close(ctx)

	// A new-form batch in the middle loses its last record.
	for j := 0; j < 2; j++ {
		s = r.Open(t)
		if _, err := s.Append(ctx, "test.item", map[string]int{"more": j}); err != nil {
			t.Fatal(err)
		}
		s.Close(ctx)
	}
	logs, _ = filepath.Glob(filepath.Join(root, "log", "*.jsonl"))
	mid := logs[len(logs)-2]
	if strings.Contains(filepath.Base(mid), "-") {
		t.Fatalf("batch %s is not of the new form", mid)
	}
	b, _ := os.ReadFile(mid)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	os.Chmod(mid, 0o644)
	if err := os.WriteFile(mid, []byte(strings.Join(lines[:len(lines)-1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, r.Backend, store.Options{LocalDir: t.TempDir(), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = s.Verify(ctx, store.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || !strings.Contains(fmt.Sprint(rep.Failures), "the next batch's first record says") {
		t.Errorf("verify of a cut batch: ok %v, failures %v; want it named, from the next batch's first record", rep.OK, rep.Failures)
	}
}
