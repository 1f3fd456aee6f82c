package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/schedule/scheduletest"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) // a Sunday

func mustParse(t *testing.T, tenant string, s record.Schedule) *Plan {
	t.Helper()
	p, err := Parse(tenant, s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name string
		s    record.Schedule
		want string
	}{
		{"bad cron", record.Schedule{Backup: "every four hours"}, "backup"},
		{"too often", record.Schedule{Backup: "@every 1m"}, "at most every 5 minutes"},
		{"bad jitter", record.Schedule{Backup: "@every 4h", BackupJitter: "half an hour"}, "jitter"},
		{"percent", record.Schedule{Verify: "@weekly", VerifyReadPercent: 101}, "percent"},
		{"sample", record.Schedule{RestoreTest: "@monthly"}, "restore sample"},
		{"report kind", record.Schedule{Report: "@monthly"}, "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("contoso", tt.s)
			if !holdfast.Is(holdfast.Invalid, err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an Invalid error naming %q", err, tt.want)
			}
		})
	}
	if _, err := Parse("contoso", Default()); err != nil {
		t.Errorf("the default schedule: %v", err)
	}
}

// A weekly verify that last ran three weeks ago runs once at start-up,
// not three times, and next on the following Sunday at 03:00.
func TestMissedSlotRunsOnceAtStart(t *testing.T) {
	s := New(4)
	s.SetPlan("contoso", mustParse(t, "contoso", record.Schedule{Verify: "0 3 * * 0"}), t0.AddDate(-1, 0, 0))
	s.Ran("contoso", Verify, t0.AddDate(0, 0, -21))
	jobs := s.Start(t0)
	if len(jobs) != 1 || jobs[0].Kind != Verify || !jobs[0].Due.Equal(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("at start-up: got %v, want the one verify missed since 22 November", jobs)
	}
	s.Done(jobs[0])
	if more := s.Start(t0.Add(time.Minute)); len(more) != 0 {
		t.Errorf("after the catch-up run: got %v, want nothing more", more)
	}
	if got, want := s.Wake(t0.Add(time.Minute)), time.Date(2026, 12, 13, 3, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next wake: got %v, want %v", got, want)
	}
}

// A backup that runs longer than its interval is never started twice; the
// slot it overran is caught up once when it ends.
func TestNoOverlap(t *testing.T) {
	s := New(4)
	s.SetPlan("contoso", mustParse(t, "contoso", record.Schedule{Backup: "@every 1h"}), t0)
	first := s.Start(t0)
	if len(first) != 1 {
		t.Fatalf("a tenant never backed up: got %v, want a backup at once", first)
	}
	for h := 1; h <= 3; h++ {
		if jobs := s.Start(t0.Add(time.Duration(h) * time.Hour)); len(jobs) != 0 {
			t.Fatalf("%dh into a running backup: started %v", h, jobs)
		}
	}
	s.Done(first[0])
	end := t0.Add(3*time.Hour + 10*time.Minute)
	if jobs := s.Start(end); len(jobs) != 1 {
		t.Fatalf("when the long backup ended: got %v, want one catch-up backup", jobs)
	}
	if jobs := s.Start(end.Add(time.Minute)); len(jobs) != 0 {
		t.Errorf("got %v, want nothing until an hour after the catch-up", jobs)
	}
}

// A tenant runs one job at a time: a verify due with a backup waits for it,
// and runs when it ends, while another tenant's verify runs at once.
func TestOneJobPerTenant(t *testing.T) {
	s := New(4)
	for _, tenant := range []string{"a", "b"} {
		s.SetPlan(tenant, mustParse(t, tenant, record.Schedule{Backup: "@every 1h", Verify: "@daily"}), t0.AddDate(0, 0, -2))
	}
	s.Ran("a", Backup, t0.Add(-2*time.Hour))
	s.Ran("b", Backup, t0)
	jobs := s.Start(t0)
	if len(jobs) != 2 || jobs[0].Tenant != "a" || jobs[0].Kind != Verify || jobs[1].Tenant != "b" || jobs[1].Kind != Verify {
		t.Fatalf("got %v, want a's verify (due first) and b's verify", jobs)
	}
	if more := s.Start(t0); len(more) != 0 {
		t.Fatalf("a's backup started beside its verify: %v", more)
	}
	s.Done(jobs[0])
	if next := s.Start(t0.Add(time.Minute)); len(next) != 1 || next[0].Tenant != "a" || next[0].Kind != Backup {
		t.Fatalf("after a's verify: got %v, want a's backup", next)
	}
}

