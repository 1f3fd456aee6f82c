package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// failOnce is the local backend whose first PutFile fails: before storing
// anything, or after the object is durably in place (a lost answer).
type failOnce struct {
	*store.Local
	afterStore bool
	failed     bool
}

func (b *failOnce) PutFile(ctx context.Context, name string, f *os.File, size int64) error {
	if b.failed {
		return b.Local.PutFile(ctx, name, f, size)
	}
	b.failed = true
	if b.afterStore {
		if err := b.Local.PutFile(ctx, name, f, size); err != nil {
			return err
		}
	}
	return holdfast.Errorf("test put", holdfast.IO, "the disk went away")
}

// tempPacks lists the open packs' temporary files in dir.
func tempPacks(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".tmp-pack-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A pack whose store fails stays open with its blobs pending and readable;
// the next flush stores it whole — also when the failed attempt had in
// fact linked the file into place — and the repository verifies.
func TestPackStoreFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	for _, afterStore := range []bool{false, true} {
		name := "refused"
		if afterStore {
			name = "stored but answered an error"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			be := &failOnce{Local: store.NewLocal(dir), afterStore: afterStore}
			r := storetest.NewRepo(t, be, dir, nil)
			s := r.Open(t)
			defer s.Close(ctx)
			contents := [][]byte{bytes.Repeat([]byte("a"), 100<<10), []byte("small"), bytes.Repeat([]byte("xyz"), 1<<20)}
			var refs []store.Ref
			for _, c := range contents {
				ref, err := s.PutBytes(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				refs = append(refs, ref)
				if _, err := s.Append(ctx, "test.item", map[string]int{"n": len(c)}, ref); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(tempPacks(t, dir)); got != 1 {
				t.Fatalf("temporary pack files before the flush = %d, want 1", got)
			}
			if err := s.Flush(ctx); err == nil || !strings.Contains(err.Error(), "the disk went away") {
				t.Fatalf("first Flush = %v, want the backend's error", err)
			}
			for i, ref := range refs {
				var out bytes.Buffer
				if err := s.ReadContent(ctx, ref, &out); err != nil || !bytes.Equal(out.Bytes(), contents[i]) {
					t.Fatalf("content %d after the failed flush: %v (%d bytes, want %d)", i, err, out.Len(), len(contents[i]))
				}
			}
			// A blob more before the retry: the pack stored next is not
			// the one that failed, and the one that failed must not change.
			contents = append(contents, []byte("after the failure"))
			ref, err := s.PutBytes(ctx, contents[3])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, "test.item", map[string]int{"n": 17}, ref); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatalf("second Flush: %v", err)
			}
			if got := tempPacks(t, dir); len(got) != 0 {
				t.Errorf("temporary pack files after the flush: %v, want none", got)
			}
			if _, _, err := s.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			rep, err := s.Verify(ctx, store.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The pack the lost answer stored stays, whole, beside the one
			// the log names.
			wantPacks, wantBlobs := 1, len(contents)
			if afterStore {
				wantPacks, wantBlobs = 2, 2*len(contents)-1
			}
			if !rep.OK || rep.Packs != wantPacks || rep.Blobs != wantBlobs {
				t.Errorf("verify: ok %v, %d packs, %d blobs, failures %v; want ok, %d packs, %d blobs", rep.OK, rep.Packs, rep.Blobs, rep.Failures, wantPacks, wantBlobs)
			}
		})
	}
}

// An open pack a writer left behind (killed before it stored it) holds
// nothing acknowledged: the next writer removes it and says so, and a
// pack never goes through memory whole.
func TestTempPackLeftBehindIsRemoved(t *testing.T) {
	ctx := context.Background()
	for _, sameDir := range []bool{true, false} {
		name := "local state in the repository"
		if !sameDir {
			name = "local state elsewhere"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			localDir := dir
			if !sameDir {
				localDir = t.TempDir()
			}
			r := storetest.NewRepo(t, store.NewLocal(dir), localDir, nil)
			stale := filepath.Join(localDir, ".tmp-pack-12345")
			if err := os.WriteFile(stale, []byte("half a pack"), 0o600); err != nil {
				t.Fatal(err)
			}
			s := r.Open(t)
			if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stale open pack still there after Open: %v", err)
			}
			if notes := strings.Join(s.Notes(), "\n"); !strings.Contains(notes, "removed 1 incomplete file") {
				t.Errorf("notes = %q, want one incomplete file removed", notes)
			}
			if _, err := s.PutBytes(ctx, []byte("kept")); err != nil {
				t.Fatal(err)
			}
			if got := len(tempPacks(t, localDir)); got != 1 {
				t.Errorf("open pack files in the local directory = %d, want 1", got)
			}
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got := tempPacks(t, localDir); len(got) != 0 {
				t.Errorf("open pack files after Close: %v, want none", got)
			}
		})
	}
}
