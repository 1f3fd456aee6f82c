package s3

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// Disposal in a bucket with Object Lock: refused, naming the date, while
// the packs are retained; once their retention has passed, the packs are
// rewritten and every version of the retired ones deleted, and the store
// verifies.
func TestDisposalUnderObjectLock(t *testing.T) {
	g := startGateway(t)
	ctx := context.Background()
	const lock = 3 * time.Second
	b := g.backend(t, Retention{Mode: "GOVERNANCE", For: lock})
	repo := storetest.NewRepo(t, b, t.TempDir(), nil)
	s := repo.Open(t)
	defer s.Close(ctx)
	refs := map[uint64]store.Ref{}
	going := map[uint64]bool{}
	for i := range 20 {
		ref, err := s.PutBytes(ctx, []byte(fmt.Sprintf("message %d %s", i, strings.Repeat("x", 3000))))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"item": fmt.Sprint(i)}, ref)
		if err != nil {
			t.Fatal(err)
		}
		refs[idx] = ref
		if i < 10 {
			going[idx] = true
		}
		if i == 9 {
			s.Flush(ctx) // two packs: the first goes
		}
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	blobs, packs, err := s.DisposalContent(ctx, going)
	if err != nil || len(blobs) != 10 || len(packs) != 1 {
		t.Fatalf("content: %d blobs, %d packs, %v", len(blobs), len(packs), err)
	}
	from, err := s.RemovableFrom(ctx, packs)
	if err != nil || from.Before(written) || from.After(written.Add(lock+time.Second)) {
		t.Errorf("removable from %v (%v), want about %v", from, err, written.Add(lock))
	}
	rec := record.DisposalExecuted{Proposal: 1, Approval: 2, Blobs: blobs, Packs: packs, Actor: "test"}
	if _, err := s.Dispose(ctx, rec); !holdfast.Is(holdfast.Locked, err) || !strings.Contains(err.Error(), "Object Lock until") {
		t.Fatalf("dispose under Object Lock: %v, want refused naming the date", err)
	}
	time.Sleep(time.Until(from) + 500*time.Millisecond)
	if _, err := s.Dispose(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishDisposals(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if left, err := s.RemoveRetired(ctx); err != nil || left != 0 {
		t.Fatalf("retired packs left: %d %v", left, err)
	}
	vs, dms, err := b.versions(ctx, "packs/"+packs[0].String()[:2]+"/"+packs[0].String())
	if err != nil || len(vs)+len(dms) != 0 {
		t.Errorf("the retired pack still has %d versions and %d delete markers in the bucket (%v)", len(vs), len(dms), err)
	}
	for idx, ref := range refs {
		var buf bytes.Buffer
		err := s.ReadContent(ctx, ref, &buf)
		if going[idx] != (err != nil) {
			t.Errorf("record %d (disposed %v): read %v", idx, going[idx], err)
		}
	}
	rep, err := s.Verify(ctx, store.VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
