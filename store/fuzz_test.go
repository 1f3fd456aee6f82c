package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/holdfast/holdfast/record"
	"golang.org/x/mod/sumdb/note"
)

// Decoders of on-disk and auditor-supplied data must return errors on
// garbage, never panic.

func FuzzPackHeader(f *testing.F) {
	key := make([]byte, 32)
	s, _ := newSealer(key)
	entries := []packEntry{{ID: ID{1}, RawLen: 10, StoredLen: 20}, {ID: ID{2}, RawLen: 5, StoredLen: 7}}
	plain := encodeHeader(entries, nil)
	sealed := encodeHeader(entries, s)
	f.Add(plain, int64(27), false)
	f.Add(sealed, int64(27), true)
	f.Add([]byte("HFP1"), int64(0), false)
	f.Fuzz(func(t *testing.T, data []byte, dataLen int64, encrypted bool) {
		var sl *sealer
		if encrypted {
			sl = s
		}
		if len(data) >= packTrailerSize {
			if n, err := parseTrailer(data[len(data)-packTrailerSize:], int64(len(data))); err == nil {
				data = data[:int64(len(data))-packTrailerSize]
				if n <= int64(len(data)) {
					data = data[int64(len(data))-n:]
				}
			}
		}
		es, err := parseHeader(data, dataLen, sl)
		if err != nil {
			return
		}
		var end uint64
		for _, e := range es {
			end = uint64(e.Offset) + uint64(e.StoredLen)
		}
		if end != uint64(dataLen) {
			t.Fatalf("accepted header covers %d bytes, pack data is %d", end, dataLen)
		}
	})
}

func FuzzBlob(f *testing.F) {
	plain := []byte("hello, ledger")
	id := ID(sha256Sum(plain))
	f.Add(encodeBlob(nil, id, plain, nil), uint32(len(plain)))
	f.Fuzz(func(t *testing.T, stored []byte, rawLen uint32) {
		e := packEntry{ID: id, RawLen: rawLen % (MaxBlobSize + 1), StoredLen: uint32(len(stored))}
		out, err := decodeBlob(stored, e, nil)
		if err == nil && string(out) != string(plain) {
			t.Fatalf("decodeBlob accepted content that does not hash to its id")
		}
	})
}

// fuzzCheckpoint is a signed checkpoint and the verifier that accepts it.
func fuzzCheckpoint() ([]byte, note.Verifier) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "fuzz")
	signer, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	good, _ := note.Sign(&note.Note{Text: string(checkpointBody("holdfast/acme/1", 5, make([]byte, 32)))}, signer)
	return good, v
}

func FuzzCheckpoint(f *testing.F) {
	good, v := fuzzCheckpoint()
	f.Add(good)
	f.Add([]byte("holdfast/acme/1\n5\nAAAA\n\n— fuzz abc\n"))
	f.Add([]byte("x")) // seeds go before f.Fuzz: after it they never run
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := ParseCheckpoint(msg, v)
		if err == nil && len(c.Root) != 32 {
			t.Fatalf("accepted checkpoint with a %d-byte root", len(c.Root))
		}
	})
}

// FuzzHeldCheckpoints: whatever file is handed to verify --checkpoint,
// it is refused or read into checkpoints signed by the log's key.
func FuzzHeldCheckpoints(f *testing.F) {
	good, v := fuzzCheckpoint()
	f.Add(good)
	b, _ := json.Marshal(Bundle{Format: BundleFormat, Kind: "inclusion", Checkpoint: string(good)})
	f.Add(b)
	f.Add([]byte(`{"format":"holdfast-proof/v1","kind":"consistency","old_checkpoint":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		exps, cks, err := ParseHeldCheckpoints(data, v, "held")
		if err != nil {
			return
		}
		if len(exps) == 0 || len(exps) != len(cks) {
			t.Fatalf("accepted %d expectations for %d checkpoints", len(exps), len(cks))
		}
		for _, e := range exps {
			if len(e.Root) != 32 || e.Origin == "" {
				t.Fatalf("accepted an expectation without a root or origin: %+v", e)
			}
		}
	})
}

func FuzzProofBundle(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "fuzz")
	signer, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	rec, _ := record.Encode(Record{Index: 0, Type: "audit.event"})
	leaf := LeafHash(rec)
	ck, _ := note.Sign(&note.Note{Text: string(checkpointBody("o", 1, leaf))}, signer)
	b, _ := json.Marshal(Bundle{Format: BundleFormat, Kind: "inclusion", Record: string(rec), Checkpoint: string(ck), Proof: [][]byte{}})
	f.Add(b)
	cb, _ := json.Marshal(Bundle{Format: BundleFormat, Kind: "consistency", OldCheckpoint: string(ck), NewCheckpoint: string(ck), Proof: [][]byte{}})
	f.Add(cb)
	f.Fuzz(func(t *testing.T, data []byte) {
		bundle, err := ParseBundle(data)
		if err != nil {
			return
		}
		_, _ = VerifyBundle(bundle, v)
	})
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
