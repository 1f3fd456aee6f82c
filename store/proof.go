package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// BundleFormat names the proof bundle format written by holdfast proof.
const BundleFormat = "holdfast-proof/v1"

// Bundle is a self-contained proof an auditor checks offline with nothing
// but the log's public key: either that a record is in the log a signed
// checkpoint commits to (inclusion), or that one signed checkpoint's log is
// a prefix of another's (consistency). Hashes are base64 in JSON.
type Bundle struct {
	Format string `json:"format"`
	Kind   string `json:"kind"` // "inclusion" or "consistency"

	// Inclusion: the record's canonical JSON exactly as logged, its index,
	// the proof and the checkpoint.
	Index      uint64 `json:"index,omitempty"`
	Record     string `json:"record,omitempty"`
	Checkpoint string `json:"checkpoint,omitempty"`

	// Consistency: the two checkpoints.
	OldCheckpoint string `json:"old_checkpoint,omitempty"`
	NewCheckpoint string `json:"new_checkpoint,omitempty"`

	Proof [][]byte `json:"proof"`
}

// BundleResult says what a verified bundle proves.
type BundleResult struct {
	Kind    string `json:"kind"`
	Origin  string `json:"origin"`
	Index   uint64 `json:"index,omitempty"`
	Type    string `json:"record_type,omitempty"`
	Size    uint64 `json:"checkpoint_size,omitempty"`
	OldSize uint64 `json:"old_size,omitempty"`
	NewSize uint64 `json:"new_size,omitempty"`
	Root    []byte `json:"root"`
	// Witnesses is how many trusted witnesses cosigned the checkpoint
	// (set by a caller that checked a WitnessPolicy).
	Witnesses int `json:"witness_cosignatures,omitempty"`
}

// leafHashes returns the leaf hashes of records [0, size), 32 bytes each.
func (s *Store) leafHashes(ctx context.Context, size uint64) ([]byte, error) {
	out := make([]byte, 0, 32*size)
	err := s.scanRecords(ctx, 0, size, func(raw []byte, _ Record) error {
		out = append(out, LeafHash(raw)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if uint64(len(out)) != 32*size {
		return nil, holdfast.Errorf("leaf hashes", holdfast.Integrity, "log holds %d records, want %d", len(out)/32, size)
	}
	return out, nil
}

// subtreeHash is the hash of the perfect subtree over leaves [begin, end),
// whose width is a power of two.
func subtreeHash(leaves []byte, begin, end uint64) ([]byte, error) {
	n := end - begin
	if n == 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("subtree [%d, %d) is not perfect", begin, end)
	}
	level := make([][]byte, n)
	for i := range level {
		level[i] = leaves[32*(begin+uint64(i)) : 32*(begin+uint64(i))+32]
	}
	for len(level) > 1 {
		for i := 0; i < len(level)/2; i++ {
			level[i] = hasher.HashChildren(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
	}
	return level[0], nil
}

func proofHashes(leaves []byte, n proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, 0, len(n.IDs))
	for _, id := range n.IDs {
		hashes = append(hashes, nil)
		h, err := nodeHash(leaves, id)
		if err != nil {
			return nil, err
		}
		hashes[len(hashes)-1] = h
	}
	return n.Rehash(hashes, hasher.HashChildren)
}

func nodeHash(leaves []byte, id compact.NodeID) ([]byte, error) {
	begin, end := id.Coverage()
	if end*32 > uint64(len(leaves)) {
		return nil, fmt.Errorf("node %v is outside the log", id)
	}
	return subtreeHash(leaves, begin, end)
}

// InclusionBundle proves that record index is in the log of the checkpoint
// of the given size (0: the newest checkpoint).
func (s *Store) InclusionBundle(ctx context.Context, index, size uint64) (*Bundle, error) {
	const op = "proof"
	c, err := s.checkpointFor(ctx, size)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	if index >= c.Size {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "record %d is not covered by checkpoint %d (it covers records 0 to %d)", index, c.Size, c.Size-1)
	}
	_, raw, err := s.Record(ctx, index)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	leaves, err := s.leafHashes(ctx, c.Size)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	nodes, err := proof.Inclusion(index, c.Size)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	p, err := proofHashes(leaves, nodes)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	b := &Bundle{Format: BundleFormat, Kind: "inclusion", Index: index, Record: string(raw), Checkpoint: s.withCosignatures(ctx, c), Proof: p}
	// Never hand out a proof that does not verify against our own key.
	if _, err := VerifyBundle(b, s.verifier); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the log does not match its checkpoint; run holdfast verify")
	}
	return b, nil
}

// ConsistencyBundle proves that the log of checkpoint oldSize is a prefix
// of the log of checkpoint newSize.
func (s *Store) ConsistencyBundle(ctx context.Context, oldSize, newSize uint64) (*Bundle, error) {
	const op = "proof"
	if oldSize > newSize {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "the old checkpoint (%d) must not be larger than the new one (%d)", oldSize, newSize)
	}
	oc, err := s.checkpointFor(ctx, oldSize)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	nc, err := s.checkpointFor(ctx, newSize)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	leaves, err := s.leafHashes(ctx, nc.Size)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	nodes, err := proof.Consistency(oc.Size, nc.Size)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	p, err := proofHashes(leaves, nodes)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	b := &Bundle{Format: BundleFormat, Kind: "consistency", OldCheckpoint: s.withCosignatures(ctx, oc), NewCheckpoint: s.withCosignatures(ctx, nc), Proof: p}
	if _, err := VerifyBundle(b, s.verifier); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the log does not match its checkpoints; run holdfast verify")
	}
	return b, nil
}

