package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/holdfast/holdfast"
)

// Leases let several workers share the repositories of one bucket with no
// coordinator but S3 itself: a worker writes a repository only while it
// holds the repository's lease, an object beside it ("lease") created with
// If-None-Match and replaced only with If-Match on the ETag it read, so
// that of two workers racing for it exactly one wins. Each take-over
// raises the lease's epoch; a worker whose renewal fails has lost it and
// must stop writing before the lease's expiry, which is when another may
// take it. (The service does not use them yet: issue 20.)

const leaseName = "lease"

// Lease is a worker's hold on a repository until Expires.
type Lease struct {
	Worker  string    `json:"worker"`
	Epoch   uint64    `json:"epoch"`
	Expires time.Time `json:"expires"`
	etag    string
}

// LeaseHeldError: another worker holds the lease.
type LeaseHeldError struct{ Holder Lease }

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("the repository is leased by worker %q (epoch %d) until %s", e.Holder.Worker, e.Holder.Epoch, e.Holder.Expires.Format(time.RFC3339))
}

// ErrLeaseLost: the lease was taken or changed since this worker read it;
// the worker must stop writing the repository.
var ErrLeaseLost = holdfast.E("lease", holdfast.Locked, "the lease was lost: another worker holds the repository now")

// AcquireLease takes the repository's lease for worker for ttl: when there
// is none, when it has expired, or when worker holds it already (then it
// is renewed in the same epoch).
func (b *Backend) AcquireLease(ctx context.Context, worker string, ttl time.Duration) (*Lease, error) {
	cur, etag, err := b.readLease(ctx)
	now := b.now().UTC()
	switch {
	case holdfast.Is(holdfast.NotFound, err):
		l := &Lease{Worker: worker, Epoch: 1, Expires: now.Add(ttl)}
		if err := b.writeLease(ctx, l, "", true); err != nil {
			return nil, err
		}
		return l, nil
	case err != nil:
		return nil, err
	case cur.Worker != worker && now.Before(cur.Expires):
		return nil, &LeaseHeldError{Holder: cur}
	}
	l := &Lease{Worker: worker, Epoch: cur.Epoch, Expires: now.Add(ttl)}
	if cur.Worker != worker {
		l.Epoch++
	}
	if err := b.writeLease(ctx, l, etag, false); err != nil {
		return nil, err
	}
	return l, nil
}

// RenewLease extends a held lease by ttl from now; ErrLeaseLost when
// another worker took it meanwhile.
func (b *Backend) RenewLease(ctx context.Context, l *Lease, ttl time.Duration) error {
	next := *l
	next.Expires = b.now().UTC().Add(ttl)
	if err := b.writeLease(ctx, &next, l.etag, false); err != nil {
		return err
	}
	*l = next
	return nil
}

// ReleaseLease gives the lease up at once, so the next worker need not
// wait for it to expire.
func (b *Backend) ReleaseLease(ctx context.Context, l *Lease) error {
	next := *l
	next.Expires = b.now().UTC()
	return b.writeLease(ctx, &next, l.etag, false)
}

func (b *Backend) readLease(ctx context.Context) (Lease, string, error) {
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(leaseName))})
	if err != nil {
		return Lease{}, "", mapErr("lease", leaseName, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 4<<10))
	if err != nil {
		return Lease{}, "", holdfast.E("lease", holdfast.IO, err)
	}
	var l Lease
	if err := json.Unmarshal(data, &l); err != nil {
		return Lease{}, "", holdfast.E("lease", holdfast.Integrity, err, "the lease object")
	}
	return l, aws.ToString(out.ETag), nil
}

// writeLease creates the lease (create) or replaces the version whose
// ETag is etag; a lease object is never locked, being replaced by design.
func (b *Backend) writeLease(ctx context.Context, l *Lease, etag string, create bool) error {
	data, _ := json.Marshal(l)
	in := &awss3.PutObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(leaseName)), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	if create {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := b.client.PutObject(ctx, in)
	switch code(err) {
	case "":
		l.etag = aws.ToString(out.ETag)
		return nil
	case "PreconditionFailed", "ConditionalRequestConflict":
		if create {
			return &LeaseHeldError{Holder: Lease{Worker: "another worker"}}
		}
		return ErrLeaseLost
	}
	return holdfast.E("lease", holdfast.IO, err)
}
