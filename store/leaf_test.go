package store

import (
	"encoding/hex"
	"testing"

	"github.com/holdfast/holdfast/record"
)

// TestLeafHashOfTheDocumentedRecord holds the worked example of
// docs/STORE.md ("The encoding"), whose hash was computed with sha256sum.
func TestLeafHashOfTheDocumentedRecord(t *testing.T) {
	b := []byte(`{"data":{"size":3},"index":2,"time":"2026-12-06T10:00:00Z","type":"checkpoint.issued"}`)
	r, err := record.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := record.Encode(r)
	if err != nil || string(again) != string(b) {
		t.Fatalf("re-encoded: %s, %v", again, err)
	}
	const want = "3d7e63beb0356fbb75c7018f377db96e80aa0ffa42217ffc8987ad40f18d1aa0"
	if got := hex.EncodeToString(LeafHash(b)); got != want {
		t.Errorf("leaf hash: got %s, want %s", got, want)
	}
}