func (s *Store) checkpointFor(ctx context.Context, size uint64) (Checkpoint, error) {
	if size == 0 {
		return s.LatestCheckpoint(ctx)
	}
	return s.CheckpointAt(ctx, size)
}

// ParseBundle decodes a proof bundle file. Anything that is not a bundle is
// an Invalid error.
func ParseBundle(data []byte) (*Bundle, error) {
	const op = "parse proof bundle"
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err, "not a holdfast proof bundle")
	}
	if b.Format != BundleFormat {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "format %q is not %q", b.Format, BundleFormat)
	}
	if b.Kind != "inclusion" && b.Kind != "consistency" {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "unknown proof kind %q", b.Kind)
	}
	for i, h := range b.Proof {
		if len(h) != 32 {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "proof hash %d is %d bytes, want 32", i, len(h))
		}
	}
	return &b, nil
}

// VerifyBundle checks a bundle against the log's public key. Every mismatch
// is an Integrity error that says what did not match.
func VerifyBundle(b *Bundle, v note.Verifier) (BundleResult, error) {
	const op = "verify proof"
	switch b.Kind {
	case "inclusion":
		c, err := ParseCheckpoint([]byte(b.Checkpoint), v)
		if err != nil {
			return BundleResult{}, holdfast.E(op, err)
		}
		rec, err := record.Decode([]byte(b.Record))
		if err != nil {
			return BundleResult{}, holdfast.E(op, holdfast.Integrity, err, "the bundled record")
		}
		if rec.Index != b.Index {
			return BundleResult{}, holdfast.Errorf(op, holdfast.Integrity, "the record says it is record %d, the bundle says %d", rec.Index, b.Index)
		}
		if b.Index >= c.Size {
			return BundleResult{}, holdfast.Errorf(op, holdfast.Integrity, "record %d is beyond the checkpoint's %d records", b.Index, c.Size)
		}
		if err := proof.VerifyInclusion(hasher, b.Index, c.Size, LeafHash([]byte(b.Record)), b.Proof, c.Root); err != nil {
			return BundleResult{}, holdfast.E(op, holdfast.Integrity, err, fmt.Sprintf("record %d is not in the log of checkpoint %d", b.Index, c.Size))
		}
		return BundleResult{Kind: b.Kind, Origin: c.Origin, Index: b.Index, Type: rec.Type, Size: c.Size, Root: c.Root}, nil
	case "consistency":
		oc, err := ParseCheckpoint([]byte(b.OldCheckpoint), v)
		if err != nil {
			return BundleResult{}, holdfast.E(op, err, "old checkpoint")
		}
		nc, err := ParseCheckpoint([]byte(b.NewCheckpoint), v)
		if err != nil {
			return BundleResult{}, holdfast.E(op, err, "new checkpoint")
		}
		if oc.Origin != nc.Origin {
			return BundleResult{}, holdfast.Errorf(op, holdfast.Integrity, "the checkpoints are of different logs (%q, %q)", oc.Origin, nc.Origin)
		}
		if oc.Size > nc.Size {
			return BundleResult{}, holdfast.Errorf(op, holdfast.Integrity, "the old checkpoint (%d) is larger than the new one (%d)", oc.Size, nc.Size)
		}
		if err := proof.VerifyConsistency(hasher, oc.Size, nc.Size, b.Proof, oc.Root, nc.Root); err != nil {
			return BundleResult{}, holdfast.E(op, holdfast.Integrity, err, fmt.Sprintf("the log of checkpoint %d is not a prefix of the log of checkpoint %d", oc.Size, nc.Size))
		}
		return BundleResult{Kind: b.Kind, Origin: nc.Origin, OldSize: oc.Size, NewSize: nc.Size, Root: nc.Root}, nil
	}
	return BundleResult{}, holdfast.Errorf(op, holdfast.Invalid, "unknown proof kind %q", b.Kind)
}

