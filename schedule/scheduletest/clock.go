// Package scheduletest has a clock that tests move by hand, for the
// scheduler's loop and the service built on it.
package scheduletest

import (
	"sync"
	"testing"
	"time"
)

// Clock is a schedule.Clock a test moves with Advance. It numbers the
// loop's calls of After and the test's marks, so that a test can tell when
// the loop waits on the clock again (Settled).
type Clock struct {
	mu         sync.Mutex
	now        time.Time
	waiters    []waiter
	seq        int
	lastAfter  int
	lastReport int
	live       chan time.Time // the channel of the latest After: the one the loop waits on
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After delivers the time once the clock has been advanced by d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.lastAfter = c.seq
	ch := make(chan time.Time, 1)
	c.live = ch
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Reported marks an event the loop reported (call it from the loop's
// report function).
func (c *Clock) Reported() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.lastReport = c.seq
}

// Advance moves the clock and reports whether it woke the loop (fired the
// channel of its latest After), with the sequence number at that moment.
func (c *Clock) Advance(d time.Duration) (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	woke := false
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.c <- c.now
			woke = woke || w.c == c.live
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.seq++
	return woke, c.seq
}

// Settled reports whether the loop, with no job running, has come back to
// wait on the clock since mark (a tick fired before it came back is one it
// no longer waits on).
func (c *Clock) Settled(mark int, running bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !running && c.lastAfter > c.lastReport && c.lastAfter > mark
}

// Settle waits, up to timeout, until the loop has no job running
// (running reports whether it has) and waits on the clock again since
// mark; then the clock alone decides what runs next.
func (c *Clock) Settle(tb testing.TB, mark int, running func() bool, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.Settled(mark, running()) {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	tb.Fatal("the scheduler's loop did not settle")
}
