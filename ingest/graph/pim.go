package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kjson "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Calendars lists a user's calendars.
func (c *Client) Calendars(ctx context.Context, userID string) ([]ingest.Container, error) {
	cb := c.gc.Users().ByUserId(userID).Calendars()
	resp, err := cb.Get(ctx, nil)
	var out []ingest.Container
	for {
		if err != nil {
			return nil, classify("list calendars", err)
		}
		for _, cal := range resp.GetValue() {
			out = append(out, ingest.Container{ID: deref(cal.GetId()), Name: deref(cal.GetName())})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = cb.WithUrl(next).Get(ctx, nil)
	}
}

// ContactFolders lists the default contacts folder (empty id) and every
// other contact folder.
func (c *Client) ContactFolders(ctx context.Context, userID string) ([]ingest.Container, error) {
	out := []ingest.Container{{ID: "", Name: "Contacts"}}
	fb := c.gc.Users().ByUserId(userID).ContactFolders()
	resp, err := fb.Get(ctx, nil)
	for {
		if err != nil {
			return nil, classify("list contact folders", err)
		}
		for _, f := range resp.GetValue() {
			out = append(out, ingest.Container{ID: deref(f.GetId()), Name: deref(f.GetDisplayName())})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = fb.WithUrl(next).Get(ctx, nil)
	}
}

// serialise writes a parsed Graph object back to JSON, its content.
func serialise(p absser.Parsable) ([]byte, error) {
	w := kjson.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", p); err != nil {
		return nil, err
	}
	return w.GetSerializedContent()
}

type pimObject interface {
	absser.Parsable
	GetId() *string
	GetChangeKey() *string
	GetAdditionalData() map[string]any
}

func jsonItem(o pimObject, title string, modified func() *time.Time) (ingest.JSONItem, error) {
	it := ingest.JSONItem{ID: deref(o.GetId())}
	if _, removed := o.GetAdditionalData()["@removed"]; removed {
		it.Removed = true
		return it, nil
	}
	it.ChangeKey, it.Title = deref(o.GetChangeKey()), title
	if t := modified(); t != nil {
		it.Modified = t.UTC()
	}
	b, err := serialise(o)
	if err != nil {
		return it, fmt.Errorf("serialise %s: %w", it.ID, err)
	}
	it.Content = b
	return it, nil
}

// EventsDelta follows a calendar's event delta.
func (c *Client) EventsDelta(ctx context.Context, userID, calendarID, link string, page func([]ingest.JSONItem) error) (string, error) {
	const op = "event delta"
	db := c.gc.Users().ByUserId(userID).Calendars().ByCalendarId(calendarID).Events().Delta()
	cfg := &users.ItemCalendarsItemEventsDeltaRequestBuilderGetRequestConfiguration{Headers: headers(`IdType="ImmutableId"`, fmt.Sprintf("odata.maxpagesize=%d", c.pageSize))}
	b := db
	if link != "" {
		b = db.WithUrl(link)
	}
	for {
		resp, err := b.GetAsDeltaGetResponse(ctx, cfg)
		if err != nil {
			return "", classify(op, err)
		}
		var items []ingest.JSONItem
		for _, e := range resp.GetValue() {
			it, err := jsonItem(e, deref(e.GetSubject()), e.GetLastModifiedDateTime)
			if err != nil {
				return "", holdfast.E(op, err)
			}
			it.HasAttachments = derefBool(e.GetHasAttachments())
			items = append(items, it)
		}
		if err := page(items); err != nil {
			return "", err
		}
		if next := deref(resp.GetOdataNextLink()); next != "" {
			b = db.WithUrl(next)
			continue
		}
		return deltaLink(op, resp.GetOdataDeltaLink())
	}
}

// ContactsDelta follows a contact folder's delta; folderID "" is the
// default Contacts folder.
func (c *Client) ContactsDelta(ctx context.Context, userID, folderID, link string, page func([]ingest.JSONItem) error) (string, error) {
	const op = "contact delta"
	h := headers(`IdType="ImmutableId"`, fmt.Sprintf("odata.maxpagesize=%d", c.pageSize))
	type deltaResp interface {
		GetValue() []models.Contactable
		GetOdataNextLink() *string
		GetOdataDeltaLink() *string
	}
	get := func(url string) (deltaResp, error) {
		if folderID == "" {
			b := c.gc.Users().ByUserId(userID).Contacts().Delta()
			if url != "" {
				b = b.WithUrl(url)
			}
			return b.GetAsDeltaGetResponse(ctx, &users.ItemContactsDeltaRequestBuilderGetRequestConfiguration{Headers: h})
		}
		b := c.gc.Users().ByUserId(userID).ContactFolders().ByContactFolderId(folderID).Contacts().Delta()
		if url != "" {
			b = b.WithUrl(url)
		}
		return b.GetAsDeltaGetResponse(ctx, &users.ItemContactFoldersItemContactsDeltaRequestBuilderGetRequestConfiguration{Headers: h})
	}
	url := link
	for {
		resp, err := get(url)
		if err != nil {
			return "", classify(op, err)
		}
		var items []ingest.JSONItem
		for _, ct := range resp.GetValue() {
			it, err := jsonItem(ct, deref(ct.GetDisplayName()), ct.GetLastModifiedDateTime)
			if err != nil {
				return "", holdfast.E(op, err)
			}
			items = append(items, it)
		}
		if err := page(items); err != nil {
			return "", err
		}
		if next := deref(resp.GetOdataNextLink()); next != "" {
			url = next
			continue
		}
		return deltaLink(op, resp.GetOdataDeltaLink())
	}
}

func deltaLink(op string, l *string) (string, error) {
	if deref(l) == "" {
		return "", holdfast.Errorf(op, holdfast.IO, "the Graph API ended a delta round without a delta link")
	}
	return *l, nil
}

// EventAttachments returns an event's file attachments with their bytes.
// Graph returns contentBytes inline, so an attachment is held in memory
// while it is stored (Outlook caps attachments at 150 MB).
func (c *Client) EventAttachments(ctx context.Context, userID, calendarID, eventID string) ([]ingest.Attachment, error) {
	const op = "list event attachments"
	ab := c.gc.Users().ByUserId(userID).Calendars().ByCalendarId(calendarID).Events().ByEventId(eventID).Attachments()
	resp, err := ab.Get(ctx, nil)
	var out []ingest.Attachment
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		for _, a := range resp.GetValue() {
			at := ingest.Attachment{Name: deref(a.GetName()), ContentType: deref(a.GetContentType())}
			if f, ok := a.(models.FileAttachmentable); ok {
				at.Content = f.GetContentBytes()
			} else {
				// Item and reference attachments have no bytes of their own;
				// their metadata is kept.
				b, err := serialise(a)
				if err != nil {
					return nil, holdfast.E(op, err)
				}
				at.Content = b
			}
			out = append(out, at)
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = ab.WithUrl(next).Get(ctx, nil)
	}
}
