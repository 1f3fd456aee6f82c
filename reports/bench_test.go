package reports

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/holdfast/holdfast/policy"
)

// BenchmarkReport renders and signs a procedures report for tenants of 100,
// 1,000 and 10,000 accounts with four workloads each (target: 10,000 in
// under 10 s and 500 MB).
func BenchmarkReport(b *testing.B) {
	dir := b.TempDir()
	if err := CreateSigner(dir, "bench"); err != nil {
		b.Fatal(err)
	}
	s, err := LoadSigner(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000, 10000} {
		m := &Model{Kind: "procedures", Tenant: "bench", From: t0, To: t0.Add(30 * 24 * time.Hour), Settings: policy.DefaultSettings(),
			Store: policy.StoreInfo{Backend: "local", ObjectLock: "none"}, Checkpoint: CheckpointSummary{Size: 99, Root: "ab", Note: "holdfast/x\n99\nqw==\n"}}
		last := t0
		for i := 0; i < n; i++ {
			for _, w := range []string{"mail", "calendar", "contacts", "onedrive"} {
				m.Coverage = append(m.Coverage, CoverageRow{Account: fmt.Sprintf("user%05d@contoso.example", i), Workload: w, State: "active", First: &last, Last: &last, Items: i, Bytes: int64(i) << 10})
			}
			if i%100 == 0 {
				m.Findings = append(m.Findings, policy.Finding{Rule: "stale-backup", Severity: "high", Account: fmt.Sprint("user", i), Message: "a finding a technician can act on"})
			}
		}
		b.Run(fmt.Sprint("accounts=", n), func(b *testing.B) {
			var peak uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				pdf, err := Render(m)
				if err != nil {
					b.Fatal(err)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				if _, err := Sign(context.Background(), pdf, *s, time.Now(), "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/report")
			b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
		})
	}
}
