package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// Tenants in a bucket may be written by several workers (holdfast serve
// on several machines): a write needs the tenant's lease (store.Leaser),
// which this process takes once per tenant however many opens nest within
// it, renews every third of its life, and gives up when the last of them
// closes. A worker that cannot renew stops writing a quarter of a lease
// period before the lease can lapse: the store's Fence shuts and the
// context of the work done under the lease is cancelled. Local tenants
// have no lease: the writer lock on this machine is the only writer's.

// DefaultLeaseTTL is how long a lease lasts unless renewed: a dead
// worker's tenants are taken over within it.
const DefaultLeaseTTL = 2 * time.Minute

// defaultWorker names this process to other workers: host and pid, so
// that a restarted process waits for its predecessor's leases to lapse
// rather than assume they are its own.
func defaultWorker() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "localhost"
	}
	return fmt.Sprintf("%s:%d", h, os.Getpid())
}

// heldLease is a lease this process holds on a tenant.
type heldLease struct {
	tenant string
	leaser store.Leaser
	ttl    time.Duration

	mu    sync.Mutex
	lease store.Lease // as last written
	lost  error       // why the lease is gone or about to lapse, once it is
	refs  int

	ctx    context.Context // cancelled when the fence shuts
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the renewer has stopped
}

// fence is the store's Fence: nil while the lease is safely held.
func (h *heldLease) fence() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return h.lost
	}
	if margin := h.ttl / 4; time.Now().After(h.lease.Expires.Add(-margin)) {
		h.lost = holdfast.Errorf("lease", holdfast.Locked, "the lease on tenant %s lapses at %s and could not be renewed: this worker stops writing it", h.tenant, h.lease.Expires.Format("2006-01-02T15:04:05.000Z07:00"))
		h.cancel(h.lost)
		return h.lost
	}
	return nil
}

// renew extends the lease every third of its life until ctx is done or
// the lease is lost. A renewal that fails for another reason (the bucket
// unreachable) is tried again; the fence shuts, and the work's context is
// cancelled, a quarter of a lease period before the lease can lapse if
// none succeeds by then.
func (h *heldLease) renew(ctx context.Context) {
	defer close(h.done)
	next := time.Now().Add(h.ttl / 3)
	for {
		h.mu.Lock()
		shut := h.lease.Expires.Add(-h.ttl / 4)
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(minTime(next, shut))):
		}
		if h.fence() != nil {
			return
		}
		if time.Now().Before(next) {
			continue
		}
		next = time.Now().Add(h.ttl / 3)
		h.mu.Lock()
		l := h.lease
		h.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, h.ttl/4)
		err := h.leaser.RenewLease(rctx, &l, h.ttl)
		cancel()
		h.mu.Lock()
		if err == nil {
			h.lease = l
		} else if errors.Is(err, store.ErrLeaseLost) && h.lost == nil {
			h.lost = holdfast.Errorf("lease", holdfast.Locked, "the lease on tenant %s was taken by another worker: this worker stops writing it", h.tenant)
			h.cancel(h.lost)
		}
		h.mu.Unlock()
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// leases are the tenants' leases this process holds.
type leases struct {
	mu     sync.Mutex
	held   map[string]*heldLease
	taking map[string]*sync.Mutex // a tenant's lease being taken
}

// holdTenant takes tenant's lease, or shares the one this process holds,
// and returns a context cancelled when the lease is about to lapse, the
// store's fence, and release (for every successful call, once). A tenant
// without leases returns ctx, a nil fence and a release that does
// nothing. Another worker's lease is a *store.LeaseHeldError.
func (a *App) holdTenant(ctx context.Context, tenant string) (context.Context, func() error, func(), error) {
	// One acquisition per tenant at a time, and none holding up another
	// tenant's: the bucket may be slow.
	a.leases.mu.Lock()
	if a.leases.taking == nil {
		a.leases.taking = map[string]*sync.Mutex{}
	}
	taking := a.leases.taking[tenant]
	if taking == nil {
		taking = &sync.Mutex{}
		a.leases.taking[tenant] = taking
	}
	a.leases.mu.Unlock()
	taking.Lock()
	defer taking.Unlock()

	a.leases.mu.Lock()
	if h := a.leases.held[tenant]; h != nil && h.fence() == nil {
		h.mu.Lock()
		h.refs++
		h.mu.Unlock()
		a.leases.mu.Unlock()
		return a.leaseContext(ctx, h), h.fence, func() { a.letGo(h) }, nil
	}
	a.leases.mu.Unlock()
	leaser, err := a.data.TenantLeaser(ctx, tenant)
	if err != nil {
		return nil, nil, nil, err
	}
	if leaser == nil {
		return ctx, nil, func() {}, nil
	}
	ttl := a.opts.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	l, err := leaser.AcquireLease(ctx, a.opts.Worker, ttl)
	if err != nil {
		return nil, nil, nil, err
	}
	hctx, cancel := context.WithCancelCause(context.Background())
	h := &heldLease{tenant: tenant, leaser: leaser, ttl: ttl, lease: *l, refs: 1, ctx: hctx, cancel: cancel, done: make(chan struct{})}
	a.leases.mu.Lock()
	if a.leases.held == nil {
		a.leases.held = map[string]*heldLease{}
	}
	a.leases.held[tenant] = h
	a.leases.mu.Unlock()
	go h.renew(hctx)
	return a.leaseContext(ctx, h), h.fence, func() { a.letGo(h) }, nil
}

// leaseContext is ctx, cancelled also when h's fence shuts.
func (a *App) leaseContext(ctx context.Context, h *heldLease) context.Context {
	c, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(h.ctx, func() { cancel(context.Cause(h.ctx)) })
	context.AfterFunc(c, func() { stop() })
	return c
}

// letGo drops one hold on h; the last releases the lease, so the next
// worker need not wait for it to lapse.
func (a *App) letGo(h *heldLease) {
	a.leases.mu.Lock()
	h.mu.Lock()
	h.refs--
	last := h.refs == 0
	h.mu.Unlock()
	if last && a.leases.held[h.tenant] == h {
		delete(a.leases.held, h.tenant)
	}
	a.leases.mu.Unlock()
	if !last {
		return
	}
	h.cancel(nil)
	<-h.done
	h.mu.Lock()
	l, lost := h.lease, h.lost
	h.mu.Unlock()
	if lost == nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.ttl/4)
		defer cancel()
		if err := h.leaser.ReleaseLease(ctx, &l); err != nil {
			a.note("tenant %s: the lease could not be released (%v); other workers take the tenant when it lapses", h.tenant, err)
		}
	}
}
