// Package quickxor implements QuickXorHash, the content hash OneDrive for
// Business and SharePoint report for files (file.hashes.quickXorHash): a
// 160-bit circular shift-xor of the bytes, with the length xored into the
// last 64 bits, written in base64.
package quickxor

import (
	"encoding/base64"
	"encoding/binary"
	"hash"
)

const (
	width = 160 // bits
	shift = 11
	cells = (width-1)/64 + 1
	// Size is the digest's size in bytes.
	Size = width / 8
)

// Digest is a streaming QuickXorHash. The zero value is ready to use.
type Digest struct {
	data   [cells]uint64
	shift  int // where the next byte lands, in bits
	length uint64
}

var _ hash.Hash = (*Digest)(nil)

// New returns a new digest.
func New() *Digest { return &Digest{} }

func (d *Digest) Write(p []byte) (int, error) {
	idx, off := d.shift/64, d.shift%64
	for i := 0; i < min(len(p), width); i++ {
		last := idx == cells-1
		bits := 64
		if last {
			bits = width % 64
		}
		if off <= bits-8 {
			// The byte fits in this cell: every byte width positions on
			// lands on the same bits.
			for j := i; j < len(p); j += width {
				d.data[idx] ^= uint64(p[j]) << off
			}
		} else {
			// The byte straddles this cell and the next (the first, after
			// the last).
			next := idx + 1
			if last {
				next = 0
			}
			var x byte
			for j := i; j < len(p); j += width {
				x ^= p[j]
			}
			d.data[idx] ^= uint64(x) << off
			d.data[next] ^= uint64(x) >> (bits - off)
		}
		off += shift
		if off >= bits {
			off -= bits
			idx = (idx + 1) % cells
		}
	}
	d.shift = (d.shift + shift*(len(p)%width)) % width
	d.length += uint64(len(p))
	return len(p), nil
}

// Sum appends the digest to b.
func (d *Digest) Sum(b []byte) []byte {
	var out [Size]byte
	binary.LittleEndian.PutUint64(out[0:], d.data[0])
	binary.LittleEndian.PutUint64(out[8:], d.data[1])
	binary.LittleEndian.PutUint32(out[16:], uint32(d.data[2]))
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], d.length)
	for i := range n {
		out[Size-8+i] ^= n[i]
	}
	return append(b, out[:]...)
}

// Reset clears the digest.
func (d *Digest) Reset() { *d = Digest{} }

// Size returns Size.
func (d *Digest) Size() int { return Size }

// BlockSize returns 1: the hash takes bytes one at a time.
func (d *Digest) BlockSize() int { return 1 }

// Base64 returns the digest as Graph writes it.
func (d *Digest) Base64() string { return base64.StdEncoding.EncodeToString(d.Sum(nil)) }

// Sum returns the base64 QuickXorHash of b.
func Sum(b []byte) string {
	d := New()
	d.Write(b)
	return d.Base64()
}
