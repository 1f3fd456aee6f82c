package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// PutBlob (streamed) and PutBytes (in memory) must give the same Ref for
// every size around the read buffers' and the chunk's boundaries, and the
// content must read back.
func TestPutBlobSizes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := storetest.NewRepo(t, store.NewLocal(dir), dir, nil)
	s := r.Open(t)
	defer s.Close(ctx)
	for _, n := range []int{0, 1, 16<<10 - 1, 16 << 10, 16<<10 + 1, 256<<10 - 1, 256 << 10, 256<<10 + 1, store.ChunkSize - 1, store.ChunkSize, store.ChunkSize + 1, 2*store.ChunkSize + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			content := bytes.Repeat([]byte{byte(n), byte(n >> 8), 'x'}, n/3+1)[:n]
			a, err := s.PutBlob(ctx, iotest.HalfReader(bytes.NewReader(content)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.PutBytes(ctx, content)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("PutBlob ref %v, PutBytes ref %v", a, b)
			}
			if a.SHA256 != sha256.Sum256(content) || a.Size != int64(n) {
				t.Errorf("ref %x/%d, want the SHA-256 and size of the content", a.SHA256, a.Size)
			}
			var out bytes.Buffer
			if err := s.ReadContent(ctx, a, &out); err != nil || !bytes.Equal(out.Bytes(), content) {
				t.Errorf("read back: %v (%d bytes)", err, out.Len())
			}
		})
	}
}

// A reader that fails part-way — an HTTP body cut short reports
// io.ErrUnexpectedEOF — must fail PutBlob, never store a shorter content.
func TestPutBlobReaderFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := storetest.NewRepo(t, store.NewLocal(dir), dir, nil).Open(t)
	defer s.Close(ctx)
	for _, n := range []int{10, 20 << 10, 300 << 10, store.ChunkSize + 10} {
		for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("connection reset by peer")} {
			r := io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(cause))
			if ref, err := s.PutBlob(ctx, r); err == nil || !errors.Is(err, cause) {
				t.Errorf("%d bytes then %v: PutBlob = %v, %v; want the reader's error", n, cause, ref, err)
			}
		}
	}
}
