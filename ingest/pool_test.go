package ingest

import (
	"context"
	"testing"
	"time"
)

// A freed slot goes to the waiting run that holds the fewest, not to the
// one that asked first: a tenant of many accounts does not starve a small
// one.
func TestPoolIsFair(t *testing.T) {
	p := NewPool(2)
	ctx := context.Background()
	big, small := "big", "small"
	for i := 0; i < 2; i++ {
		if err := p.acquire(ctx, big); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 2)
	go func() { p.acquire(ctx, big); got <- big }()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.waiting) == 1 })
	go func() { p.acquire(ctx, small); got <- small }()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.waiting) == 2 })
	p.release(big)
	if first := <-got; first != small {
		t.Errorf("the freed slot went to %q, which holds more, want %q", first, small)
	}
	p.release(big)
	if second := <-got; second != big {
		t.Errorf("the next slot went to %q, want %q", second, big)
	}

	// A waiter whose context ends leaves the queue, and its slot is not lost.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.acquire(cctx, "gone") }()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.waiting) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Error("a cancelled wait returned no error")
	}
	p.release(small)
	p.release(big)
	if p.busy != 0 || len(p.waiting) != 0 || len(p.held) != 0 {
		t.Errorf("after every release: busy %d, waiting %d, held %v; want an empty pool", p.busy, len(p.waiting), p.held)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
