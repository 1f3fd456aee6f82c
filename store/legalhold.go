package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"

	"github.com/holdfast/holdfast"
)

// legalHolder is a backend that can put an object under a legal hold
// (S3 Object Lock): nobody can delete the object's version while it is on,
// whatever its retention.
type legalHolder interface {
	SetLegalHold(ctx context.Context, name string, on bool) error
}

// heldPacksFile is derived state: the packs this store put under a legal
// hold, so that a run sets only what is new and a release clears only
// what no active hold still needs.
const heldPacksFile = "legal-holds.json"

// LegalHolds reports whether the repository's backend keeps legal holds:
// a bucket with Object Lock (a repository written with a lock mode).
func (s *Store) LegalHolds() bool {
	_, ok := s.be.(legalHolder)
	return ok && s.remote != nil && s.remote.LockMode != ""
}

// HoldPacks makes the legal holds on the repository's packs exactly those
// that the item versions held (records, from the active holds) need: the
// packs holding their content get the hold, packs held before and no
// longer needed lose it. It returns how many were set and cleared. A
// backend without legal holds (the local disk) needs nothing.
func (s *Store) HoldPacks(ctx context.Context, held []uint64) (set, cleared int, err error) {
	const op = "legal hold"
	lh, ok := s.be.(legalHolder)
	if !ok || !s.LegalHolds() {
		return 0, 0, nil
	}
	// One pass over the log from the first held record to the last,
	// rather than a read of a log batch per held record.
	need := map[string]bool{}
	if len(held) > 0 {
		want := map[uint64]bool{}
		lo, hi := held[0], held[0]
		for _, i := range held {
			want[i] = true
			lo, hi = min(lo, i), max(hi, i)
		}
		err := s.scanRecords(ctx, lo, hi+1, func(_ []byte, rec Record) error {
			if !want[rec.Index] {
				return nil
			}
			for _, ref := range rec.Refs {
				for _, id := range ref.Blobs() {
					s.mu.Lock()
					loc, ok := s.index[id]
					var pack ID
					if ok {
						pack = s.packs[loc.pack]
					}
					s.mu.Unlock()
					if ok {
						need[packName(pack)] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, holdfast.E(op, err)
		}
	}
	p := filepath.Join(s.StateDir(), heldPacksFile)
	var had []string
	if b, err := os.ReadFile(p); err == nil {
		json.Unmarshal(b, &had)
	}
	hadSet := map[string]bool{}
	for _, n := range had {
		hadSet[n] = true
	}
	var now []string
	for n := range need {
		now = append(now, n)
		if !hadSet[n] {
			if err := lh.SetLegalHold(ctx, n, true); err != nil {
				return set, cleared, holdfast.E(op, err)
			}
			set++
		}
	}
	for _, n := range had {
		if !need[n] {
			if err := lh.SetLegalHold(ctx, n, false); err != nil {
				return set, cleared, holdfast.E(op, err)
			}
			cleared++
		}
	}
	sort.Strings(now)
	b, _ := json.Marshal(now)
	if err := WriteReplace(p, b, 0o600); err != nil {
		return set, cleared, holdfast.E(op, holdfast.IO, err)
	}
	return set, cleared, nil
}
