package store

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Pack file layout:
//
//	blob 0 | blob 1 | … | header | uint32 LE header length | "HFP1"
//
// Each blob is a zstd frame of the plaintext, or when the repository is
// encrypted nonce||AES-256-GCM(zstd frame) with the blob id as additional
// data. The header lists, in file order, each blob's id, plaintext length and
// stored length (offsets follow by summing); it is sealed the same way when
// encrypted. A pack's name is the SHA-256 of the whole file.

const (
	packMagic       = "HFP1"
	packTrailerSize = 8
	headerEntryMin  = 32 + 1 + 1
	// MaxBlobSize bounds one blob's plaintext: content is split into chunks
	// of ChunkSize, so only corrupt headers claim more.
	MaxBlobSize = 16 << 20
	// ChunkSize is the size content is split into before it is stored.
	ChunkSize = 4 << 20
)

var headerAAD = []byte("holdfast pack header")

type packEntry struct {
	ID        ID
	RawLen    uint32 // plaintext length
	StoredLen uint32 // bytes in the pack
	Offset    uint32 // derived: offset in the pack
}

var (
	zenc     *zstd.Encoder
	zdec     *zstd.Decoder
	zstdOnce sync.Once
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err)
		}
		zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxBlobSize+1<<20))
		if err != nil {
			panic(err)
		}
	})
	return zenc, zdec
}

// encodeBlob appends the stored form of plain to dst.
func encodeBlob(dst []byte, id ID, plain []byte, s *sealer) []byte {
	enc, _ := codecs()
	if s == nil {
		return enc.EncodeAll(plain, dst)
	}
	z := enc.EncodeAll(plain, nil)
	return s.seal(dst, z, id[:])
}

// decodeBlob returns the plaintext of a stored blob and checks its length and
// hash against the header entry.
func decodeBlob(stored []byte, e packEntry, s *sealer) ([]byte, error) {
	return decodeBlobInto(make([]byte, 0, e.RawLen), stored, e, s)
}

// decodeBlobInto is decodeBlob writing the plaintext into dst's storage.
func decodeBlobInto(dst, stored []byte, e packEntry, s *sealer) ([]byte, error) {
	_, dec := codecs()
	z := stored
	if s != nil {
		var err error
		z, err = s.open(nil, stored, e.ID[:])
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", e.ID.Short(), err)
		}
	}
	plain, err := dec.DecodeAll(z, dst[:0])
	if err != nil {
		return nil, fmt.Errorf("blob %s: decompress: %w", e.ID.Short(), err)
	}
	if uint32(len(plain)) != e.RawLen {
		return nil, fmt.Errorf("blob %s: plaintext is %d bytes, header says %d", e.ID.Short(), len(plain), e.RawLen)
	}
	if sha256.Sum256(plain) != e.ID {
		return nil, fmt.Errorf("blob %s: content hash does not match its id", e.ID.Short())
	}
	return plain, nil
}

// encodeHeader returns the header and trailer for entries.
func encodeHeader(entries []packEntry, s *sealer) []byte {
	h := binary.AppendUvarint(nil, uint64(len(entries)))
	for _, e := range entries {
		h = append(h, e.ID[:]...)
		h = binary.AppendUvarint(h, uint64(e.RawLen))
		h = binary.AppendUvarint(h, uint64(e.StoredLen))
	}
	if s != nil {
		h = s.seal(nil, h, headerAAD)
	}
	h = binary.LittleEndian.AppendUint32(h, uint32(len(h)))
	return append(h, packMagic...)
}

// parseTrailer returns the header length from a pack's last 8 bytes.
func parseTrailer(t []byte, packSize int64) (int64, error) {
	if len(t) != packTrailerSize || string(t[4:]) != packMagic {
		return 0, errors.New("not a pack file (bad trailer magic)")
	}
	n := int64(binary.LittleEndian.Uint32(t[:4]))
	if n <= 0 || n > packSize-packTrailerSize {
		return 0, fmt.Errorf("header length %d does not fit in a %d-byte pack", n, packSize)
	}
	return n, nil
}

// parseHeader decodes a pack header (without trailer). dataLen is the number
// of bytes before the header; the entries must cover exactly that.
func parseHeader(h []byte, dataLen int64, s *sealer) ([]packEntry, error) {
	if s != nil {
		var err error
		h, err = s.open(nil, h, headerAAD)
		if err != nil {
			return nil, fmt.Errorf("pack header: %w", err)
		}
	}
	count, n := binary.Uvarint(h)
	if n <= 0 {
		return nil, errors.New("pack header: bad entry count")
	}
	h = h[n:]
	if count > uint64(len(h)/headerEntryMin) {
		return nil, fmt.Errorf("pack header: %d entries cannot fit in %d bytes", count, len(h))
	}
	entries := make([]packEntry, 0, count)
	var off uint64
	for i := uint64(0); i < count; i++ {
		if len(h) < 32 {
			return nil, fmt.Errorf("pack header: entry %d truncated", i)
		}
		var e packEntry
		copy(e.ID[:], h[:32])
		h = h[32:]
		raw, n := binary.Uvarint(h)
		if n <= 0 || raw > MaxBlobSize {
			return nil, fmt.Errorf("pack header: entry %d: bad plaintext length", i)
		}
		h = h[n:]
		stored, n := binary.Uvarint(h)
		if n <= 0 || stored == 0 || stored > MaxBlobSize+1<<20 {
			return nil, fmt.Errorf("pack header: entry %d: bad stored length", i)
		}
		h = h[n:]
		e.RawLen, e.StoredLen, e.Offset = uint32(raw), uint32(stored), uint32(off)
		off += stored
		if off > uint64(dataLen) {
			return nil, fmt.Errorf("pack header: entry %d ends at byte %d, past the %d bytes of blob data", i, off, dataLen)
		}
		entries = append(entries, e)
	}
	if len(h) != 0 {
		return nil, fmt.Errorf("pack header: %d trailing bytes", len(h))
	}
	if off != uint64(dataLen) {
		return nil, fmt.Errorf("pack header: entries cover %d bytes, pack holds %d bytes of blob data", off, dataLen)
	}
	return entries, nil
}
