package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// benchItems is the number of item versions the benchmarks index
// (HOLDFAST_INDEX_BENCH_ITEMS, default 20,000).
func benchItems() int {
	if n, err := strconv.Atoi(os.Getenv("HOLDFAST_INDEX_BENCH_ITEMS")); err == nil && n > 0 {
		return n
	}
	return 20000
}

func benchStore(b *testing.B, n, size int) *store.Store {
	ctx := context.Background()
	s := storetest.Tenant(b, "bench")
	for i := 0; i < n; i++ {
		ref, err := s.PutBytes(ctx, synth.Message(9, i, size))
		if err != nil {
			b.Fatal(err)
		}
		data := map[string]any{"account": fmt.Sprintf("user%d@contoso.example", i%50), "account_id": fmt.Sprint("u", i%50), "workload": "mail",
			"item": fmt.Sprint("M", i), "path": fmt.Sprintf("Inbox/F%d", i%20)}
		if _, err := s.Append(ctx, record.TypeItemVersion, data, ref); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

// settledSize is the index directory's size once Bleve has removed the
// segments a merge replaced (it does so in the background, after
// ForceMerge returns): at most a minute's wait for one segment file.
func settledSize(dir string) int64 {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		zaps, _ := filepath.Glob(filepath.Join(dir, "store", "*.zap")) // scorch's own directory
		if len(zaps) <= 1 {
			break
		}
	}
	return dirSize(dir)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// BenchmarkIndex indexes typical messages (about 2 KB of text each) from
// the store: items/s and the index's size against the extracted text.
func BenchmarkIndex(b *testing.B) {
	n := benchItems()
	s := benchStore(b, n, 2500)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(b.TempDir(), "index")
		start := time.Now()
		ix, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		got, err := ix.Update(ctx, s, nil)
		if err != nil || got != n {
			b.Fatalf("indexed %d of %d: %v", got, n, err)
		}
		el := time.Since(start)
		if err := ix.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		size := settledSize(dir)
		ix.Close()
		var text int64
		s.Records(ctx, 0, func(_ []byte, r store.Record) error {
			if r.Type == record.TypeItemVersion {
				d, _ := (&Index{users: map[string]string{}}).extract(ctx, s, r)
				text += int64(len(d.Subject) + len(d.Body) + len(d.AttachmentText))
			}
			return nil
		})
		b.ReportMetric(float64(n)/el.Seconds(), "items/s")
		b.ReportMetric(float64(size)/float64(text), "index/text")
		b.ReportMetric(float64(text)/float64(n), "text-B/item")
	}
}

// BenchmarkQuery measures query latency (p50, p99) over the index for the
// kinds of query the issue names.
func BenchmarkQuery(b *testing.B) {
	n := benchItems()
	ctx := context.Background()
	ix := benchIndex(b, n)
	defer ix.Close()
	// The garbage of indexing a million items is collected before
	// measuring, as a server's would be long before: otherwise the
	// collections it takes land in one query in fifty.
	runtime.GC()
	for _, q := range []struct{ name, q string }{
		{"term", "reconciliation"},
		{"phrase", `"bank reconciliation"`},
		// A phrase of body words, each in nearly every item (bodies are
		// not paired: every item's positions are read).
		{"phrase-body", `"the ledger"`},
		{"property+date", "from:alice* sent>=2025-01-01 sent<2025-06-01"},
		{"wildcard", "recon*"},
		{"near", "ledger NEAR(3) noted"},
		// An amount of the first message: the items holding its key
		// (15195.) are checked against their stored numbers; and a phrase
		// holding it.
		{"number", "15195.58"},
		{"number-phrase", `"Dental 15195.58"`},
	} {
		b.Run(q.name, func(b *testing.B) {
			var lat []time.Duration
			var total int
			for i := 0; i < b.N; i++ {
				start := time.Now()
				res, err := ix.Search(ctx, nil, q.q, Options{Limit: 50, NoSnippets: true})
				if err != nil {
					b.Fatal(err)
				}
				lat, total = append(lat, time.Since(start)), res.Total
			}
			b.ReportMetric(float64(total), "hits")
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// benchIndex opens an index of n synthetic messages, compacted. With
// HOLDFAST_INDEX_BENCH_DIR set, it is kept there (as index-<n>) and
// reused by later runs: a million takes a quarter of an hour to build.
func benchIndex(b *testing.B, n int) *Index {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "index")
	if keep := os.Getenv("HOLDFAST_INDEX_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("index-%d", n))
		if ix, err := Open(dir); err == nil {
			if c, err := ix.DocCount(); err == nil && c == uint64(n) {
				b.Logf("reusing %s", dir)
				return ix
			}
			ix.Close()
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
	}
	s := benchStore(b, n, 2500)
	ix, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := ix.Update(ctx, s, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("indexed %d items at %.0f items/s", n, float64(n)/time.Since(start).Seconds())
	start = time.Now()
	// Measured on the index as Bleve's merger leaves it in time (and as
	// index rebuild ends): merged segments, no merge running meanwhile.
	if err := ix.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("compacted in %v; %d bytes", time.Since(start), settledSize(ix.dir))
	return ix
}
