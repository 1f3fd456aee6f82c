// Package s3 keeps a Holdfast repository in an S3-compatible bucket, with
// S3 Object Lock where the bucket has it (aws-sdk-go-v2; only this package
// imports it). Objects are created with If-None-Match: *, so nothing is
// ever overwritten, not even by a racing writer; each is written with an
// explicit lock mode and retain-until date when the backend is given a
// retention, never relying on the bucket's default retention.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// Retention is how objects are locked: Mode "GOVERNANCE" or "COMPLIANCE"
// for For from their creation; the zero value locks nothing.
type Retention struct {
	Mode string
	For  time.Duration
}

// Backend is a repository under a key prefix of a bucket.
type Backend struct {
	client    *awss3.Client
	bucket    string
	prefix    string // "" or ending in "/"
	retention Retention
	now       func() time.Time
	cache     *cache // recently written objects, for ReadAt; nil: none
}

// New returns the backend over bucket/prefix through client.
func New(client *awss3.Client, bucket, prefix string, r Retention) *Backend {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Backend{client: client, bucket: bucket, prefix: prefix, retention: r, now: time.Now}
}

// Options configure Open.
type Options struct {
	// Endpoint, if set, is the S3 endpoint (versitygw, MinIO, another
	// cloud); otherwise the AWS SDK's own (AWS_ENDPOINT_URL, the region's).
	Endpoint string
	// PathStyle addresses buckets in the path (most S3-compatible servers).
	PathStyle bool
	Region    string
	Retention Retention
	// CacheDir, if set, keeps copies of the objects this process wrote,
	// up to CacheBytes (DefaultCacheBytes if 0), newest kept, from which
	// ReadAt serves: a backup's index reads each message it just wrote,
	// and a request per message to the bucket would halve its speed.
	// Open (verify, log scans) always reads the bucket.
	CacheDir   string
	CacheBytes int64
}

// DefaultCacheBytes is the default size of the written-object cache.
const DefaultCacheBytes = 512 << 20

// Open returns the backend for a repository URL s3://bucket/prefix, with
// credentials from the usual AWS sources (environment, shared config,
// instance roles).
func Open(ctx context.Context, repoURL string, o Options) (*Backend, error) {
	const op = "open s3 repository"
	u, err := url.Parse(repoURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "%q: want s3://bucket/prefix", repoURL)
	}
	var lo []func(*config.LoadOptions) error
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(cfg, func(c *awss3.Options) {
		if o.Endpoint != "" {
			c.BaseEndpoint = aws.String(o.Endpoint)
		}
		c.UsePathStyle = o.PathStyle
		// Every object is hash-checked by the store when read; the SDK's
		// own response checksums are asked for only where S3 requires them,
		// and it does not log their absence.
		c.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		c.DisableLogOutputChecksumValidationSkipped = true
	})
	b := New(client, u.Host, strings.TrimPrefix(u.Path, "/"), o.Retention)
	if o.CacheDir != "" {
		if o.CacheBytes == 0 {
			o.CacheBytes = DefaultCacheBytes
		}
		b.cache = newCache(o.CacheDir, o.CacheBytes)
	}
	return b, nil
}

func (b *Backend) key(name string) string { return b.prefix + name }

// CheckLock refuses a bucket without Object Lock when the backend locks
// what it writes: such a bucket would refuse every write, and a
// repository that must be WORM is refused before its first object.
func (b *Backend) CheckLock(ctx context.Context) error {
	if b.retention.Mode == "" {
		return nil
	}
	return b.LockEnabled(ctx)
}

// LockEnabled returns nil when the bucket has Object Lock, and an error
// that says so otherwise.
func (b *Backend) LockEnabled(ctx context.Context) error {
	out, err := b.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String(b.bucket)})
	if err != nil || out.ObjectLockConfiguration == nil || out.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		why := "it has no Object Lock configuration"
		if err != nil && code(err) != "ObjectLockConfigurationNotFoundError" {
			why = err.Error()
		}
		return holdfast.Errorf("s3 object lock", holdfast.Invalid, "bucket %s cannot hold a locked repository: %s (create it with Object Lock enabled)", b.bucket, why)
	}
	return nil
}

