package app

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
)

// ContentOptions name one captured part of an item version.
type ContentOptions struct {
	Item   string // the item's id, as search shows it
	Record uint64 // the item.version record of the version
	// Part is 0 for the item itself (a message's MIME, a file's bytes, an
	// event's, contact's or Teams message's JSON), n for its n-th
	// attachment or hosted content.
	Part int
}

// ContentInfo describes the bytes ItemContent writes.
type ContentInfo struct {
	Name        string // a safe file name to offer
	ContentType string // as captured where known; never a type to render
	Size        int64
	SHA256      string // hex, as the log recorded it
}

// ItemContent writes one captured part of an item version, as captured,
// and logs the read as an audit.event ("read") first: content a legal team
// downloads is accounted for before a byte leaves. start is called once the
// version is found and the read logged; it returns where the bytes go.
// The bytes are checked against the log's hash as they are written: on a
// mismatch ItemContent returns an Integrity error after a partial write,
// so the caller must treat everything written as void (the API announces
// the size, and a short body is then visible).
func (a *App) ItemContent(ctx context.Context, who Actor, tenant string, o ContentOptions, start func(ContentInfo) io.Writer) error {
	const op = "item content"
	if err := who.validate(op); err != nil {
		return err
	}
	if o.Item == "" {
		return holdfast.E(op, holdfast.Invalid, "name the item (its id, as search shows it)")
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return err
	}
	defer a.closeStore(ctx, s)
	notFound := holdfast.Errorf(op, holdfast.NotFound, "record %d is not a captured version of item %q", o.Record, o.Item)
	if o.Record >= s.Size() {
		return notFound
	}
	r, _, err := s.Record(ctx, o.Record)
	if err != nil {
		return err
	}
	if r.Type != record.TypeItemVersion {
		return notFound
	}
	var v record.ItemVersion
	if err := record.Unmarshal(r, r.Type, &v); err != nil {
		return err
	}
	if v.Item != o.Item {
		return notFound
	}
	if o.Part < 0 || o.Part >= len(r.Refs) {
		return holdfast.Errorf(op, holdfast.NotFound, "version %d of item %q has %d part(s): ask for 0 to %d", o.Record, o.Item, len(r.Refs), len(r.Refs)-1)
	}
	ref := r.Refs[o.Part]
	info := ContentInfo{Size: ref.Size, SHA256: ref.SHA256.String(), ContentType: "application/octet-stream"}
	switch {
	case o.Part > 0 && v.PIM != nil && o.Part-1 < len(v.PIM.Attachments):
		att := v.PIM.Attachments[o.Part-1]
		info.Name = att.Name
		if att.ContentType != "" {
			info.ContentType = att.ContentType
		}
	case v.Mail != nil:
		info.Name, info.ContentType = v.Mail.Subject+".eml", "message/rfc822"
	case v.File != nil:
		info.Name = v.File.Name
	case v.PIM != nil:
		info.Name, info.ContentType = v.PIM.Title+".json", "application/json"
	}
	info.Name = restore.FileName(info.Name)
	detail := fmt.Sprintf("content of item %s, version record %d", o.Item, o.Record)
	if o.Part > 0 {
		detail += ", part " + strconv.Itoa(o.Part)
	}
	ev := record.Audit{Action: "read", Actor: who.String(), Time: a.now().UTC(), Tenant: tenant, Hits: 1, Detail: detail}
	if _, err := logRead(ctx, s, record.TypeAudit, ev); err != nil {
		return err
	}
	return s.ReadContent(ctx, ref, start(info))
}
