package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Disposal removes content without touching the log: records and their
// leaf hashes stay, so every checkpoint and every proof issued stays
// valid; what goes is the blobs that only disposed item versions
// referenced. It happens in steps, each durable before the next, so that
// a writer killed at any moment leaves a store that verifies and a
// disposal that the next FinishDisposals completes:
//
//  1. Dispose appends disposal.executed, naming the versions, the blobs
//     that go and the packs that hold them (the retiring packs). From
//     here on the blobs are disposed of: reads refuse them, and a blob
//     captured again is stored anew.
//  2. FinishDisposals copies every other blob of a retiring pack into new
//     packs (logged by pack.added, as any pack), then appends
//     disposal.completed naming the retiring packs as retired.
//  3. Then, and only then, it removes the retired packs from the backend;
//     one still present (a writer killed before) is removed by the next.
//
// Verify reports content missing under an executed disposal as disposed,
// with its record, and a retired pack that is gone as retired; anything
// else missing is still damage.

// Remover is a backend that can delete an object. Only disposal uses it,
// for packs retired by a disposal.completed record.
type Remover interface {
	Remove(ctx context.Context, name string) error
}

// Retainer is a backend whose objects may be retained for a time (S3
// Object Lock): a pack goes only once none of its versions is retained or
// held.
type Retainer interface {
	RetainUntil(ctx context.Context, name string) (until time.Time, held bool, err error)
}

// Retains reports whether the backend may retain content for a time (S3
// Object Lock): a disposal plan then says when its content can go.
func (s *Store) Retains() bool {
	_, ok := s.be.(Retainer)
	return ok
}

// RemovableFrom is when every one of the packs may be removed as far as
// their retention goes: zero if now (or the backend retains nothing). A
// legal hold on the storage is not counted: the legal holds Holdfast sets
// follow the held content into the new packs (HoldPacks) before a retired
// pack is removed.
func (s *Store) RemovableFrom(ctx context.Context, packs []ID) (time.Time, error) {
	r, ok := s.be.(Retainer)
	if !ok {
		return time.Time{}, nil
	}
	var from time.Time
	for _, p := range packs {
		until, _, err := r.RetainUntil(ctx, packName(p))
		if err != nil {
			return time.Time{}, err
		}
		if until.After(from) {
			from = until
		}
	}
	if !from.After(s.now()) {
		return time.Time{}, nil
	}
	return from, nil
}

// disposalState is what the log's disposal records say, kept by the store.
type disposalState struct {
	disposed map[ID]uint64 // blob → the disposal.executed record that disposed of it
	retiring map[ID]uint64 // pack → the disposal.executed record whose blobs it holds
	retired  map[ID]uint64 // pack → the disposal.completed record that retired it
}

func (d *disposalState) init() {
	for _, m := range []*map[ID]uint64{&d.disposed, &d.retiring, &d.retired} {
		if *m == nil {
			*m = map[ID]uint64{}
		}
	}
}

// noteDisposal takes a committed disposal or pack record into account.
func (s *Store) noteDisposal(r Record) {
	s.disp.init()
	switch r.Type {
	case record.TypeDisposalExecuted:
		var d record.DisposalExecuted
		if json.Unmarshal(r.Data, &d) == nil {
			s.executed(r.Index, d)
		}
	case record.TypeDisposalDone:
		var d record.DisposalCompleted
		if json.Unmarshal(r.Data, &d) == nil {
			s.completed(r.Index, d)
		}
	case record.TypePack:
		if len(s.disp.disposed) == 0 {
			return
		}
		var d record.PackAdded
		if json.Unmarshal(r.Data, &d) == nil {
			s.packLogged(d)
		}
	}
}

func (s *Store) executed(idx uint64, d record.DisposalExecuted) {
	s.disp.init()
	for _, id := range d.Blobs {
		s.disp.disposed[id] = idx
	}
	for _, id := range d.Packs {
		if _, done := s.disp.retired[id]; !done {
			s.disp.retiring[id] = idx
		}
	}
}

func (s *Store) completed(idx uint64, d record.DisposalCompleted) {
	s.disp.init()
	for _, id := range d.Retired {
		s.disp.retired[id] = idx
		delete(s.disp.retiring, id)
	}
}