// Put creates the object once: If-None-Match: * makes a second create of
// the name fail (412) whoever made the first.
func (b *Backend) Put(ctx context.Context, name string, data []byte) error {
	if err := b.put(ctx, name, func() io.ReadSeeker { return bytes.NewReader(data) }, int64(len(data))); err != nil {
		return err
	}
	b.cache.put(name, data)
	return nil
}

// PutFile creates the object from the file, as Put does, streaming it
// (store.FilePutter): a pack is uploaded from the file it was assembled
// in, never held in memory.
func (b *Backend) PutFile(ctx context.Context, name string, f *os.File, size int64) error {
	if err := b.put(ctx, name, func() io.ReadSeeker { return io.NewSectionReader(f, 0, size) }, size); err != nil {
		return err
	}
	b.cache.putFile(name, f, size)
	return nil
}

func (b *Backend) put(ctx context.Context, name string, body func() io.ReadSeeker, size int64) error {
	const op = "s3 put"
	in := &awss3.PutObjectInput{
		Bucket:            aws.String(b.bucket),
		Key:               aws.String(b.key(name)),
		Body:              body(),
		ContentLength:     aws.Int64(size),
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if b.retention.Mode != "" {
		in.ObjectLockMode = types.ObjectLockMode(b.retention.Mode)
		in.ObjectLockRetainUntilDate = aws.Time(b.now().Add(b.retention.For).UTC())
	}
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if _, err = b.client.PutObject(ctx, in); err == nil {
			return nil
		}
		switch code(err) {
		case "PreconditionFailed":
			return holdfast.Errorf(op, holdfast.Exist, "%s already exists; an object is never replaced", name)
		case "ConditionalRequestConflict":
			// Another create of the name is in flight: ask again, and the
			// answer is 412 once it has landed.
			in.Body = body()
			time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
			continue
		}
		break
	}
	return holdfast.E(op, holdfast.IO, err, name)
}

// Open streams the object.
func (b *Backend) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(name))})
	if err != nil {
		return nil, mapErr("s3 get", name, err)
	}
	return out.Body, nil
}

// ReadAt reads len(p) bytes at off.
func (b *Backend) ReadAt(ctx context.Context, name string, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	if b.cache.readAt(name, p, off) {
		return nil
	}
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(name)),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))})
	if err != nil {
		return mapErr("s3 read", name, err)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, p); err != nil {
		return holdfast.Errorf("s3 read", holdfast.Integrity, "%s: short read of %d bytes at %d: %v", name, len(p), off, err)
	}
	return nil
}

// Size returns the object's size.
func (b *Backend) Size(ctx context.Context, name string) (int64, error) {
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(name))})
	if err != nil {
		return 0, mapErr("s3 head", name, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// List calls fn for each object under prefix, in lexical order (S3 lists
// keys in UTF-8 binary order).
func (b *Backend) List(ctx context.Context, prefix string, fn func(name string, size int64) error) error {
	p := awss3.NewListObjectsV2Paginator(b.client, &awss3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String(b.key(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return mapErr("s3 list", prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(strings.TrimPrefix(aws.ToString(o.Key), b.prefix), aws.ToInt64(o.Size)); err != nil {
				return err
			}
		}
	}
	return nil
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func mapErr(op, name string, err error) error {
	var nk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) || code(err) == "NoSuchKey" || code(err) == "NotFound" {
		return holdfast.Errorf(op, holdfast.NotFound, "%s does not exist", name)
	}
	return holdfast.E(op, holdfast.IO, err, name)
}

func init() {
	store.RegisterRemote("s3", func(ctx context.Context, r store.Remote) (store.Backend, error) {
		return Open(ctx, r.URL, Options{Endpoint: r.Endpoint, PathStyle: r.PathStyle, Region: r.Region,
			Retention: Retention{Mode: strings.ToUpper(r.LockMode), For: time.Duration(r.LockDays) * 24 * time.Hour},
			CacheDir:  r.CacheDir})
	})
}

// SetLegalHold puts the object's current version under a legal hold, or
// takes it off: while it is on, the version cannot be deleted whatever its
// retention (on AWS; see docs/STORAGE.md for versitygw's gap).
func (b *Backend) SetLegalHold(ctx context.Context, name string, on bool) error {
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	_, err := b.client.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(name)),
		LegalHold: &types.ObjectLockLegalHold{Status: status}})
	if err != nil {
		return mapErr("s3 legal hold", name, err)
	}
	return nil
}
