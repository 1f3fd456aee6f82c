package record

import (
	"encoding/json"
	"testing"
)

// BenchmarkCanonical measures the canonical encoding of a typical
// item.version's data (a message's metadata), which every captured
// version goes through once, against the first RFC 8785 version (on encoding/json's Decoder) and
// version 1's (Go's encoding/json).
func BenchmarkCanonical(b *testing.B) {
	data, err := json.Marshal(samples()[TypeItemVersion])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rfc8785", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Canonical(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rfc8785-decoder", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := canonicalByDecoder(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v1", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := encodeV1(Record{Type: TypeItemVersion, Data: data}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
