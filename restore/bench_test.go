package restore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store/storetest"
)

// BenchmarkExport exports 10 KB messages to a directory as .eml files with
// the manifest (target of issue 4: 2,000 items/s).
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	s := storetest.Tenant(b, "bench")
	const n = 5000
	var total int64
	for i := 0; i < n; i++ {
		msg := synth.Message(5, i, 10000)
		total += int64(len(msg))
		ref, err := s.PutBytes(ctx, msg)
		if err != nil {
			b.Fatal(err)
		}
		data := map[string]any{"account": "alice@contoso.example", "workload": "mail", "item": fmt.Sprint("M", i), "path": fmt.Sprintf("Inbox/F%d", i%20), "mail": map[string]any{"subject": fmt.Sprint("Subject ", i)}}
		if _, err := s.Append(ctx, record.TypeItemVersion, data, ref); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	vs, err := Select(ctx, s, Scope{})
	if err != nil || len(vs) != n {
		b.Fatalf("select: %d, %v", len(vs), err)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Export(ctx, s, vs, filepath.Join(b.TempDir(), "out"), ExportOptions{})
		if err != nil || res.Items != n {
			b.Fatalf("export: %v %+v", err, res)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
}
