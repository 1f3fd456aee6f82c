package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// emailCorpus makes n synthetic ~10 KB messages and their total size.
func emailCorpus(n int) ([][]byte, int64) {
	msgs := make([][]byte, n)
	var total int64
	for i := range msgs {
		msgs[i] = synth.Message(1, i, 10000)
		total += int64(len(msgs[i]))
	}
	return msgs, total
}

// benchStore opens a fresh unencrypted store in a temporary directory.
func benchStore(b *testing.B) *store.Store {
	dir := b.TempDir()
	return storetest.NewRepo(b, store.NewLocal(dir), dir, nil).Open(b)
}

// BenchmarkAppendEmail measures storing 10 KB email-like items, each with
// its record, including pack and log writes and periodic checkpoints.
func BenchmarkAppendEmail(b *testing.B) {
	ctx := context.Background()
	const n = 2000
	msgs, total := emailCorpus(n)
	s := benchStore(b)
	defer s.Close(ctx)
	b.SetBytes(total / n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Distinct content each round so nothing is deduplicated away.
		msg := msgs[i%n]
		if i >= n {
			msg = append(bytes.Clone(msg), byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
		}
		ref, err := s.PutBytes(ctx, msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, synth.Meta(1, i), ref); err != nil {
			b.Fatal(err)
		}
		if i%5000 == 4999 {
			if _, _, err := s.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkAppendEmailParallel is BenchmarkAppendEmail with one writer per
// core, as ingest's workers write: hashing and compression run in parallel,
// the append to the open pack and log is serialised.
func BenchmarkAppendEmailParallel(b *testing.B) {
	ctx := context.Background()
	const n = 2000
	msgs, total := emailCorpus(n)
	s := benchStore(b)
	defer s.Close(ctx)
	var seq atomic.Int64
	b.SetBytes(total / n)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(seq.Add(1))
			msg := append(bytes.Clone(msgs[i%n]), byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
			ref, err := s.PutBytes(ctx, msg)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Append(ctx, record.TypeItemVersion, synth.Meta(1, i), ref); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if _, _, err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkAppendFile measures storing 4 MB file-like blobs with records.
func BenchmarkAppendFile(b *testing.B) {
	ctx := context.Background()
	var doc bytes.Buffer
	for i := 0; doc.Len() < 4_000_000; i++ {
		doc.Write(synth.Message(2, i, 10000))
	}
	base := doc.Bytes()[:4_000_000]
	dir := b.TempDir()
	r := storetest.NewRepo(b, store.NewLocal(dir), dir, nil)
	s := r.Open(b)
	defer s.Close(ctx)
	b.SetBytes(int64(len(base)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := bytes.Clone(base)
		rand.Read(f[:64]) // distinct file each time
		ref, err := s.PutBytes(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"i": i}, ref); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVerify measures a full verify of a repository of 10 KB items.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	r := storetest.NewRepo(b, store.NewLocal(dir), dir, nil)
	s := r.Open(b)
	defer s.Close(ctx)
	total := storetest.AppendMail(b, s, 3, 5000)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := s.Verify(ctx, store.VerifyOptions{})
		if err != nil || !rep.OK {
			b.Fatalf("verify: %v %v", err, rep.Failures)
		}
	}
}

// peakHeap samples the live heap while f runs and returns the peak in MiB.
func peakHeap(f func()) float64 {
	runtime.GC()
	var peak uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return float64(peak) / (1 << 20)
}

// BenchmarkMemory shows that the heap needed to append and to verify does
// not grow with the repository (beyond the ~100 bytes per blob of the blob
// index): it appends and verifies repositories of increasing size and
// reports the peak live heap of each.
func BenchmarkMemory(b *testing.B) {
	ctx := context.Background()
	for _, items := range []int{5000, 20000, 80000} {
		b.Run(fmt.Sprintf("items=%d", items), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				r := storetest.NewRepo(b, store.NewLocal(dir), dir, nil)
				s := r.Open(b)
				appendPeak := peakHeap(func() {
					for j := 0; j < items; j++ {
						ref, err := s.PutBytes(ctx, synth.Message(9, j, 10000))
						if err != nil {
							b.Fatal(err)
						}
						if _, err := s.Append(ctx, record.TypeItemVersion, synth.Meta(9, j), ref); err != nil {
							b.Fatal(err)
						}
					}
					if _, _, err := s.Checkpoint(ctx); err != nil {
						b.Fatal(err)
					}
				})
				verifyPeak := peakHeap(func() {
					rep, err := s.Verify(ctx, store.VerifyOptions{})
					if err != nil || !rep.OK {
						b.Fatalf("verify: %v", err)
					}
				})
				s.Close(ctx)
				b.ReportMetric(appendPeak, "append-peak-MiB")
				b.ReportMetric(verifyPeak, "verify-peak-MiB")
			}
		})
	}
}
