package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// Leases (store.Leaser): the lease of a repository is an object beside
// it, "lease", never locked, being replaced by design.

const leaseName = "lease"

// LeaseTag is the object tag every lease version carries.
const LeaseTag = "holdfast-lease"

// Lease, LeaseHeldError and ErrLeaseLost are the store's.
type (
	Lease          = store.Lease
	LeaseHeldError = store.LeaseHeldError
)

// ErrLeaseLost is store.ErrLeaseLost.
var ErrLeaseLost = store.ErrLeaseLost

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
	if err := b.writeLease(ctx, &next, l.Token, false); err != nil {
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
	return b.writeLease(ctx, &next, l.Token, false)
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
	// Tagged, so that one lifecycle rule on the tag can expire the old
	// versions each renewal leaves in a versioned bucket (docs/DEPLOY.md).
	in := &awss3.PutObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(leaseName)), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		Tagging: aws.String(LeaseTag + "=1")}
	if create {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := b.client.PutObject(ctx, in)
	if err == nil {
		l.Token = aws.ToString(out.ETag)
		return nil
	}
	switch code(err) { // "" for an error that is not S3's answer: a timeout, a reset
	case "PreconditionFailed", "ConditionalRequestConflict":
		if create {
			return &LeaseHeldError{Holder: Lease{Worker: "another worker"}}
		}
		return ErrLeaseLost
	}
	return holdfast.E("lease", holdfast.IO, err)
}

var _ store.Leaser = (*Backend)(nil)
