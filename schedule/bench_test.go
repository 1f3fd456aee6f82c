package schedule

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkScheduler: one turn of the loop (the jobs due, then when to
// wake) with 1,000 tenants on the default schedule. A day of 1,000 such
// tenants is about 14,000 turns (a start and an end per job).
func BenchmarkScheduler(b *testing.B) {
	s := New(4)
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("tenant-%04d", i)
		p, err := Parse(name, Default())
		if err != nil {
			b.Fatal(err)
		}
		s.SetPlan(name, p, t0.AddDate(0, -1, 0))
		for _, k := range Kinds {
			s.Ran(name, k, t0.Add(-time.Duration(i)*time.Second))
		}
	}
	now := t0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, j := range s.Start(now) {
			s.Done(j)
		}
		s.Wake(now)
		now = now.Add(6 * time.Second)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*14000/(24*3600*1e9)*100, "%core-1000-tenants")
}
