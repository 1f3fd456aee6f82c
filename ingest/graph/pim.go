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
	err = pages("list calendars", resp, err, func(u string) (models.CalendarCollectionResponseable, error) { return cb.WithUrl(u).Get(ctx, nil) },
		func(cs []models.Calendarable) error {
			for _, cal := range cs {
				out = append(out, ingest.Container{ID: deref(cal.GetId()), Name: deref(cal.GetName())})
			}
			return nil
		})
	return out, err
}

// ContactFolders lists the default contacts folder (empty id) and every
// other contact folder.
func (c *Client) ContactFolders(ctx context.Context, userID string) ([]ingest.Container, error) {
	out := []ingest.Container{{ID: "", Name: "Contacts"}}
	fb := c.gc.Users().ByUserId(userID).ContactFolders()
	resp, err := fb.Get(ctx, nil)
	err = pages("list contact folders", resp, err, func(u string) (models.ContactFolderCollectionResponseable, error) { return fb.WithUrl(u).Get(ctx, nil) },
		func(fs []models.ContactFolderable) error {
			for _, f := range fs {
				out = append(out, ingest.Container{ID: deref(f.GetId()), Name: deref(f.GetDisplayName())})
			}
			return nil
		})
	return out, err
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
	return deltaPages(op, link, func(u string) (users.ItemCalendarsItemEventsDeltaGetResponseable, error) {
		if u == "" {
			return db.GetAsDeltaGetResponse(ctx, cfg)
		}
		return db.WithUrl(u).GetAsDeltaGetResponse(ctx, cfg)
	}, func(es []models.Eventable) error {
		var items []ingest.JSONItem
		for _, e := range es {
			it, err := jsonItem(e, deref(e.GetSubject()), e.GetLastModifiedDateTime)
			if err != nil {
				return holdfast.E(op, err)
			}
			it.HasAttachments = derefBool(e.GetHasAttachments())
			items = append(items, it)
		}
		return page(items)
	})
}

// ContactsDelta follows a contact folder's delta; folderID "" is the
// default Contacts folder.
func (c *Client) ContactsDelta(ctx context.Context, userID, folderID, link string, page func([]ingest.JSONItem) error) (string, error) {
	const op = "contact delta"
	h := headers(`IdType="ImmutableId"`, fmt.Sprintf("odata.maxpagesize=%d", c.pageSize))
	return deltaPages(op, link, func(u string) (contactsPage, error) {
		if folderID == "" {
			b := c.gc.Users().ByUserId(userID).Contacts().Delta()
			if u != "" {
				b = b.WithUrl(u)
			}
			return b.GetAsDeltaGetResponse(ctx, &users.ItemContactsDeltaRequestBuilderGetRequestConfiguration{Headers: h})
		}
		b := c.gc.Users().ByUserId(userID).ContactFolders().ByContactFolderId(folderID).Contacts().Delta()
		if u != "" {
			b = b.WithUrl(u)
		}
		return b.GetAsDeltaGetResponse(ctx, &users.ItemContactFoldersItemContactsDeltaRequestBuilderGetRequestConfiguration{Headers: h})
	}, func(cs []models.Contactable) error {
		var items []ingest.JSONItem
		for _, ct := range cs {
			it, err := jsonItem(ct, deref(ct.GetDisplayName()), ct.GetLastModifiedDateTime)
			if err != nil {
				return holdfast.E(op, err)
			}
			items = append(items, it)
		}
		return page(items)
	})
}

// contactsPage is a page of either contacts delta (default folder or other).
type contactsPage interface {
	GetValue() []models.Contactable
	GetOdataNextLink() *string
	GetOdataDeltaLink() *string
}

// EventAttachments returns an event's file attachments with their bytes.
// Graph returns contentBytes inline, so an attachment is held in memory
// while it is stored (Outlook caps attachments at 150 MB).
func (c *Client) EventAttachments(ctx context.Context, userID, calendarID, eventID string) ([]ingest.Attachment, error) {
	const op = "list event attachments"
	ab := c.gc.Users().ByUserId(userID).Calendars().ByCalendarId(calendarID).Events().ByEventId(eventID).Attachments()
	resp, err := ab.Get(ctx, nil)
	var out []ingest.Attachment
	err = pages(op, resp, err, func(u string) (models.AttachmentCollectionResponseable, error) { return ab.WithUrl(u).Get(ctx, nil) },
		func(as []models.Attachmentable) error {
			for _, a := range as {
				at := ingest.Attachment{Name: deref(a.GetName()), ContentType: deref(a.GetContentType())}
				if f, ok := a.(models.FileAttachmentable); ok {
					at.Content = f.GetContentBytes()
				} else {
					// Item and reference attachments have no bytes of their
					// own; their metadata is kept.
					b, err := serialise(a)
					if err != nil {
						return holdfast.E(op, err)
					}
					at.Content = b
				}
				out = append(out, at)
			}
			return nil
		})
	return out, err
}
