package s3

import (
	"context"
	"testing"
	"time"

	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// BenchmarkBackends appends 5,000 mail-like items of 10 KB (a checkpoint
// at the end) and verifies them, on the local disk and in a bucket of a
// versitygw on loopback (Object Lock on, governance, an hour), in the same
// run: issue 20's comparison. go test -run '^$' -bench Backends
// -benchtime 1x ./store/s3
func BenchmarkBackends(b *testing.B) {
	for _, kind := range []string{"local", "s3"} {
		b.Run(kind, func(b *testing.B) {
			var g *gateway
			if kind == "s3" {
				g = startGateway(b)
			}
			for i := 0; i < b.N; i++ {
				benchBackend(b, g)
			}
		})
	}
}

// benchBackend appends and verifies on the local disk, or in a new
// bucket of g.
func benchBackend(b *testing.B, g *gateway) {
	ctx := context.Background()
	dir := b.TempDir()
	var be store.Backend = store.NewLocal(dir)
	if g != nil {
		be = g.backend(b, Retention{Mode: "GOVERNANCE", For: time.Hour})
	}
	r := storetest.NewRepo(b, be, dir, nil)
	s := r.Open(b)
	defer s.Close(ctx)
	const n = 5000
	start := time.Now()
	total := storetest.AppendMail(b, s, 7, n)
	appended := time.Since(start)
	start = time.Now()
	rep, err := s.Verify(ctx, store.VerifyOptions{})
	if err != nil || !rep.OK {
		b.Fatalf("verify: %v %v", err, rep.Failures)
	}
	verified := time.Since(start)
	b.ReportMetric(n/appended.Seconds(), "append-items/s")
	b.ReportMetric(float64(total)/appended.Seconds()/1e6, "append-MB/s")
	b.ReportMetric(float64(total)/verified.Seconds()/1e6, "verify-MB/s")
}