// Prover answers consistency proofs between checkpoints up to size from
// one read of the log's leaf hashes, made when it is first asked: a round
// of submissions to several witnesses reads the log once, not once each.
// It is safe for concurrent use.
type Prover struct {
	s      *Store
	size   uint64
	once   sync.Once
	leaves []byte
	err    error
}

// Prover returns a prover for checkpoints up to size.
func (s *Store) Prover(size uint64) *Prover { return &Prover{s: s, size: size} }

// Chain returns the consistency proofs from checkpoint from to the first
// of sizes, and from each of sizes to the next (all issued checkpoints,
// ascending, none beyond the prover's size; from 0 needs no proof): what
// a witness that last cosigned from is sent to cosign each in turn. Every
// proof is checked against the checkpoints' roots before it is returned.
func (p *Prover) Chain(ctx context.Context, from uint64, sizes []uint64) ([][][]byte, error) {
	const op = "proof"
	if len(sizes) == 0 {
		return nil, nil
	}
	if last := sizes[len(sizes)-1]; last > p.size {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "checkpoint %d is beyond the prover's %d", last, p.size)
	}
	roots := map[uint64][]byte{}
	prev := from
	for _, n := range append([]uint64{from}, sizes...) {
		if n < prev {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "checkpoint sizes must ascend (%d after %d)", n, prev)
		}
		prev = n
		if n == 0 {
			continue
		}
		c, err := p.s.CheckpointAt(ctx, n)
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		roots[n] = c.Root
	}
	// The read serves every caller: no one caller's deadline cuts it short.
	p.once.Do(func() { p.leaves, p.err = p.s.leafHashes(context.WithoutCancel(ctx), p.size) })
	if p.err != nil {
		return nil, holdfast.E(op, p.err)
	}
	out := make([][][]byte, len(sizes))
	prev = from
	for i, n := range sizes {
		if prev > 0 && prev < n {
			nodes, err := proof.Consistency(prev, n)
			if err != nil {
				return nil, holdfast.E(op, holdfast.Invalid, err)
			}
			if out[i], err = proofHashes(p.leaves, nodes); err != nil {
				return nil, holdfast.E(op, err)
			}
			if err := proof.VerifyConsistency(hasher, prev, n, out[i], roots[prev], roots[n]); err != nil {
				return nil, holdfast.E(op, holdfast.Integrity, err, "the log does not match its checkpoints; run holdfast verify")
			}
		}
		prev = n
	}
	return out, nil
}
