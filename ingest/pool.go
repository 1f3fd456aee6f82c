package ingest

import (
	"context"
	"sync"
)

// DefaultAccounts is how many accounts a process backs up at once by
// default, across every tenant it backs up: as many as Veeam's proxy runs
// processing threads. Each account in progress holds little memory (a
// delta page's metadata, and at most 4 downloads streaming into the store),
// and Graph's limits are per mailbox, so what bounds this is the process's
// memory and CPU, not Microsoft's limits.
const DefaultAccounts = 64

// Pool is a process's budget of accounts in progress, shared by the runs
// that draw on it (holdfast serve backs up many tenants at once). It is
// fair: a freed slot goes to the waiting run that holds the fewest, so a
// tenant of 1,000 mailboxes does not starve a tenant of 10.
type Pool struct {
	mu      sync.Mutex
	size    int
	busy    int
	held    map[any]int
	waiting []*poolWaiter
}

type poolWaiter struct {
	owner any
	ready chan struct{}
}

// NewPool returns a pool of size slots (DefaultAccounts when size <= 0).
func NewPool(size int) *Pool {
	if size <= 0 {
		size = DefaultAccounts
	}
	return &Pool{size: size, held: map[any]int{}}
}

// Size is how many accounts the pool lets progress at once.
func (p *Pool) Size() int { return p.size }

// acquire waits for a slot for owner.
func (p *Pool) acquire(ctx context.Context, owner any) error {
	p.mu.Lock()
	if p.busy < p.size && len(p.waiting) == 0 {
		p.busy++
		p.held[owner]++
		p.mu.Unlock()
		return nil
	}
	w := &poolWaiter{owner: owner, ready: make(chan struct{})}
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, x := range p.waiting {
			if x == w {
				p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted as the context ended: give the slot back.
		p.releaseLocked(owner)
		return ctx.Err()
	}
}

// release returns owner's slot and hands it to the waiting owner that
// holds the fewest (the earliest among equals).
func (p *Pool) release(owner any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(owner)
}

func (p *Pool) releaseLocked(owner any) {
	p.busy--
	if p.held[owner]--; p.held[owner] <= 0 {
		delete(p.held, owner)
	}
	for p.busy < p.size && len(p.waiting) > 0 {
		best := 0
		for i, w := range p.waiting {
			if p.held[w.owner] < p.held[p.waiting[best].owner] {
				best = i
			}
		}
		w := p.waiting[best]
		p.waiting = append(p.waiting[:best], p.waiting[best+1:]...)
		p.busy++
		p.held[w.owner]++
		close(w.ready)
	}
}
