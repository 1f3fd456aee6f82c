package ingest

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// The record types ingest fills, named as the engine and its sources use
// them; record declares them, because they are evidence.
type (
	MessageMeta = record.MessageMeta
	FileMeta    = record.FileMeta
	PIMMeta     = record.PIMMeta
	Attachment  = record.Attachment
	Group       = record.Group
	FailedItem  = record.FailedItem
)

// MailFolder is a mail folder with its display path ("Inbox/Clients").
type MailFolder struct {
	ID    string
	Path  string
	Items int64 // messages in the folder, as Graph counts them (totalItemCount)
}

// MessageChange is one entry of a message delta page.
type MessageChange struct {
	ID       string
	Removed  bool
	Meta     MessageMeta
	Modified time.Time
}

// DriveItem is one entry of a drive delta page.
type DriveItem struct {
	ID         string
	Name       string
	ParentID   string
	ParentPath string // "/drive/root:/Clients" when Graph sends it (delta usually does not)
	Root       bool
	Folder     bool
	Deleted    bool
	ETag       string
	Meta       FileMeta
}

// Container is a calendar or a contact folder. The default contact folder
// has an empty ID.
type Container struct {
	ID   string
	Name string
}

// JSONItem is an event or a contact from a delta page: its Graph JSON is
// its content.
type JSONItem struct {
	ID        string
	Removed   bool
	ChangeKey string
	Title     string // subject or display name
	Modified  time.Time
	Content   []byte // the item's JSON as Graph described it (Teams: as Graph sent it)
	// HasAttachments marks events whose attachments must be fetched.
	HasAttachments bool
	// Deleted is when a removed item was deleted, where Graph says.
	Deleted time.Time
	// Hosted are the ids of the hosted contents (pasted images) a Teams
	// message's body refers to.
	Hosted []string
}

// Team is a team with its channels.
type Team struct {
	ID       string
	Name     string
	Channels []Container
}

// Site is a SharePoint site with its document libraries.
type Site struct {
	ID        string
	Name      string
	WebURL    string
	Libraries []Library
}

// Library is a document library (a drive) of a site.
type Library struct {
	ID   string
	Name string
}

// ErrDeltaExpired is returned by Source when a delta link is no longer
// valid (410 Gone, syncStateNotFound, resyncRequired): the stream must be
// enumerated in full again.
var ErrDeltaExpired = errors.New("delta token expired")

// ErrGone is returned by Source when an item vanished (404) between being
// listed and being fetched.
var ErrGone = errors.New("item no longer exists")

// Source is the tenant a run backs up: the small interfaces each part of
// the engine needs (Directory, MailSource, DriveSource, PIMSource,
// TeamsSource), declared beside that part. A test fakes only the part it
// exercises.
type Source interface {
	Directory
	MailSource
	DriveSource
	PIMSource
	TeamsSource
}

// Store is what ingest needs from the store.
type Store interface {
	PutBlob(ctx context.Context, r io.Reader) (store.Ref, error)
	Append(ctx context.Context, typ string, data any, refs ...store.Ref) (uint64, error)
	Flush(ctx context.Context) error
	Checkpoint(ctx context.Context) (store.Checkpoint, bool, error)
	Records(ctx context.Context, from uint64, fn func(raw []byte, r store.Record) error) error
	Scan(ctx context.Context, from uint64, types []string, fn func(raw []byte) error) error
	PutBytes(ctx context.Context, b []byte) (store.Ref, error)
}
