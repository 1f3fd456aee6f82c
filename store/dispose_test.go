package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// disposalRepo is a tenant of 240 messages in 6 packs, message 3's content
// shared with message 230's (a copy: stored once), and the versions a
// disposal takes: every third of the first 180.
type disposalRepo struct {
	d       store.DataDir
	refs    map[uint64]store.Ref // version record → content
	msg     map[uint64]int       // version record → message number
	dispose map[uint64]bool
	shared  uint64 // message 3's record
}

func newDisposalRepo(t *testing.T) *disposalRepo {
	t.Helper()
	ctx := context.Background()
	r := &disposalRepo{d: store.DataDir{Dir: t.TempDir()}, refs: map[uint64]store.Ref{}, msg: map[uint64]int{}, dispose: map[uint64]bool{}}
	if _, err := r.d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.AddTenant(ctx, "acme", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	s := r.open(t)
	defer s.Close(ctx)
	for i := 0; i < 240; i++ {
		msg := synth.Message(7, i, 5000)
		if i == 230 {
			msg = synth.Message(7, 3, 5000)
		}
		ref, err := s.PutBytes(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := s.Append(ctx, record.TypeItemVersion, synth.Meta(7, i), ref)
		if err != nil {
			t.Fatal(err)
		}
		r.refs[idx], r.msg[idx] = ref, i
		if i == 3 {
			r.shared = idx
		}
		if i < 180 && i%3 == 0 {
			r.dispose[idx] = true
		}
		if i%40 == 39 {
			if err := s.Flush(ctx); err != nil { // a pack per 40 messages
				t.Fatal(err)
			}
		}
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *disposalRepo) open(t *testing.T) *store.Store {
	t.Helper()
	s, err := r.d.OpenTenant(context.Background(), "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// execute appends the disposal.executed record of the repo's versions.
func (r *disposalRepo) execute(t *testing.T, s *store.Store) record.DisposalExecuted {
	t.Helper()
	blobs, packs, err := s.DisposalContent(context.Background(), r.dispose)
	if err != nil {
		t.Fatal(err)
	}
	rec := record.DisposalExecuted{Proposal: 1, Approval: 2, Blobs: blobs, Packs: packs, Actor: "test"}
	for idx := range r.dispose {
		rec.Versions = append(rec.Versions, record.DisposalVersion{Record: idx, Rule: "test", SHA256: []record.ID{r.refs[idx].SHA256}})
	}
	if _, err := s.Dispose(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// check asserts what a disposal leaves: disposed content refused naming
// its record, everything else whole, and a store that verifies.
func (r *disposalRepo) check(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	for idx, ref := range r.refs {
		var buf bytes.Buffer
		err := s.ReadContent(ctx, ref, &buf)
		switch {
		case r.dispose[idx] && idx != r.shared: // message 3 shares its content with message 230
			if !holdfast.Is(holdfast.NotFound, err) || !strings.Contains(err.Error(), "disposed of") {
				t.Errorf("record %d, disposed of: read gives %v, want an error saying it was disposed of", idx, err)
			}
		case err != nil:
			t.Errorf("record %d, kept: %v", idx, err)
		}
	}
	rep, err := s.Verify(ctx, store.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify after disposal: %+v", rep.Failures)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), fmt.Sprintf("%d item versions disposed of", len(r.dispose))) {
		t.Errorf("verify notes %q, want the disposal counted", rep.Notes)
	}
}

func packFiles(t *testing.T, d store.DataDir) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(filepath.Join(d.Dir, "tenants", "acme", "packs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out[filepath.Base(p)] = true
		}
		return nil
	})
	return out
}

func TestDisposalRemovesContentAndVerifies(t *testing.T) {
	ctx := context.Background()
	r := newDisposalRepo(t)
	before := packFiles(t, r.d)
	s := r.open(t)
	rec := r.execute(t, s)
	if got, want := len(rec.Blobs), len(r.dispose)-1; got != want {
		t.Errorf("%d blobs go, want %d (the shared one stays)", got, want)
	}
	if len(rec.Packs) != 5 {
		t.Errorf("%d packs retire, want the 5 that hold the first 180 messages", len(rec.Packs))
	}
	r.check(t, s) // executed, not yet completed: the content is already refused
	if _, err := s.Dispose(ctx, record.DisposalExecuted{Proposal: 3, Approval: 4}); !holdfast.Is(holdfast.Locked, err) {
		t.Errorf("a second execution before the first is finished: %v, want refused", err)
	}
	done, err := s.FinishDisposals(ctx, nil)
	if err != nil || len(done) != 1 {
		t.Fatalf("FinishDisposals: %v %v", done, err)
	}
	if p := s.PendingDisposals(); len(p) != 0 {
		t.Errorf("pending after finishing: %v", p)
	}
	r.check(t, s)
	s.Close(ctx)
	after := packFiles(t, r.d)
	for _, p := range rec.Packs {
		name := p.String()
		if !before[name] || after[name] {
			t.Errorf("pack %s: present before %v, after %v; want removed", p.Short(), before[name], after[name])
		}
	}
	s = r.open(t)
	defer s.Close(ctx)
	r.check(t, s)

	// The same content captured again is stored anew and readable.
	var again uint64
	for idx := range r.dispose {
		if idx != r.shared {
			again = idx
			break
		}
	}
	msg := synth.Message(7, r.msg[again], 5000)
	ref, err := s.PutBytes(ctx, msg)
	if err != nil || ref.SHA256 != r.refs[again].SHA256 {
		t.Fatalf("put again: %v (%s, want %s)", err, ref.SHA256.Short(), r.refs[again].SHA256.Short())
	}
	if _, err := s.Append(ctx, record.TypeItemVersion, synth.Meta(7, r.msg[again]), ref); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.ReadContent(ctx, ref, &buf); err != nil || !bytes.Equal(buf.Bytes(), msg) {
		t.Errorf("content captured again after its disposal: %v", err)
	}
	rep, err := s.Verify(ctx, store.VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify after capturing disposed content again: %v %+v", err, rep)
	}
}

// Verify tells disposed from damaged: a kept pack removed is damage, named;
// disposed content that a pack still holds after its disposal completed is
// a failure too (the disposal did not remove it).
func TestVerifyTellsDisposedFromDamaged(t *testing.T) {
	ctx := context.Background()
	r := newDisposalRepo(t)
	kept := packFiles(t, r.d)
	s := r.open(t)
	rec := r.execute(t, s)
	if _, err := s.FinishDisposals(ctx, nil); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	for _, p := range rec.Packs {
		delete(kept, p.String())
	}
	if len(kept) != 1 {
		t.Fatalf("%d packs kept, want 1", len(kept))
	}
	var victim string
	for name := range kept {
		victim = name
	}
	path := filepath.Join(r.d.Dir, "tenants", "acme", "packs", victim[:2], victim)
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	rep := verifyDir(t, r.d)
	if rep.OK || !strings.Contains(fmt.Sprint(rep.Failures), victim[:12]) {
		t.Errorf("a kept pack removed: verify %+v, want a failure naming it", rep.Failures)
	}
	for _, f := range rep.Failures {
		if strings.Contains(f.Problem, "disposed") {
			t.Errorf("damage reported as disposal: %+v", f)
		}
	}
	if err := os.Rename(path+".away", path); err != nil {
		t.Fatal(err)
	}

	// A disposed blob put back in a pack of its own, not referenced again.
	s = r.open(t)
	blob, err := s.Disposed(rec.Blobs[0])
	if !err {
		t.Fatalf("blob %s not disposed (%d)", rec.Blobs[0].Short(), blob)
	}
	var content []byte
	for idx, ref := range r.refs {
		if ref.SHA256 == rec.Blobs[0] {
			content = synth.Message(7, r.msg[idx], 5000)
		}
	}
	if _, err := s.PutBytes(ctx, content); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	rep = verifyDir(t, r.d)
	if rep.OK || !strings.Contains(fmt.Sprint(rep.Failures), "was disposed of by record") {
		t.Errorf("disposed content stored again without a record: verify %+v, want a failure", rep.Failures)
	}
}

func verifyDir(t *testing.T, d store.DataDir) *store.VerifyReport {
	t.Helper()
	s, err := d.OpenTenant(context.Background(), "acme", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	rep, err := s.Verify(context.Background(), store.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A writer stopped after disposal.executed (before any pack was rewritten)
// leaves the content refused and the store verifying; the next writer
// completes the disposal. With and without the tree cache, which carries
// the disposal state when present.
func TestDisposalResumesAfterExecute(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%v", cache), func(t *testing.T) {
			ctx := context.Background()
			r := newDisposalRepo(t)
			s := r.open(t)
			r.execute(t, s)
			s.Close(ctx)
			if !cache {
				if err := os.Remove(filepath.Join(r.d.Dir, "tenants", "acme", "state", "tree.json")); err != nil {
					t.Fatal(err)
				}
			}
			s = r.open(t)
			defer s.Close(ctx)
			if p := s.PendingDisposals(); len(p) != 1 {
				t.Fatalf("pending disposals after reopening: %v, want 1", p)
			}
			r.check(t, s)
			if _, err := s.FinishDisposals(ctx, nil); err != nil {
				t.Fatal(err)
			}
			r.check(t, s)
		})
	}
}