// A job asked for now runs at the first chance, under the same rules.
func TestRunNow(t *testing.T) {
	s := New(1)
	s.SetPlan("a", mustParse(t, "a", record.Schedule{Backup: "@every 4h", Verify: "@weekly"}), t0)
	s.SetPlan("b", mustParse(t, "b", record.Schedule{Backup: "@every 4h"}), t0)
	s.Ran("a", Backup, t0)
	s.Ran("b", Backup, t0)
	if err := s.RunNow("nobody", Backup, t0); err == nil {
		t.Error("RunNow for an unscheduled tenant")
	}
	s.RunNow("a", Backup, t0.Add(time.Minute))
	s.RunNow("b", Backup, t0.Add(2*time.Minute))
	jobs := s.Start(t0.Add(3 * time.Minute))
	if len(jobs) != 1 || jobs[0].Tenant != "a" || jobs[0].Kind != Backup {
		t.Fatalf("got %v, want a's backup (asked first; one slot)", jobs)
	}
	s.Done(jobs[0])
	if jobs := s.Start(t0.Add(4 * time.Minute)); len(jobs) != 1 || jobs[0].Tenant != "b" {
		t.Fatalf("got %v, want b's backup next", jobs)
	}
	if jobs := s.Start(t0.Add(5 * time.Minute)); len(jobs) != 0 {
		t.Errorf("got %v after both ran, want nothing", jobs)
	}
}

// Backups start within the jitter window after their slot, spread over it
// by tenant, and the offset does not accumulate from run to run.
func TestJitterBounds(t *testing.T) {
	const jitter = 30 * time.Minute
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		tenant := fmt.Sprintf("tenant-%04d", i)
		p := mustParse(t, tenant, record.Schedule{Backup: "0 */4 * * *", BackupJitter: "30m"})
		off := p.Offset()
		if off < 0 || off >= jitter {
			t.Fatalf("%s: offset %v outside [0, %v)", tenant, off, jitter)
		}
		seen[off.Truncate(time.Minute)] = true
		last := t0
		for run := 0; run < 10; run++ {
			next := p.Next(Backup, last, t0)
			slot := next.Add(-off)
			if slot.Minute() != 0 || slot.Hour()%4 != 0 || slot.Second() != 0 {
				t.Fatalf("%s run %d: due %v is not a 4-hour slot plus %v", tenant, run, next, off)
			}
			last = next
		}
	}
	if len(seen) < 25 {
		t.Errorf("1,000 tenants start in only %d distinct minutes of the 30", len(seen))
	}
}

// With 1,000 tenants due at once and 4 backup slots, every tenant runs
// once before any runs twice, in the order they fell due, never more than
// 4 at a time.
func TestFairnessAcrossThousandTenants(t *testing.T) {
	const tenants, slots = 1000, 4
	s := New(slots)
	for i := 0; i < tenants; i++ {
		name := fmt.Sprintf("tenant-%04d", i)
		s.SetPlan(name, mustParse(t, name, record.Schedule{Backup: "@every 4h", BackupJitter: "30m"}), t0)
		s.Ran(name, Backup, t0.Add(-4*time.Hour)) // all due within the next half hour
	}
	now := t0
	runs := map[string]int{}
	var order []Job
	var running []Job
	for step := 0; step < 2000 && len(order) < tenants+100; step++ {
		for _, j := range s.Start(now) {
			if runs[j.Tenant] > 0 && len(runs) < tenants {
				t.Fatalf("%s ran twice before every tenant ran once (%d have)", j.Tenant, len(runs))
			}
			runs[j.Tenant]++
			order = append(order, j)
			running = append(running, j)
		}
		if len(running) > slots {
			t.Fatalf("%d backups at once, want at most %d", len(running), slots)
		}
		now = now.Add(time.Minute) // each backup takes a minute
		for _, j := range running {
			s.Done(j)
		}
		running = running[:0]
	}
	if len(runs) != tenants {
		t.Fatalf("%d tenants ran, want %d", len(runs), tenants)
	}
	for i := 1; i < tenants; i++ {
		if order[i].Due.Before(order[i-1].Due) {
			t.Fatalf("run %d (%v) fell due before run %d (%v): not first come, first served", i, order[i], i-1, order[i-1])
		}
	}
}

