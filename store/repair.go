package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Repair is what a store does when content the log names is gone (a pack
// deleted or unreadable): the store refuses writes, so that the damage is
// never buried under new records, until a repair record accounts for every
// lost pack. The repair fetches again from the tenant what it can (the
// caller's part: the content's hash must match, so the blob is whole
// again), and the repair record names the packs, what was recovered and
// what is lost for good. Records and their leaf hashes never change: every
// checkpoint and proof stays valid, and verify tells lost from damaged.

// RepairRecord is the data of a store.repair record (record.StoreRepair).
type RepairRecord = record.StoreRepair

// RepairedVersion is one record whose content was in a lost pack.
type RepairedVersion = record.RepairedVersion

// MissingPacks returns the packs the log names that are gone or
// unreadable and that no repair record accounts for yet.
func (s *Store) MissingPacks() []ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ID(nil), s.missing...)
}

// MissingBlobs returns the blobs that were in the missing packs and that
// no other pack holds: the content a repair has to find again.
func (s *Store) MissingBlobs(ctx context.Context) (map[ID]bool, error) {
	missing := map[ID]bool{}
	for _, id := range s.MissingPacks() {
		missing[id] = true
	}
	out := map[ID]bool{}
	if len(missing) == 0 {
		return out, nil
	}
	err := s.Scan(ctx, 0, []string{record.TypePack}, func(raw []byte) error {
		r, err := record.Decode(raw)
		if err != nil {
			return err
		}
		var d record.PackAdded
		if err := json.Unmarshal(r.Data, &d); err != nil {
			return holdfast.E("missing blobs", holdfast.Integrity, err, fmt.Sprintf("record %d", r.Index))
		}
		if !missing[d.Pack] {
			return nil
		}
		for _, b := range d.Blobs {
			if !s.HasBlob(b) {
				out[b] = true
			}
		}
		return nil
	})
	return out, err
}

// RecordRepair appends the repair record, which accounts for every pack in
// rec.LostPacks, and a checkpoint over it. Open with Repair to call it on
// a store whose only damage is missing packs; once every missing pack is
// accounted for, the store takes writes again.
func (s *Store) RecordRepair(ctx context.Context, rec RepairRecord) (uint64, error) {
	const op = "store.RecordRepair"
	sort.Slice(rec.LostPacks, func(i, j int) bool { return rec.LostPacks[i].String() < rec.LostPacks[j].String() })
	idx, err := s.Append(ctx, record.TypeRepair, rec)
	if err != nil {
		return 0, holdfast.E(op, err)
	}
	if err := s.Flush(ctx); err != nil {
		return 0, holdfast.E(op, err)
	}
	s.mu.Lock()
	for _, id := range rec.LostPacks {
		s.lost[id] = true
	}
	var left []ID
	for _, id := range s.missing {
		if !s.lost[id] {
			left = append(left, id)
		}
	}
	s.missing = left
	if len(left) == 0 && s.repairable {
		s.damaged, s.repairable = "", false
	}
	s.saveTree()
	s.mu.Unlock()
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return idx, holdfast.E(op, err)
	}
	return idx, nil
}

// noteRepair takes a repair record's lost packs into account.
func (s *Store) noteRepair(r Record) {
	var d RepairRecord
	if json.Unmarshal(r.Data, &d) == nil {
		for _, id := range d.LostPacks {
			s.lost[id] = true
		}
	}
}
