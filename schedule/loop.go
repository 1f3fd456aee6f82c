package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock is time as the loop sees it: the real one, or a test's.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the system's clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Runner runs one job; its ctx is cancelled when the service stops, and a
// run then stops as a cancelled command does (a backup flushes what it
// captured and resumes at the next start).
type Runner func(ctx context.Context, j Job) error

// Event is what the loop reports: a job started, or ended (Err set when it
// failed; Retry set when it was deferred, see Deferred).
type Event struct {
	Job      Job
	Started  bool
	Finished bool
	Err      error
	At       time.Time
	Retry    time.Time
}

// Deferred is a Runner's error for a job that could not start for a
// reason that passes — another process holds the tenant's store, say
// while an operator runs a backup by hand: the job is tried again After
// from now instead of at its next slot, and it is not a failure.
type Deferred struct {
	Err   error
	After time.Duration
}

func (d *Deferred) Error() string {
	return fmt.Sprintf("%v (tried again in %s)", d.Err, d.After)
}

func (d *Deferred) Unwrap() error { return d.Err }

// idle is how long the loop sleeps when nothing is scheduled: it still
// wakes to apply changes sent to it.
const idle = time.Hour

// Loop starts jobs as they fall due until ctx is done, then waits for the
// running ones to return. Changes to the scheduler (a tenant's new plan)
// are sent on changes and applied between jobs, in the loop's goroutine.
func Loop(ctx context.Context, s *Scheduler, clock Clock, run Runner, changes <-chan func(*Scheduler), report func(Event)) {
	if report == nil {
		report = func(Event) {}
	}
	type result struct {
		j   Job
		err error
	}
	done := make(chan result)
	running := 0
	for {
		now := clock.Now()
		if ctx.Err() == nil {
			for _, j := range s.Start(now) {
				running++
				report(Event{Job: j, Started: true, At: now})
				go func(j Job) {
					err := run(ctx, j)
					done <- result{j, err}
				}(j)
			}
		}
		wait := idle
		if w := s.Wake(now); !w.IsZero() {
			wait = min(wait, w.Sub(now))
		}
		select {
		case <-ctx.Done():
			for ; running > 0; running-- {
				r := <-done
				s.Done(r.j)
				report(Event{Job: r.j, Finished: true, Err: r.err, At: clock.Now()})
			}
			return
		case r := <-done:
			running--
			s.Done(r.j)
			e := Event{Job: r.j, Finished: true, Err: r.err, At: clock.Now()}
			var d *Deferred
			if errors.As(r.err, &d) {
				e.Retry = e.At.Add(d.After)
				s.Retry(r.j, e.Retry)
			}
			report(e)
		case f := <-changes:
			f(s)
		case <-clock.After(wait):
		}
	}
}
