package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/holdfast/holdfast"
	"golang.org/x/mod/sumdb/note"
)

// Witnesses' cosignatures (c2sp.org/tlog-cosignature) are kept beside the
// checkpoint they sign, each in an immutable object of its own:
// cosignatures/<size, 20 digits>-<witness key hash, 8 hex digits>, holding
// the witness's note signature line. They are not records of the log: a
// cosignature arrives after its checkpoint is issued, and a log that waited
// for its witnesses could not checkpoint while one is down.

func cosigName(size uint64, keyHash uint32) string {
	return fmt.Sprintf("%s%020d-%08x", cosigPrefix, size, keyHash)
}

// AddCosignature keeps a witness's cosignature of the checkpoint of size
// size, after checking it with v (the witness's verifier) against that
// checkpoint. A cosignature already kept for that witness and size is left
// as it is. It touches no record, so a store opened Shared beside a running
// backup may keep one too.
func (s *Store) AddCosignature(ctx context.Context, size uint64, v note.Verifier, sigLines []byte) error {
	const op = "store.AddCosignature"
	if s.readOnly && !s.spool {
		return holdfast.Errorf(op, holdfast.Invalid, "the store is open read-only")
	}
	if s.damaged != "" {
		return holdfast.Errorf(op, holdfast.Integrity, "refusing to write: %s", s.damaged)
	}
	c, err := s.readCheckpoint(ctx, size)
	if err != nil {
		return holdfast.E(op, err)
	}
	line, err := CosignatureLine(c.Note, v, sigLines)
	if err != nil {
		return holdfast.E(op, err)
	}
	err = s.be.Put(ctx, cosigName(size, v.KeyHash()), line)
	if holdfast.Is(holdfast.Exist, err) {
		return nil
	}
	return err
}

// CosignatureLine picks, from the signature lines a witness answered, the
// one by v that verifies over checkpoint, and returns it.
func CosignatureLine(checkpoint []byte, v note.Verifier, sigLines []byte) ([]byte, error) {
	for _, line := range bytes.SplitAfter(sigLines, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("— ")) || !bytes.HasSuffix(line, []byte("\n")) {
			continue
		}
		msg := append(bytes.Clone(checkpoint), line...)
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			continue
		}
		for _, sig := range n.Sigs {
			if sig.Hash == v.KeyHash() && sig.Name == v.Name() {
				return line, nil
			}
		}
	}
	return nil, holdfast.Errorf("cosignature", holdfast.Integrity, "no cosignature by witness %s over the checkpoint verifies", v.Name())
}

// Cosigned returns the checkpoint of size size with every kept
// cosignature appended: the note an auditor checks against the log key
// and the witnesses' keys.
func (s *Store) Cosigned(ctx context.Context, size uint64) ([]byte, error) {
	c, err := s.readCheckpoint(ctx, size)
	if err != nil {
		return nil, err
	}
	return s.withLines(ctx, c)
}

// withLines is c's note followed by the cosignature lines kept for it.
func (s *Store) withLines(ctx context.Context, c Checkpoint) ([]byte, error) {
	out := bytes.Clone(c.Note)
	var names []string
	err := s.be.List(ctx, fmt.Sprintf("%s%020d-", cosigPrefix, c.Size), func(name string, _ int64) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		line, err := readAll(ctx, s.be, name, 4<<10)
		if err != nil {
			return nil, holdfast.E("read cosignature", holdfast.IO, err, name)
		}
		if !bytes.HasPrefix(line, []byte("— ")) || bytes.Count(line, []byte("\n")) != 1 || !bytes.HasSuffix(line, []byte("\n")) {
			return nil, holdfast.Errorf("read cosignature", holdfast.Integrity, "%s is not one note signature line", name)
		}
		out = append(out, line...)
	}
	return out, nil
}

// withCosignatures is c's note with the cosignatures kept for it, or the
// bare note if they cannot be read (the proof holds without them).
func (s *Store) withCosignatures(ctx context.Context, c Checkpoint) string {
	if msg, err := s.withLines(ctx, c); err == nil {
		return string(msg)
	}
	return string(c.Note)
}

// CosignedSizes lists, for each checkpoint size with cosignatures, the key
// hashes of the witnesses that cosigned it.
func (s *Store) CosignedSizes(ctx context.Context) (map[uint64][]uint32, error) {
	out := map[uint64][]uint32{}
	err := s.be.List(ctx, cosigPrefix, func(name string, _ int64) error {
		size, hash, ok := strings.Cut(strings.TrimPrefix(name, cosigPrefix), "-")
		n, err1 := strconv.ParseUint(size, 10, 64)
		h, err2 := strconv.ParseUint(hash, 16, 32)
		if ok && err1 == nil && err2 == nil {
			out[n] = append(out[n], uint32(h))
		}
		return nil
	})
	return out, err
}

// WitnessPolicy is what a verifier trusts besides the log's key: the
// witnesses' verifiers, and how many of them must have cosigned a
// checkpoint (0: all).
type WitnessPolicy struct {
	Witnesses []note.Verifier
	Threshold int
}

// Required is how many cosignatures the policy needs.
func (p WitnessPolicy) Required() int {
	if p.Threshold <= 0 || p.Threshold > len(p.Witnesses) {
		return len(p.Witnesses)
	}
	return p.Threshold
}

// Check counts the trusted witnesses whose cosignatures on the signed
// checkpoint msg verify, and returns an Integrity error unless there are
// enough of them, or if a trusted witness's cosignature does not verify.
// An empty policy accepts every checkpoint.
func (p WitnessPolicy) Check(msg []byte) (int, error) {
	const op = "witness cosignatures"
	if len(p.Witnesses) == 0 {
		return 0, nil
	}
	n, err := note.Open(msg, note.VerifierList(p.Witnesses...))
	var inv *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &inv):
		return 0, holdfast.E(op, holdfast.Integrity, &BadCosignatureError{Witness: inv.Name})
	case errors.As(err, &unverified):
		return 0, holdfast.Errorf(op, holdfast.Integrity, "the checkpoint carries none of the given witnesses' cosignatures (%d needed)", p.Required())
	case err != nil:
		return 0, holdfast.E(op, holdfast.Integrity, err)
	}
	seen := map[uint32]bool{}
	for _, sig := range n.Sigs {
		for _, w := range p.Witnesses {
			if sig.Hash == w.KeyHash() && sig.Name == w.Name() {
				seen[sig.Hash] = true
			}
		}
	}
	if len(seen) < p.Required() {
		return len(seen), holdfast.Errorf(op, holdfast.Integrity, "the checkpoint carries %d of the given witnesses' cosignatures; %d are needed", len(seen), p.Required())
	}
	return len(seen), nil
}

// BadCosignatureError: a trusted witness's cosignature on a checkpoint
// does not verify (altered, or not over this checkpoint).
type BadCosignatureError struct{ Witness string }

func (e *BadCosignatureError) Error() string {
	return fmt.Sprintf("the cosignature by witness %s does not verify over the checkpoint", e.Witness)
}

// CheckpointBody returns the signed part of a checkpoint note (origin,
// size, root and any extension lines), without its signatures: two copies
// of one checkpoint that gathered different cosignatures have the same
// body.
func CheckpointBody(msg string) string {
	body, _, _ := strings.Cut(msg, "\n\n")
	return body
}