// The loop on a fake clock: a day of hourly backups and a daily verify,
// then a stop that waits for the running job.
func TestLoopOnAFakeClock(t *testing.T) {
	clock := scheduletest.NewClock(t0)
	s := New(2)
	s.SetPlan("contoso", mustParse(t, "contoso", record.Schedule{Backup: "@every 1h", Verify: "@daily"}), t0)
	s.Ran("contoso", Verify, t0)
	var mu sync.Mutex
	counts := map[Kind]int{}
	ranAt := map[Kind][]time.Time{}
	started, finished := 0, 0
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		Loop(ctx, s, clock, func(ctx context.Context, j Job) error {
			mu.Lock()
			counts[j.Kind]++
			ranAt[j.Kind] = append(ranAt[j.Kind], clock.Now())
			mu.Unlock()
			return nil
		}, nil, func(e Event) {
			mu.Lock()
			if e.Started {
				started++
			} else {
				finished++
			}
			mu.Unlock()
			clock.Reported()
		})
		close(stopped)
	}()
	running := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return started != finished
	}
	settle := func(mark int) { clock.Settle(t, mark, running, 10*time.Second) }
	settle(0)
	for i := 0; i < 24*6; i++ {
		if woke, mark := clock.Advance(10 * time.Minute); woke {
			settle(mark)
		}
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	if counts[Backup] != 25 {
		t.Errorf("backups from 10:00 to 10:00 the next day, hourly: %d (%v), want 25", counts[Backup], ranAt[Backup])
	}
	for i, at := range ranAt[Backup] {
		if want := t0.Add(time.Duration(i) * time.Hour); !at.Equal(want) {
			t.Errorf("backup %d ran at %v, want %v", i, at, want)
		}
	}
	if counts[Verify] != 1 || !ranAt[Verify][0].Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("daily verifies in a day: %v, want one at midnight", ranAt[Verify])
	}
}

// TestDeferredJobIsTriedAgainSoon: a job that could not start (another
// process holds the tenant's store) runs again After later, not at its
// next slot; a retry that would come after the next slot is not kept.
func TestDeferredJobIsTriedAgainSoon(t *testing.T) {
	clock := scheduletest.NewClock(t0)
	s := New(1)
	s.SetPlan("contoso", mustParse(t, "contoso", record.Schedule{Backup: "@every 4h"}), t0)
	var mu sync.Mutex
	var ranAt []time.Time
	var retries []time.Time
	started, finished := 0, 0
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		Loop(ctx, s, clock, func(ctx context.Context, j Job) error {
			mu.Lock()
			defer mu.Unlock()
			ranAt = append(ranAt, clock.Now())
			if len(ranAt) <= 2 {
				return &Deferred{Err: errors.New("held by another process"), After: 5 * time.Minute}
			}
			return nil
		}, nil, func(e Event) {
			mu.Lock()
			if e.Started {
				started++
			} else {
				finished++
				if !e.Retry.IsZero() {
					retries = append(retries, e.Retry)
				}
			}
			mu.Unlock()
			clock.Reported()
		})
		close(stopped)
	}()
	running := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return started != finished
	}
	clock.Settle(t, 0, running, 10*time.Second)
	for i := 0; i < 5*60; i++ {
		if woke, mark := clock.Advance(time.Minute); woke {
			clock.Settle(t, mark, running, 10*time.Second)
		}
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	want := []time.Time{t0, t0.Add(5 * time.Minute), t0.Add(10 * time.Minute), t0.Add(4*time.Hour + 10*time.Minute)}
	if fmt.Sprint(ranAt) != fmt.Sprint(want) {
		t.Errorf("attempts:\n got %v\nwant %v", ranAt, want)
	}
	if len(retries) != 2 {
		t.Errorf("deferrals reported: %v, want 2", retries)
	}

	// A retry after the next slot is pointless: the slot comes first.
	s2 := New(1)
	s2.SetPlan("contoso", mustParse(t, "contoso", record.Schedule{Backup: "@every 1h"}), t0)
	j := s2.Start(t0)[0]
	s2.Done(j)
	s2.Retry(j, t0.Add(2*time.Hour))
	if len(s2.retry) != 0 {
		t.Errorf("a retry past the next slot was kept: %v", s2.retry)
	}
	s2.Retry(j, t0.Add(30*time.Minute))
	if got := s2.Wake(t0); !got.Equal(t0.Add(30 * time.Minute)) {
		t.Errorf("wake with a retry before the next slot: %v, want %v", got, t0.Add(30*time.Minute))
	}
}
