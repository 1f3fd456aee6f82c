package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/holdfast/holdfast"
	"golang.org/x/mod/sumdb/note"
)

// A log can be rolled back by removing its newest batches and checkpoints,
// or by putting back an old copy of the repository. Nothing inside the
// repository can tell: what is left is a shorter, perfectly consistent log.
// What can tell is a record of the log kept elsewhere. Every such record
// is an Expectation — the log must reach Size and have Root there — and
// one mechanism checks them all, at Open (size) and in Verify (size and
// root):
//
//   - the high-water mark this machine keeps per tenant outside the tenant
//     folder (<data>/keys/seen/<tenant>.json), raised after every flush;
//   - the cached tree in the tenant's state/ (a derived file, but one that
//     remembers how long the log was);
//   - signed checkpoints held elsewhere (by an auditor, the customer, a
//     witness) and handed to Verify.

// Expectation is a size and root that the log is known to have reached.
type Expectation struct {
	// Source names who holds it, for messages: a file, "this machine's
	// high-water mark", "the cached tree".
	Source string `json:"source"`
	// Origin is the log the expectation is about; "" for local records,
	// which are this repository's by construction.
	Origin string `json:"origin,omitempty"`
	Size   uint64 `json:"size"`
	// Root is the root at Size, or nil where only the size is known.
	Root []byte `json:"root,omitempty"`
}

// missing says in plain words which records are gone when the log holds
// only size records.
func (e Expectation) missing(size uint64) string {
	return fmt.Sprintf("log ends at %d, %s has seen %d: records %d–%d are missing", size, e.Source, e.Size, size, e.Size-1)
}

// forked says that the log has another root at e.Size than e.
func (e Expectation) forked(root []byte) string {
	return fmt.Sprintf("the log's first %d records have root %x…, but %s says %x…: the log was rewritten (a fork)", e.Size, root[:6], e.Source, e.Root[:6])
}

// highWater is the file kept per tenant outside the repository.
type highWater struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
}

// readHighWater reads the high-water mark at p; a missing file is none.
func readHighWater(p string) (highWater, bool, error) {
	var hw highWater
	if p == "" {
		return hw, false, nil
	}
	b, err := readFileLimit(p, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return hw, false, nil
	}
	if err != nil {
		return hw, false, holdfast.E("read high-water mark", holdfast.IO, err, p)
	}
	if err := json.Unmarshal(b, &hw); err != nil || hw.Origin == "" {
		// Refuse rather than forget: a mark that cannot be read may be one
		// that was tampered with to hide a rollback.
		return hw, false, holdfast.Errorf("read high-water mark", holdfast.Integrity, "%s is not a high-water mark (%v); it records how long this tenant's log was, so it is never ignored — restore it or remove it knowingly", p, err)
	}
	return hw, true, nil
}

// raiseHighWater records the committed log as the largest seen, never
// lowering a larger mark. It runs under the writer lock after a flush.
func (s *Store) raiseHighWater() {
	if s.highWaterFile == "" || s.readOnly {
		return
	}
	if s.seen.Size > s.size {
		return // never lower it (the store refuses writes in this case anyway)
	}
	root, err := s.tree.GetRootHash(nil)
	if err != nil {
		return
	}
	b, err := json.Marshal(highWater{Origin: s.cfg.Origin, Size: s.size, Root: root})
	if err == nil {
		err = WriteReplace(s.highWaterFile, b, 0o600) // creates keys/seen/ (0700) when missing
	}
	if err != nil {
		s.notes = append(s.notes, fmt.Sprintf("could not raise the high-water mark %s: %v", s.highWaterFile, err))
		return
	}
	s.seen = Expectation{Source: "this machine's high-water mark", Size: s.size, Root: root}
}

// expectations are the local records of the log's length that Verify
// checks besides the ones its caller holds.
func (s *Store) expectations() []Expectation {
	var out []Expectation
	if s.seen.Size > 0 {
		out = append(out, s.seen)
	}
	if s.cache.Size > 0 {
		out = append(out, Expectation{Source: "the cached tree (state/tree.json)", Size: s.cache.Size})
	}
	return out
}

// ParseHeldCheckpoints reads the checkpoints in a file held outside the
// repository: a signed checkpoint note, or a proof bundle (its checkpoint,
// or both of a consistency bundle). Each is checked against v; source
// names the file in messages.
func ParseHeldCheckpoints(data []byte, v note.Verifier, source string) ([]Expectation, []Checkpoint, error) {
	const op = "read held checkpoint"
	var notes []string
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		b, err := ParseBundle(data)
		if err != nil {
			return nil, nil, holdfast.E(op, holdfast.Invalid, err, source)
		}
		for _, n := range []string{b.Checkpoint, b.OldCheckpoint, b.NewCheckpoint} {
			if n != "" {
				notes = append(notes, n)
			}
		}
		if len(notes) == 0 {
			return nil, nil, holdfast.Errorf(op, holdfast.Invalid, "%s: the proof bundle holds no checkpoint", source)
		}
	} else {
		notes = []string{string(data)}
	}
	var exps []Expectation
	var cks []Checkpoint
	for _, n := range notes {
		c, err := ParseCheckpoint([]byte(n), v)
		if err != nil {
			return nil, nil, holdfast.E(op, err, source)
		}
		exps = append(exps, Expectation{Source: source, Origin: c.Origin, Size: c.Size, Root: c.Root})
		cks = append(cks, c)
	}
	return exps, cks, nil
}
