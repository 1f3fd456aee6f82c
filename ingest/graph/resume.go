package graph

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/restore"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Reads a resumed restore makes: what an interrupted run already created,
// found by name or by a key of the item's own (Internet message id,
// transactionId, contact name and addresses), so that nothing is created
// twice.

// notFound turns Graph's 404 into the kind restore looks for.
func notFound(op, what string, err error) error {
	if errors.Is(err, ingest.ErrGone) {
		return holdfast.E(op, holdfast.NotFound, what)
	}
	return err
}

// Child returns the id and size of the item named name in parentID.
func (c *Client) Child(ctx context.Context, driveID, parentID, name string) (string, int64, error) {
	const op = "find drive item"
	it, err := c.gc.Drives().ByDriveId(driveID).Items().ByDriveItemId(parentID+":/"+name+":").Get(ctx, nil)
	if err != nil {
		return "", 0, notFound(op, name, classify(op, err))
	}
	return deref(it.GetId()), derefInt64(it.GetSize()), nil
}

// FindMailFolder returns the id of the mail folder named name (compared as
// Exchange does, without regard to case) in parentID ("" the top).
func (c *Client) FindMailFolder(ctx context.Context, userID, parentID, name string) (string, error) {
	const op = "find mail folder"
	mb := c.gc.Users().ByUserId(userID).MailFolders()
	var resp models.MailFolderCollectionResponseable
	var err error
	next := func(u string) (models.MailFolderCollectionResponseable, error) { return mb.WithUrl(u).Get(ctx, nil) }
	if parentID == "" {
		resp, err = mb.Get(ctx, nil)
	} else {
		cb := mb.ByMailFolderId(parentID).ChildFolders()
		resp, err = cb.Get(ctx, nil)
		next = func(u string) (models.MailFolderCollectionResponseable, error) {
			r, err := cb.WithUrl(u).Get(ctx, nil)
			return r, err
		}
	}
	return findNamed(op, name, resp, err, next, func(f models.MailFolderable) (string, string) { return deref(f.GetDisplayName()), deref(f.GetId()) })
}

// MessageIDs returns the Internet message ids of a folder's messages.
func (c *Client) MessageIDs(ctx context.Context, userID, folderID string) ([]string, error) {
	const op = "list messages"
	mb := c.gc.Users().ByUserId(userID).MailFolders().ByMailFolderId(folderID).Messages()
	top := int32(1000)
	resp, err := mb.Get(ctx, &users.ItemMailFoldersItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMailFoldersItemMessagesRequestBuilderGetQueryParameters{Select: []string{"internetMessageId"}, Top: &top}})
	var out []string
	err = pages(op, resp, err, func(u string) (models.MessageCollectionResponseable, error) { return mb.WithUrl(u).Get(ctx, nil) },
		func(ms []models.Messageable) error {
			for _, m := range ms {
				out = append(out, deref(m.GetInternetMessageId()))
			}
			return nil
		})
	return out, err
}

// FindCalendar returns the id of the user's calendar named name.
func (c *Client) FindCalendar(ctx context.Context, userID, name string) (string, error) {
	cb := c.gc.Users().ByUserId(userID).Calendars()
	resp, err := cb.Get(ctx, nil)
	return findNamed("find calendar", name, resp, err, func(u string) (models.CalendarCollectionResponseable, error) { return cb.WithUrl(u).Get(ctx, nil) },
		func(cal models.Calendarable) (string, string) { return deref(cal.GetName()), deref(cal.GetId()) })
}

// FindContactFolder returns the id of the user's contact folder named name.
func (c *Client) FindContactFolder(ctx context.Context, userID, name string) (string, error) {
	fb := c.gc.Users().ByUserId(userID).ContactFolders()
	resp, err := fb.Get(ctx, nil)
	return findNamed("find contact folder", name, resp, err, func(u string) (models.ContactFolderCollectionResponseable, error) { return fb.WithUrl(u).Get(ctx, nil) },
		func(f models.ContactFolderable) (string, string) { return deref(f.GetDisplayName()), deref(f.GetId()) })
}

// findNamed pages through a collection for the object named name
// (compared as Exchange does, without regard to case) and returns its id.
func findNamed[T any, P collection[T]](op, name string, resp P, err error, next func(string) (P, error), nameID func(T) (string, string)) (string, error) {
	found := ""
	err = pages(op, resp, err, next, func(xs []T) error {
		for _, x := range xs {
			if n, id := nameID(x); strings.EqualFold(n, name) {
				found = id
			}
		}
		return nil
	})
	if err == nil && found == "" {
		err = holdfast.E(op, holdfast.NotFound, name)
	}
	return found, err
}

// Contacts returns the contacts of a folder as JSON with the properties
// restore compares (display name, addresses, mobile phone).
func (c *Client) Contacts(ctx context.Context, userID, folderID string) ([]json.RawMessage, error) {
	const op = "list contacts"
	cb := c.gc.Users().ByUserId(userID).ContactFolders().ByContactFolderId(folderID).Contacts()
	resp, err := cb.Get(ctx, nil)
	var out []json.RawMessage
	err = pages(op, resp, err, func(u string) (models.ContactCollectionResponseable, error) { return cb.WithUrl(u).Get(ctx, nil) },
		func(cs []models.Contactable) error {
			for _, ct := range cs {
				var v struct {
					DisplayName    string              `json:"displayName"`
					EmailAddresses []map[string]string `json:"emailAddresses"`
					MobilePhone    string              `json:"mobilePhone"`
				}
				v.DisplayName, v.MobilePhone = deref(ct.GetDisplayName()), deref(ct.GetMobilePhone())
				for _, a := range ct.GetEmailAddresses() {
					v.EmailAddresses = append(v.EmailAddresses, map[string]string{"address": deref(a.GetAddress())})
				}
				b, _ := json.Marshal(v)
				out = append(out, b)
			}
			return nil
		})
	return out, err
}

// EventAttachmentNames returns the names of an event's attachments.
func (c *Client) EventAttachmentNames(ctx context.Context, userID, calendarID, eventID string) ([]string, error) {
	as, err := c.EventAttachments(ctx, userID, calendarID, eventID)
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Name
	}
	return names, err
}

// maxAttachmentPost is the largest attachment Graph takes in one POST;
// larger ones need an attachment upload session.
const maxAttachmentPost = 3 << 20

// AddEventAttachment attaches a file to an event.
func (c *Client) AddEventAttachment(ctx context.Context, userID, calendarID, eventID string, a restore.FileAttachment) error {
	const op = "add event attachment"
	if len(a.Content) > maxAttachmentPost {
		return holdfast.Errorf(op, holdfast.Invalid, "%q is %d bytes; attachments over 3 MB need an upload session, which Holdfast does not use yet — export the event with --to-dir instead", a.Name, len(a.Content))
	}
	fa := models.NewFileAttachment()
	fa.SetName(&a.Name)
	if a.ContentType != "" {
		fa.SetContentType(&a.ContentType)
	}
	fa.SetContentBytes(a.Content)
	_, err := c.gc.Users().ByUserId(userID).Calendars().ByCalendarId(calendarID).Events().ByEventId(eventID).Attachments().Post(ctx, fa, nil)
	return classify(op, err)
}