// packLogged: a blob disposed of and later stored again in a pack that is
// not retiring (the same content captured anew) is no longer disposed.
func (s *Store) packLogged(d record.PackAdded) {
	if _, r := s.disp.retiring[d.Pack]; r {
		return
	}
	for _, id := range d.Blobs {
		delete(s.disp.disposed, id)
	}
}

// goingPack reports whether pack id is retiring or retired.
func (s *Store) goingPack(id ID) bool {
	_, a := s.disp.retiring[id]
	_, b := s.disp.retired[id]
	return a || b
}

// Disposed reports whether blob id was disposed of, and by which
// disposal.executed record.
func (s *Store) Disposed(id ID) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, ok := s.disp.disposed[id]
	return idx, ok
}

// PendingDisposals returns the disposal.executed records whose packs are
// not all retired yet: FinishDisposals completes them.
func (s *Store) PendingDisposals() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for _, idx := range s.disp.retiring {
		if !slices.Contains(out, idx) {
			out = append(out, idx)
		}
	}
	slices.Sort(out)
	return out
}

// Dispose appends rec, a disposal.executed record, and flushes it: from
// its return the blobs it names are disposed of. Every pack that holds
// one of them must be in rec.Packs. The caller then calls FinishDisposals.
func (s *Store) Dispose(ctx context.Context, rec record.DisposalExecuted) (uint64, error) {
	const op = "store.Dispose"
	if _, ok := s.be.(Remover); !ok {
		return 0, holdfast.Errorf(op, holdfast.Invalid, "this storage cannot remove content (%T)", s.be)
	}
	slices.SortFunc(rec.Blobs, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(rec.Packs, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	// Content goes only when it can: never logged as disposed of while
	// the storage still retains it.
	from, err := s.RemovableFrom(ctx, rec.Packs)
	if err != nil {
		return 0, err
	}
	if !from.IsZero() {
		return 0, holdfast.Errorf(op, holdfast.Locked, "the content is under Object Lock until %s: the disposal can be executed from then", from.Format(time.RFC3339))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(op); err != nil {
		return 0, err
	}
	for _, idx := range s.disp.retiring {
		// One at a time: a pack two executions retire would be completed
		// by the second alone.
		return 0, holdfast.Errorf(op, holdfast.Locked, "disposal record %d is not finished: complete it first (FinishDisposals)", idx)
	}
	// Every pack holding a blob that goes must retire, or the content
	// would stay where verify could not tell it from a retained copy.
	packs := map[ID]bool{}
	for _, id := range rec.Packs {
		packs[id] = true
	}
	for _, id := range rec.Blobs {
		if loc, ok := s.index[id]; ok && !packs[s.packs[loc.pack]] {
			return 0, holdfast.Errorf(op, holdfast.Invalid, "blob %s is in pack %s, which the disposal does not retire", id.Short(), s.packs[loc.pack].Short())
		}
		if _, ok := s.pendingBlob[id]; ok {
			return 0, holdfast.Errorf(op, holdfast.Invalid, "blob %s is in the open pack: flush first", id.Short())
		}
	}
	if err := s.flushLocked(ctx); err != nil {
		return 0, err
	}
	idx, err := s.appendLocked(record.TypeDisposalExecuted, rec, nil)
	if err != nil {
		return 0, err
	}
	// The state goes with the record into the tree cache that the flush
	// saves: a cache that covers the record without it would hide the
	// disposal from the next writer. It is not undone if the flush fails:
	// the record stays pending, and whichever flush writes it saves the
	// state with it.
	s.executed(idx, rec)
	if len(rec.Packs) == 0 {
		// No content goes (all of it is shared with versions that stay):
		// nothing to rewrite, complete at once, in the same batch.
		d := record.DisposalCompleted{Execution: idx}
		didx, err := s.appendLocked(record.TypeDisposalDone, d, nil)
		if err != nil {
			return 0, err
		}
		s.completed(didx, d)
	}
	if err := s.flushLocked(ctx); err != nil {
		return 0, err
	}
	for _, id := range rec.Blobs {
		delete(s.index, id)
	}
	return idx, nil
}

// FinishDisposals completes every executed disposal: the retiring packs'
// other blobs are copied into new packs, disposal.completed retires them,
// and the retired packs are removed. It also removes retired packs that a
// writer killed earlier left behind. progress, if not nil, is called with
// each pack done and the packs in all.
func (s *Store) FinishDisposals(ctx context.Context, progress func(done, total int)) ([]uint64, error) {
	const op = "store.FinishDisposals"
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(op); err != nil {
		return nil, err
	}
	rm, ok := s.be.(Remover)
	if !ok {
		return nil, nil // nothing was disposed of here (Dispose refuses)
	}
	present := map[ID]int{}
	for i, id := range s.packs {
		present[id] = i
	}
	byExec := map[uint64][]ID{}
	for id, idx := range s.disp.retiring {
		byExec[idx] = append(byExec[idx], id)
	}
	execs := make([]uint64, 0, len(byExec))
	for idx := range byExec {
		execs = append(execs, idx)
	}
	slices.Sort(execs)
	total, done := len(s.disp.retiring), 0
	var completed []uint64
	for _, exec := range execs {
		packs := byExec[exec]
		slices.SortFunc(packs, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
		for _, p := range packs {
			if _, ok := present[p]; !ok {
				// Retiring it would hide the loss of what it held besides
				// the disposed content: that is damage, for verify and repair.
				return completed, holdfast.Errorf(op, holdfast.Integrity, "pack %s, which disposal record %d rewrites, is missing: run holdfast verify", p.Short(), exec)
			}
			if err := s.copyRetiringLocked(ctx, p); err != nil {
				return completed, holdfast.E(op, err, "pack "+p.Short())
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
		// The copies are durable and logged before the packs retire.
		if err := s.flushLocked(ctx); err != nil {
			return completed, err
		}
		d := record.DisposalCompleted{Execution: exec, Retired: packs}
		idx, err := s.appendLocked(record.TypeDisposalDone, d, nil)
		if err != nil {
			return completed, err
		}
		s.completed(idx, d) // before the flush saves the cache (see Dispose)
		if err := s.flushLocked(ctx); err != nil {
			return completed, err
		}
		completed = append(completed, exec)
	}
	return completed, s.removeRetiredLocked(ctx, rm)
}

// copyRetiringLocked stores anew every blob of retiring pack p that is not
// disposed of and that no other pack holds.
func (s *Store) copyRetiringLocked(ctx context.Context, p ID) error {
	name := packName(p)
	entries, err := s.packHeader(ctx, p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, gone := s.disp.disposed[e.ID]; gone {
			continue
		}
		if _, ok := s.pendingBlob[e.ID]; ok {
			continue
		}
		if loc, ok := s.index[e.ID]; ok && !s.goingPack(s.packs[loc.pack]) {
			continue // already copied, or held by another pack too
		}
		stored := make([]byte, e.StoredLen)
		if err := s.be.ReadAt(ctx, name, stored, int64(e.Offset)); err != nil {
			return err
		}
		plain, err := decodeBlob(stored, e, s.sealer) // checks the blob's hash
		if err != nil {
			return holdfast.E("copy blob", holdfast.Integrity, err, "blob "+e.ID.Short())
		}
		if err := s.addBlobLocked(ctx, e.ID, len(plain), encodeBlob(nil, e.ID, plain, s.sealer), true); err != nil {
			return err
		}
	}
	return nil
}

// RemoveRetired removes the retired packs still present, and returns how
// many it could not remove yet (a legal hold on the storage keeps them:
// see HoldPacks).
func (s *Store) RemoveRetired(ctx context.Context) (left int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable("store.RemoveRetired"); err != nil {
		return 0, err
	}
	rm, ok := s.be.(Remover)
	if !ok {
		return 0, nil
	}
	if err := s.removeRetiredLocked(ctx, rm); err != nil {
		return 0, err
	}
	present, err := s.retiredPresent(ctx)
	return len(present), err
}

// retiredPresent lists the retired packs the backend still holds (the blob
// index leaves them out, so the listing is the one place to find them).
func (s *Store) retiredPresent(ctx context.Context) ([]ID, error) {
	if len(s.disp.retired) == 0 {
		return nil, nil
	}
	var out []ID
	err := s.be.List(ctx, packPrefix, func(name string, _ int64) error {
		if id, err := packIDFromName(name); err == nil {
			if _, ok := s.disp.retired[id]; ok {
				out = append(out, id)
			}
		}
		return nil
	})
	return out, err
}

// removeRetiredLocked removes the retired packs still present; one the
// storage keeps (Locked) stays, noted, for a later call.
func (s *Store) removeRetiredLocked(ctx context.Context, rm Remover) error {
	present, err := s.retiredPresent(ctx)
	if err != nil {
		return err
	}
	var gone []ID
	for _, id := range present {
		if err := s.mayWrite("remove retired pack"); err != nil {
			return err
		}
		if err := rm.Remove(ctx, packName(id)); err != nil && !holdfast.Is(holdfast.NotFound, err) {
			if holdfast.Is(holdfast.Locked, err) {
				s.notes = append(s.notes, fmt.Sprintf("retired %s stays for now: %v", packName(id), err))
				continue
			}
			return holdfast.E("remove retired pack", err, packName(id))
		}
		gone = append(gone, id)
	}
	if len(gone) == 0 {
		return nil
	}
	s.notes = append(s.notes, fmt.Sprintf("removed %d pack(s) retired by disposal", len(gone)))
	return s.reindexLocked(ctx)
}

// reindexLocked rebuilds the blob index from the packs present: packs
// neither retiring nor retired first, then the retiring packs without the
// disposed blobs; retired packs not at all. Open calls it when a disposal
// is under way, FinishDisposals once retired packs are gone.
func (s *Store) reindexLocked(ctx context.Context) error {
	type listed struct {
		id      ID
		entries []packEntry
	}
	var later []listed
	s.packs, s.index = nil, map[ID]blobLoc{}
	err := s.be.List(ctx, packPrefix, func(name string, size int64) error {
		id, err := packIDFromName(name)
		if err != nil {
			return nil // noted at Open
		}
		if _, ok := s.disp.retired[id]; ok {
			return nil
		}
		entries, err := s.readPackHeader(ctx, name, size)
		if err != nil {
			return nil // noted at Open; verify names it
		}
		if _, ok := s.disp.retiring[id]; ok {
			later = append(later, listed{id, entries})
			return nil
		}
		s.addPack(id, entries)
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range later {
		kept := l.entries[:0]
		for _, e := range l.entries {
			if _, gone := s.disp.disposed[e.ID]; !gone {
				kept = append(kept, e)
			}
		}
		s.addPack(l.id, kept)
	}
	return nil
}

// disposalUnderWay reports whether a pack present is retiring or retired:
// the blob index then has to leave out the disposed blobs and retired packs.
func (s *Store) disposalUnderWay() bool {
	for _, id := range s.packs {
		if s.goingPack(id) {
			return true
		}
	}
	return false
}

// DisposalContent returns the content that goes when the item versions
// (records) are disposed of: the blobs they reference that no other record
// references and no earlier disposal took, and every pack that holds one.
func (s *Store) DisposalContent(ctx context.Context, versions map[uint64]bool) (blobs, packs []ID, err error) {
	cand, kept := map[ID]bool{}, map[ID]bool{}
	err = s.Records(ctx, 0, func(_ []byte, r Record) error {
		for _, ref := range r.Refs {
			for _, id := range ref.Blobs() {
				if versions[r.Index] {
					cand[id] = true
				} else {
					kept[id] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	going := map[ID]bool{}
	for id := range cand {
		if _, done := s.Disposed(id); !kept[id] && !done {
			going[id] = true
			blobs = append(blobs, id)
		}
	}
	err = s.Scan(ctx, 0, []string{record.TypePack}, func(raw []byte) error {
		r, err := record.Decode(raw)
		if err != nil {
			return err
		}
		var d record.PackAdded
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return holdfast.E("disposal content", holdfast.Integrity, err, fmt.Sprintf("record %d", r.Index))
		}
		s.mu.Lock()
		_, retired := s.disp.retired[d.Pack]
		s.mu.Unlock()
		for _, id := range d.Blobs {
			if going[id] && !retired {
				packs = append(packs, d.Pack)
				break
			}
		}
		return nil
	})
	slices.SortFunc(blobs, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(packs, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	return blobs, slices.Compact(packs), err
}
