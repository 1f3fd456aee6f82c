package s3

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/holdfast/holdfast"
)

// versions lists every version and delete marker of the object name.
func (b *Backend) versions(ctx context.Context, name string) ([]types.ObjectVersion, []types.DeleteMarkerEntry, error) {
	key := b.key(name)
	var vs []types.ObjectVersion
	var dms []types.DeleteMarkerEntry
	p := awss3.NewListObjectVersionsPaginator(b.client, &awss3.ListObjectVersionsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, mapErr("s3 list versions", name, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == key {
				vs = append(vs, v)
			}
		}
		for _, d := range page.DeleteMarkers {
			if aws.ToString(d.Key) == key {
				dms = append(dms, d)
			}
		}
	}
	return vs, dms, nil
}

// RetainUntil is when the last version of the object name may be deleted
// under Object Lock (zero: now), and whether a legal hold keeps one.
func (b *Backend) RetainUntil(ctx context.Context, name string) (time.Time, bool, error) {
	vs, _, err := b.versions(ctx, name)
	if err != nil {
		return time.Time{}, false, err
	}
	var until time.Time
	held := false
	for _, v := range vs {
		ret, err := b.client.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String(b.bucket), Key: v.Key, VersionId: v.VersionId})
		if err == nil && ret.Retention != nil {
			if t := aws.ToTime(ret.Retention.RetainUntilDate); t.After(until) {
				until = t
			}
		}
		lh, err := b.client.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: aws.String(b.bucket), Key: v.Key, VersionId: v.VersionId})
		if err == nil && lh.LegalHold != nil && lh.LegalHold.Status == types.ObjectLockLegalHoldStatusOn {
			held = true
		}
	}
	return until.UTC(), held, nil
}

// Remove deletes every version of the object (store.Remover: only packs a
// disposal retired). A version Object Lock still retains, or a legal hold
// keeps, is refused, Locked, naming when it may go; nothing is deleted
// then.
func (b *Backend) Remove(ctx context.Context, name string) error {
	const op = "s3 remove"
	until, held, err := b.RetainUntil(ctx, name)
	if err != nil {
		return err
	}
	switch {
	case held:
		return holdfast.Errorf(op, holdfast.Locked, "%s is under an S3 legal hold: it cannot be removed while the hold is on", name)
	case until.After(b.now()):
		return holdfast.Errorf(op, holdfast.Locked, "%s is under Object Lock until %s: it can be removed from then", name, until.Format(time.RFC3339))
	}
	vs, dms, err := b.versions(ctx, name)
	if err != nil {
		return err
	}
	if len(vs) == 0 && len(dms) == 0 {
		return holdfast.Errorf(op, holdfast.NotFound, "%s does not exist", name)
	}
	for _, v := range vs {
		if _, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: v.Key, VersionId: v.VersionId}); err != nil {
			return mapErr(op, name, err)
		}
	}
	for _, d := range dms {
		if _, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: d.Key, VersionId: d.VersionId}); err != nil {
			return mapErr(op, name, err)
		}
	}
	b.cache.remove(name)
	return nil
}
