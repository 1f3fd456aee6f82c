// Package storetest is the test suite every store backend runs: the
// backend's own contract (create once, never replace, list in order) and the
// whole store on top of it (blobs, records, checkpoints, proofs, verify).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sort"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"golang.org/x/mod/sumdb/note"
)

// NewBackend returns an empty backend for one test.
type NewBackend func(t *testing.T) store.Backend

// RunBackend checks the Backend contract.
func RunBackend(t *testing.T, newBackend NewBackend) {
	ctx := context.Background()
	t.Run("PutOnce", func(t *testing.T) {
		be := newBackend(t)
		if err := be.Put(ctx, "log/a", []byte("first")); err != nil {
			t.Fatalf("Put: %v", err)
		}
		err := be.Put(ctx, "log/a", []byte("second"))
		if !holdfast.Is(holdfast.Exist, err) {
			t.Fatalf("second Put of the same name = %v, want an Exist error", err)
		}
		got := readAll(t, be, "log/a")
		if string(got) != "first" {
			t.Errorf("object after refused overwrite = %q, want %q", got, "first")
		}
	})
	t.Run("PutFile", func(t *testing.T) {
		be := newBackend(t)
		fp, ok := be.(store.FilePutter)
		if !ok {
			t.Skip("the backend stores objects from memory only")
		}
		data := bytes.Repeat([]byte("0123456789"), 100_000)
		f, err := os.CreateTemp(t.TempDir(), "pack")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := fp.PutFile(ctx, "packs/02/f", f, int64(len(data))); err != nil {
			t.Fatalf("PutFile: %v", err)
		}
		if got := readAll(t, be, "packs/02/f"); !bytes.Equal(got, data) {
			t.Errorf("object from PutFile: %d bytes, want the file's %d", len(got), len(data))
		}
		if err := fp.PutFile(ctx, "packs/02/f", f, 10); !holdfast.Is(holdfast.Exist, err) {
			t.Fatalf("second PutFile of the same name = %v, want an Exist error", err)
		}
		if err := be.Put(ctx, "log/p", []byte("first")); err != nil {
			t.Fatal(err)
		}
		if err := fp.PutFile(ctx, "log/p", f, 10); !holdfast.Is(holdfast.Exist, err) {
			t.Fatalf("PutFile over an object made by Put = %v, want an Exist error", err)
		}
		if got := readAll(t, be, "packs/02/f"); !bytes.Equal(got, data) {
			t.Errorf("object after refused overwrite: %d bytes, want %d", len(got), len(data))
		}
		if got := readAll(t, be, "log/p"); string(got) != "first" {
			t.Errorf("object after refused overwrite = %q, want %q", got, "first")
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		be := newBackend(t)
		if _, err := be.Open(ctx, "packs/00/none"); !holdfast.Is(holdfast.NotFound, err) {
			t.Errorf("Open(missing) = %v, want NotFound", err)
		}
		if _, err := be.Size(ctx, "packs/00/none"); !holdfast.Is(holdfast.NotFound, err) {
			t.Errorf("Size(missing) = %v, want NotFound", err)
		}
	})
	t.Run("ReadAtAndSize", func(t *testing.T) {
		be := newBackend(t)
		data := []byte("0123456789abcdef")
		if err := be.Put(ctx, "packs/01/x", data); err != nil {
			t.Fatal(err)
		}
		n, err := be.Size(ctx, "packs/01/x")
		if err != nil || n != int64(len(data)) {
			t.Fatalf("Size = %d, %v; want %d", n, err, len(data))
		}
		p := make([]byte, 4)
		if err := be.ReadAt(ctx, "packs/01/x", p, 10); err != nil || string(p) != "abcd" {
			t.Errorf("ReadAt(10) = %q, %v; want \"abcd\"", p, err)
		}
		if err := be.ReadAt(ctx, "packs/01/x", make([]byte, 8), 12); err == nil {
			t.Error("ReadAt past the end succeeded")
		}
	})
	t.Run("ListInOrder", func(t *testing.T) {
		be := newBackend(t)
		names := []string{"log/b", "log/a", "packs/ff/1", "packs/00/2", "checkpoints/3"}
		for _, n := range names {
			if err := be.Put(ctx, n, []byte(n)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			prefix string
			want   []string
		}{
			{"log/", []string{"log/a", "log/b"}},
			{"packs/", []string{"packs/00/2", "packs/ff/1"}},
			{"nothing/", nil},
		} {
			var got []string
			err := be.List(ctx, tt.prefix, func(name string, size int64) error {
				if size != int64(len(name)) {
					t.Errorf("List(%q): %s has size %d, want %d", tt.prefix, name, size, len(name))
				}
				got = append(got, name)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("List(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		}
	})
}

// Repo is a store under test with what reopening it needs.
type Repo struct {
	Backend store.Backend
	Opts    store.Options
	Config  store.Config
	Signer  note.Signer
}

// NewRepo creates a repository in a fresh backend. localDir holds state.
func NewRepo(t testing.TB, be store.Backend, localDir string, masterKey []byte) *Repo {
	t.Helper()
	signer, cfg, err := store.CreateForTest(context.Background(), be, "acme", masterKey)
	if err != nil {
		t.Fatalf("create repository: %v", err)
	}
	return &Repo{Backend: be, Config: cfg, Signer: signer, Opts: store.Options{LocalDir: localDir, Signer: signer, MasterKey: masterKey}}
}

// Open opens the repository for writing.
func (r *Repo) Open(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), r.Backend, r.Opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// Verifier returns the log's verifier.
func (r *Repo) Verifier(t testing.TB) note.Verifier {
	v, err := note.NewVerifier(r.Config.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// RunStore runs the store's behaviour on a backend. newLocalDir returns a
// directory for derived state.
func RunStore(t *testing.T, newBackend NewBackend, newLocalDir func(t *testing.T) string) {
	ctx := context.Background()
	for _, encrypted := range []bool{false, true} {
		var mk []byte
		name := "plain"
		if encrypted {
			mk = make([]byte, 32)
			rand.Read(mk)
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) {
			t.Run("BlobsRoundTripAndDedup", func(t *testing.T) {
				r := NewRepo(t, newBackend(t), newLocalDir(t), mk)
				s := r.Open(t)
				small := bytes.Repeat([]byte("Dear client, please find the ledger attached. "), 200)
				big := make([]byte, store.ChunkSize*2+12345)
				rand.Read(big)
				ref1, err := s.PutBytes(ctx, small)
				if err != nil {
					t.Fatal(err)
				}
				ref2, err := s.PutBytes(ctx, small)
				if err != nil {
					t.Fatal(err)
				}
				if ref1.SHA256 != sha256.Sum256(small) || ref1.SHA256 != ref2.SHA256 {
					t.Fatalf("ref of small content = %x, want its SHA-256", ref1.SHA256)
				}
				bigRef, err := s.PutBlob(ctx, bytes.NewReader(big))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := len(bigRef.Chunks), 3; got != want {
					t.Errorf("big content chunks = %d, want %d", got, want)
				}
				if _, err := s.Append(ctx, record.TypeItemVersion, map[string]string{"item": "a"}, ref1, bigRef); err != nil {
					t.Fatal(err)
				}
				// Readable before and after it is durable.
				var buf bytes.Buffer
				if err := s.ReadContent(ctx, ref1, &buf); err != nil || !bytes.Equal(buf.Bytes(), small) {
					t.Fatalf("ReadContent before flush: %v", err)
				}
				if err := s.Close(ctx); err != nil {
					t.Fatal(err)
				}
				s = r.Open(t)
				defer s.Close(ctx)
				for _, c := range []struct {
					ref  store.Ref
					want []byte
				}{{ref1, small}, {bigRef, big}} {
					buf.Reset()
					if err := s.ReadContent(ctx, c.ref, &buf); err != nil {
						t.Fatalf("ReadContent after reopen: %v", err)
					}
					if !bytes.Equal(buf.Bytes(), c.want) {
						t.Errorf("content %s read back differs", c.ref.SHA256.Short())
					}
				}
				var packs int
				r.Backend.List(ctx, "packs/", func(string, int64) error { packs++; return nil })
				if packs != 1 {
					t.Errorf("packs = %d, want 1 (duplicate content stored once)", packs)
				}
			})
			t.Run("RefToMissingBlobRefused", func(t *testing.T) {
				r := NewRepo(t, newBackend(t), newLocalDir(t), mk)
				s := r.Open(t)
				defer s.Close(ctx)
				_, err := s.Append(ctx, record.TypeItemVersion, nil, store.Ref{SHA256: sha256.Sum256([]byte("x")), Size: 1})
				if !holdfast.Is(holdfast.Invalid, err) {
					t.Errorf("Append with a dangling ref = %v, want Invalid", err)
				}
			})
			t.Run("RecordsCheckpointsProofs", func(t *testing.T) {
				r := NewRepo(t, newBackend(t), newLocalDir(t), mk)
				s := r.Open(t)
				var sizes []uint64
				want := map[uint64]string{}
				for round := 0; round < 3; round++ {
					for i := 0; i < 50; i++ {
						ref, err := s.PutBytes(ctx, []byte(fmt.Sprintf("message %d/%d", round, i)))
						if err != nil {
							t.Fatal(err)
						}
						idx, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"round": round, "i": i}, ref)
						if err != nil {
							t.Fatal(err)
						}
						want[idx] = fmt.Sprintf(`{"i":%d,"round":%d}`, i, round)
					}
					c, issued, err := s.Checkpoint(ctx)
					if err != nil || !issued {
						t.Fatalf("Checkpoint = %v, %v", issued, err)
					}
					sizes = append(sizes, c.Size)
				}
				if _, issued, err := s.Checkpoint(ctx); err != nil || issued {
					t.Errorf("Checkpoint with nothing new: issued=%v err=%v, want no new checkpoint", issued, err)
				}
				s.Close(ctx)
				s = r.Open(t)
				defer s.Close(ctx)
				for idx, data := range want {
					rec, _, err := s.Record(ctx, idx)
					if err != nil {
						t.Fatal(err)
					}
					if string(rec.Data) != data {
						t.Errorf("record %d data = %s, want %s", idx, rec.Data, data)
					}
				}
				got, err := s.CheckpointSizes(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(sizes) {
					t.Errorf("checkpoint sizes = %v, want %v", got, sizes)
				}
				v := r.Verifier(t)
				for _, idx := range []uint64{0, 1, 17, sizes[0] - 1, sizes[2] - 1} {
					b, err := s.InclusionBundle(ctx, idx, 0)
					if err != nil {
						t.Fatalf("InclusionBundle(%d): %v", idx, err)
					}
					res, err := store.VerifyBundle(b, v)
					if err != nil || res.Index != idx {
						t.Errorf("VerifyBundle(record %d) = %+v, %v", idx, res, err)
					}
					// A proof for one record does not prove another.
					b.Index = idx + 1
					if _, err := store.VerifyBundle(b, v); !holdfast.Is(holdfast.Integrity, err) {
						t.Errorf("bundle with a wrong index verified: %v", err)
					}
				}
				cb, err := s.ConsistencyBundle(ctx, sizes[0], sizes[2])
				if err != nil {
					t.Fatal(err)
				}
				if _, err := store.VerifyBundle(cb, v); err != nil {
					t.Errorf("consistency bundle does not verify: %v", err)
				}
				cb.Proof[0][0] ^= 1
				if _, err := store.VerifyBundle(cb, v); !holdfast.Is(holdfast.Integrity, err) {
					t.Errorf("altered consistency proof = %v, want Integrity", err)
				}
				rep, err := s.Verify(ctx, store.VerifyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !rep.OK {
					t.Errorf("Verify of a sound store failed: %v", rep.Failures)
				}
				if rep.Records != s.Size() || rep.Checkpoints != 3 || rep.Blobs < 150 {
					t.Errorf("Verify counted records=%d checkpoints=%d blobs=%d; want %d, 3, >=150", rep.Records, rep.Checkpoints, rep.Blobs, s.Size())
				}
			})
			t.Run("CloseLeavesNothingUnsigned", func(t *testing.T) {
				r := NewRepo(t, newBackend(t), newLocalDir(t), mk)
				s := r.Open(t)
				for i := 0; i < 3; i++ {
					if _, err := s.Append(ctx, record.TypeAudit, map[string]int{"n": i}); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Close(ctx); err != nil {
					t.Fatal(err)
				}
				s = r.Open(t)
				defer s.Close(ctx)
				c, err := s.LatestCheckpoint(ctx)
				if err != nil || c.Size != s.Size() {
					t.Errorf("after a writer closed: newest checkpoint %d (%v), log size %d: want every record signed", c.Size, err, s.Size())
				}
				if err := s.Close(ctx); err != nil {
					t.Fatal(err)
				}
				s = r.Open(t)
				if got, _ := s.LatestCheckpoint(ctx); got.Size != c.Size || s.Size() != c.Size {
					t.Errorf("closing a writer that wrote nothing: log %d, checkpoint %d, want both %d", s.Size(), got.Size, c.Size)
				}
			})
			t.Run("RecordsListInOrder", func(t *testing.T) {
				r := NewRepo(t, newBackend(t), newLocalDir(t), mk)
				s := r.Open(t)
				defer s.Close(ctx)
				for i := 0; i < 10; i++ {
					s.Append(ctx, record.TypeAudit, map[string]int{"n": i})
					if i%3 == 0 {
						if err := s.Flush(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
				s.Flush(ctx)
				var idx []uint64
				s.Records(ctx, 0, func(raw []byte, rec store.Record) error {
					idx = append(idx, rec.Index)
					return nil
				})
				if !sort.SliceIsSorted(idx, func(i, j int) bool { return idx[i] < idx[j] }) || uint64(len(idx)) != s.Size() {
					t.Errorf("Records visited %v, want 0..%d in order", idx, s.Size()-1)
				}
			})
		})
	}
}

func readAll(t *testing.T, be store.Backend, name string) []byte {
	t.Helper()
	rc, err := be.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Tenant opens a new, empty tenant repository named name for one test or
// benchmark; it is closed when the test ends.
func Tenant(tb testing.TB, name string) *store.Store {
	tb.Helper()
	ctx := context.Background()
	d := store.DataDir{Dir: tb.TempDir()}
	if _, err := d.Init(); err != nil {
		tb.Fatal(err)
	}
	if _, err := d.AddTenant(ctx, name, store.AddTenantOptions{}); err != nil {
		tb.Fatal(err)
	}
	s, err := d.OpenTenant(ctx, name, store.OpenTenantOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close(ctx) })
	return s
}

// AppendMail appends n mail-like items of about 10 KB (synth's, from
// seed) as item versions, signs a checkpoint over them, and returns the
// bytes of content put: the repository the store's benchmarks measure.
func AppendMail(tb testing.TB, s *store.Store, seed uint64, n int) int64 {
	tb.Helper()
	ctx := context.Background()
	var total int64
	for i := 0; i < n; i++ {
		msg := synth.Message(seed, i, 10000)
		total += int64(len(msg))
		ref, err := s.PutBytes(ctx, msg)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, synth.Meta(seed, i), ref); err != nil {
			tb.Fatal(err)
		}
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		tb.Fatal(err)
	}
	return total
}
