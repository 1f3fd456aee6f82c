package store

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
)

// Several workers — `holdfast serve` on several machines — may share the
// repositories of one bucket with no coordinator but the bucket itself: a
// worker writes a repository only while it holds the repository's lease
// (an object beside it, created with If-None-Match and replaced only with
// If-Match on what the worker read, so that of two racing workers exactly
// one wins). Each take-over raises the lease's epoch. The lease keeps
// workers from running the same job twice; what keeps the log one when a
// lease lapses under a worker that goes on writing is the batch names
// (see batchName). The application layer holds and renews leases and
// gives the store a Fence that shuts before the lease can lapse.

// Lease is a worker's hold on a repository until Expires.
type Lease struct {
	Worker  string    `json:"worker"`
	Epoch   uint64    `json:"epoch"`
	Expires time.Time `json:"expires"`
	// Token is what the backend needs to replace this version of the
	// lease and no other (an S3 ETag).
	Token string `json:"-"`
}

// LeaseHeldError says another worker holds the lease.
type LeaseHeldError struct{ Holder Lease }

func (e *LeaseHeldError) Error() string {
	if e.Holder.Expires.IsZero() {
		return fmt.Sprintf("the repository is leased by %s", e.Holder.Worker)
	}
	return fmt.Sprintf("the repository is leased by worker %q (epoch %d) until %s", e.Holder.Worker, e.Holder.Epoch, e.Holder.Expires.Format(time.RFC3339))
}

// ErrLeaseLost says the lease was taken or changed since this worker read
// it: the worker must stop writing the repository.
var ErrLeaseLost = holdfast.E("lease", holdfast.Locked, "the lease was lost: another worker holds the repository now")

// Leaser is a backend on which workers take leases (S3).
type Leaser interface {
	// AcquireLease takes the lease for worker for ttl: when there is
	// none, when it has expired, or when worker holds it already. Another
	// holder is a *LeaseHeldError.
	AcquireLease(ctx context.Context, worker string, ttl time.Duration) (*Lease, error)
	// RenewLease extends a held lease by ttl from now; ErrLeaseLost when
	// another worker took it meanwhile.
	RenewLease(ctx context.Context, l *Lease, ttl time.Duration) error
	// ReleaseLease gives the lease up at once.
	ReleaseLease(ctx context.Context, l *Lease) error
}

// TenantLeaser returns the lease operations of tenant name's repository,
// or nil when its backend has none (a local repository: the writer lock
// on this machine is the only writer's).
func (d DataDir) TenantLeaser(ctx context.Context, name string) (Leaser, error) {
	if err := holdfast.ValidateTenantName(name); err != nil {
		return nil, err
	}
	r, ok, err := readRemote(d.TenantDir(name))
	if err != nil || !ok {
		return nil, err
	}
	be, err := openRemote(ctx, r)
	if err != nil {
		return nil, err
	}
	l, _ := be.(Leaser)
	return l, nil
}
