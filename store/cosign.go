package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	out := bytes.Clone(c.Note)
	var names []string
	prefix := fmt.Sprintf("%s%020d-", cosigPrefix, size)
	err = s.be.List(ctx, prefix, func(name string, _ int64) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		rc, err := s.be.Open(ctx, name)
		if err != nil {
			return nil, err
		}
		line, err := io.ReadAll(io.LimitReader(rc, 4<<10))
		rc.Close()
		if err != nil {
			return nil, holdfast.E("read cosignature", holdfast.IO, err)
		}
		if !bytes.HasPrefix(line, []byte("— ")) || bytes.Count(line, []byte("\n")) != 1 || !bytes.HasSuffix(line, []byte("\n")) {
			return nil, holdfast.Errorf("read cosignature", holdfast.Integrity, "%s is not one note signature line", name)
		}
		out = append(out, line...)
	}
	return out, nil
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
