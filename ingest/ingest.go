package ingest

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// Record types ingest writes besides the store's own.
const (
	TypeAccountState    = "account.state"       // an account was seen in a new state
	TypeAccountDeparted = "account.departed"    // an employee's account became disabled, unlicensed or deleted
	TypeItemFailed      = "item.failed"         // an item could not be captured in a run
	TypeGroups          = "directory.groups"    // the tenant's groups, when they changed since the last run
	TypeDeletedUnseen   = "item.deleted_unseen" // an item deleted before any capture, as the source still lists it
)

// MailFolder is a mail folder with its display path ("Inbox/Clients").
type MailFolder struct {
	ID   string
	Path string
}

// MessageChange is one entry of a message delta page.
type MessageChange struct {
	ID       string
	Removed  bool
	Meta     MessageMeta
	Modified time.Time
}

// MessageMeta is the metadata kept with each message version.
type MessageMeta struct {
	Subject         string    `json:"subject,omitempty"`
	From            string    `json:"from,omitempty"`
	To              []string  `json:"to,omitempty"`
	Cc              []string  `json:"cc,omitempty"`
	Bcc             []string  `json:"bcc,omitempty"`
	Received        time.Time `json:"received,omitzero"`
	Sent            time.Time `json:"sent,omitzero"`
	Modified        time.Time `json:"modified,omitzero"`
	InternetID      string    `json:"internet_message_id,omitempty"`
	ConversationID  string    `json:"conversation_id,omitempty"`
	ChangeKey       string    `json:"change_key,omitempty"`
	HasAttachments  bool      `json:"has_attachments,omitempty"`
	IsRead          bool      `json:"is_read"`
	ParentFolderID  string    `json:"parent_folder_id,omitempty"`
	Importance      string    `json:"importance,omitempty"`
	Categories      []string  `json:"categories,omitempty"`
	InferredSubject string    `json:"-"`
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

// FileMeta is the metadata kept with each file or folder version.
type FileMeta struct {
	Name       string            `json:"name"`
	MimeType   string            `json:"mime_type,omitempty"`
	Size       int64             `json:"size"`
	Hashes     map[string]string `json:"hashes,omitempty"` // as Graph reports them: sha256Hash, sha1Hash, quickXorHash
	CTag       string            `json:"ctag,omitempty"`
	Created    time.Time         `json:"created,omitzero"`
	Modified   time.Time         `json:"modified,omitzero"`
	CreatedBy  string            `json:"created_by,omitempty"`
	ModifiedBy string            `json:"modified_by,omitempty"`
	Folder     bool              `json:"folder,omitempty"`
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

// Attachment is a file attached to an event.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	// HostedID is a Teams hosted content's id (a pasted image).
	HostedID string `json:"hosted_id,omitempty"`
	Content  []byte `json:"-"`
}

// Group is a directory group.
type Group struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Mail     string   `json:"mail,omitempty"`
	Types    []string `json:"types,omitempty"` // Unified for Microsoft 365 groups
	Team     bool     `json:"team,omitempty"`
	Security bool     `json:"security,omitempty"`
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

// itemVersion is the data of an item.version record.
type itemVersion struct {
	Account   string            `json:"account"`
	AccountID string            `json:"account_id"`
	Workload  holdfast.Workload `json:"workload"`
	Item      string            `json:"item"`
	Path      string            `json:"path"`
	Stream    string            `json:"stream"`
	Run       string            `json:"run"`
	Change    string            `json:"change"` // what identifies this version at the source
	Mail      *MessageMeta      `json:"mail,omitempty"`
	Parent    string            `json:"parent,omitempty"` // drive items: the parent folder's id
	File      *FileMeta         `json:"file,omitempty"`
	PIM       *PIMMeta          `json:"pim,omitempty"` // events and contacts
}

// PIMMeta is what is kept beside an event's or contact's JSON.
type PIMMeta struct {
	Title    string    `json:"title"`
	Modified time.Time `json:"modified,omitzero"`
	// Attachments name the refs after the first (the item's JSON), in order.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// deletedUnseen is the data of an item.deleted_unseen record: evidence
// that an item existed, from a source that lists it deleted (a Teams
// message with its deletedDateTime) before Holdfast ever captured it.
type deletedUnseen struct {
	Account   string            `json:"account"`
	AccountID string            `json:"account_id"`
	Workload  holdfast.Workload `json:"workload"`
	Item      string            `json:"item"`
	Thread    string            `json:"thread,omitempty"` // a reply's root message
	Path      string            `json:"path"`
	Stream    string            `json:"stream"`
	Run       string            `json:"run"`
	Deleted   time.Time         `json:"deleted"`
}

// tombstone is the data of an item.tombstone record.
type tombstone struct {
	Account   string            `json:"account"`
	AccountID string            `json:"account_id"`
	Workload  holdfast.Workload `json:"workload"`
	Item      string            `json:"item"`
	Path      string            `json:"path"`
	Stream    string            `json:"stream"`
	Run       string            `json:"run"`
	Reason    string            `json:"reason"`
}

// deltaPosition is the data of a delta.position record.
type deltaPosition struct {
	Stream   string            `json:"stream"`
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Folder   string            `json:"folder"`
	Path     string            `json:"path"`
	Link     string            `json:"link"`
	Run      string            `json:"run"`
}

// accountState is the data of account.state and account.departed records.
type accountState struct {
	Account   string    `json:"account"`
	AccountID string    `json:"account_id"`
	State     string    `json:"state"`
	Kind      string    `json:"kind,omitempty"` // shared, room, equipment, guest; "" for an employee
	Previous  string    `json:"previous,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	Reason    string    `json:"reason,omitempty"`
}

// FailedItem is an item a run could not capture, with the reason.
type FailedItem struct {
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Item     string            `json:"item,omitempty"`
	Path     string            `json:"path,omitempty"`
	Reason   string            `json:"reason"`
}

// name is the item's name, for drive items.
func (v itemVersion) name() string {
	if v.File != nil {
		return v.File.Name
	}
	return ""
}
