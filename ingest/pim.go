package ingest

import (
	"context"
	"errors"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Calendars and contacts: a stream per calendar or contact folder, the
// item's JSON its content.

// pim runs a stream per calendar or contact folder of a user.
func (r *runner) pim(ctx context.Context, a holdfast.Account, w holdfast.Workload,
	list func(context.Context, string) ([]Container, error),
	delta func(ctx context.Context, userID, containerID, link string, page func([]JSONItem) error) (string, error)) error {
	containers, err := list(ctx, a.ID)
	if errors.Is(err, ErrGone) {
		return nil // no mailbox: nothing to capture
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: w, Reason: "list " + string(w) + " folders: " + err.Error()})
		return nil
	}
	for _, c := range containers {
		key := streamKey(w, a.ID, c.ID)
		err := r.stream(ctx, a, w, key, c.ID, c.Name, func(link string, seen map[string]bool, ok *bool) (string, error) {
			return delta(ctx, a.ID, c.ID, link, func(items []JSONItem) error {
				var attach func(id string) ([]Attachment, error)
				if w == holdfast.Calendar {
					attach = func(id string) ([]Attachment, error) { return r.src.EventAttachments(ctx, a.ID, c.ID, id) }
				}
				good, err := r.pimPage(ctx, a, w, key, c.Name, items, seen, attach)
				*ok = *ok && good
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pimPage captures one page of items whose JSON is the content (events,
// contacts, Teams messages) and the attachments of items that have them
// (events' files, messages' hosted contents), as further refs of the
// version. It reports false when an item's attachments could not be fetched
// (tried again next run).
func (r *runner) pimPage(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, path string, items []JSONItem, seen map[string]bool,
	attachments func(id string) ([]Attachment, error)) (bool, error) {
	ok := true
	for _, it := range items {
		r.mu.Lock()
		known := r.state.items[itemKey(w, a.ID, it.ID)]
		r.mu.Unlock()
		if it.Removed {
			switch {
			case known != nil && !known.deleted:
				if err := r.tombstone(ctx, a, w, key, path, it.ID, "deleted"); err != nil {
					return false, err
				}
			case known == nil && !it.Deleted.IsZero():
				// Deleted before any capture, yet listed: evidence that it
				// existed, once.
				if err := r.deletedUnseen(ctx, a, w, key, path, it); err != nil {
					return false, err
				}
			}
			continue
		}
		seen[it.ID] = true
		if known != nil && !known.deleted && known.change == it.ChangeKey {
			continue
		}
		meta := &PIMMeta{Title: it.Title, Modified: it.Modified}
		var extra []store.Ref
		if it.HasAttachments && attachments != nil {
			atts, err := attachments(it.ID)
			if err != nil {
				if isFatal(err) {
					return false, err
				}
				r.fail(FailedItem{Account: a.UPN, Workload: w, Item: it.ID, Path: path, Reason: "attachments: " + err.Error()})
				ok = false
				continue
			}
			for _, at := range atts {
				ref, err := r.st.PutBytes(ctx, at.Content)
				if err != nil {
					return false, err
				}
				extra = append(extra, ref)
				meta.Attachments = append(meta.Attachments, at)
			}
		}
		ref, err := r.st.PutBytes(ctx, it.Content)
		if err != nil {
			return false, err
		}
		v := record.ItemVersion{Account: a.UPN, AccountID: a.ID, Workload: w, Item: it.ID, Path: path, Stream: key, Run: r.id, Change: it.ChangeKey, PIM: meta}
		if err := r.recordVersion(ctx, v, known == nil || known.deleted, append([]store.Ref{ref}, extra...)...); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// PIMSource is what the calendars and contacts part reads of the tenant.
type PIMSource interface {
	// Calendars lists a user's calendars.
	Calendars(ctx context.Context, userID string) ([]Container, error)
	// EventsDelta follows a calendar's event delta.
	EventsDelta(ctx context.Context, userID, calendarID, link string, page func([]JSONItem) error) (string, error)
	// EventAttachments returns an event's file attachments.
	EventAttachments(ctx context.Context, userID, calendarID, eventID string) ([]Attachment, error)
	// ContactFolders lists a user's contact folders, the default one first.
	ContactFolders(ctx context.Context, userID string) ([]Container, error)
	// ContactsDelta follows a contact folder's delta.
	ContactsDelta(ctx context.Context, userID, folderID, link string, page func([]JSONItem) error) (string, error)
}
