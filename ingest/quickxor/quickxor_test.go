package quickxor

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// Published test vectors (inputs base64-encoded), as used by other
// OneDrive clients.
func TestVectors(t *testing.T) {
	for in, want := range map[string]string{
		"":             "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"Sg==":         "SgAAAAAAAAAAAAAAAQAAAAAAAAA=",
		"tbQ=":         "taAFAAAAAAAAAAAAAgAAAAAAAAA=",
		"0pZP":         "0rDEEwAAAAAAAAAAAwAAAAAAAAA=",
		"jRRDVA==":     "jaDAEKgAAAAAAAAABAAAAAAAAAA=",
		"eAV52qE=":     "eChAHrQRCgAAAAAABQAAAAAAAAA=",
		"luBZlaT6":     "lgBHFipBCn0AAAAABgAAAAAAAAA=",
		"qaApEj66lw==": "qQBFCiTgA11cAgAABwAAAAAAAAA=",
		"/aNzzCFPS/A=": "/RjFHJgRgicsAR4ACAAAAAAAAAA=",
	} {
		b, _ := base64.StdEncoding.DecodeString(in)
		if got := Sum(b); got != want {
			t.Errorf("QuickXorHash(%s) = %s, want %s", in, got, want)
		}
	}
}

// Streaming in any chunking gives the one-shot digest, across the 160-byte
// wrap and the straddling cells.
func TestChunking(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := Sum(data)
	for _, chunk := range []int{1, 3, 7, 11, 64, 159, 160, 161, 1000} {
		d := New()
		for rest := data; len(rest) > 0; {
			n := min(chunk, len(rest))
			d.Write(rest[:n])
			rest = rest[n:]
		}
		if got := d.Base64(); got != want {
			t.Errorf("chunks of %d: %s, want %s", chunk, got, want)
		}
	}
	if Sum(bytes.Repeat([]byte{0}, 320)) == Sum(bytes.Repeat([]byte{0}, 160)) {
		t.Error("the length does not enter the digest")
	}
}
