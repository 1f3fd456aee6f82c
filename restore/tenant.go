package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// DriveWriter is what a restore of files into the tenant needs from Graph.
// Names already taken are errors of kind holdfast.Exist.
type DriveWriter interface {
	// CreateFolder creates a folder and fails if the name is taken.
	CreateFolder(ctx context.Context, driveID, parentID, name string) (string, error)
	// UploadFile creates a file of size bytes read from r; it fails if
	// the name is taken.
	UploadFile(ctx context.Context, driveID, parentID, name string, size int64, r io.Reader) (string, error)
	// Child returns the id and size of the item named name in parentID
	// (an error of kind holdfast.NotFound if there is none).
	Child(ctx context.Context, driveID, parentID, name string) (id string, size int64, err error)
	// UserDrive returns the id of a user's OneDrive.
	UserDrive(ctx context.Context, user string) (string, error)
}

// MailWriter is what a restore of mail into the tenant needs from Graph.
type MailWriter interface {
	// CreateMailFolder creates a folder ("" parent: the top of the
	// mailbox) and fails if the name is taken.
	CreateMailFolder(ctx context.Context, userID, parentID, name string) (string, error)
	// FindMailFolder returns the id of the folder named name in parentID.
	FindMailFolder(ctx context.Context, userID, parentID, name string) (string, error)
	// CreateMessageMIME creates a message from its MIME.
	CreateMessageMIME(ctx context.Context, userID, folderID string, mime []byte) (string, error)
	// MessageIDs returns the Internet message ids of a folder's messages.
	MessageIDs(ctx context.Context, userID, folderID string) ([]string, error)
}

// PIMWriter is what a restore of events and contacts needs from Graph.
type PIMWriter interface {
	CreateCalendar(ctx context.Context, userID, name string) (string, error)
	FindCalendar(ctx context.Context, userID, name string) (string, error)
	// CreateEvent creates an event from captured JSON. Graph returns the
	// event already created with the same transactionId instead of a
	// second one, which is what makes a resumed restore safe.
	CreateEvent(ctx context.Context, userID, calendarID string, event []byte, transactionID string) (string, error)
	EventAttachmentNames(ctx context.Context, userID, calendarID, eventID string) ([]string, error)
	AddEventAttachment(ctx context.Context, userID, calendarID, eventID string, a FileAttachment) error
	CreateContactFolder(ctx context.Context, userID, name string) (string, error)
	FindContactFolder(ctx context.Context, userID, name string) (string, error)
	CreateContact(ctx context.Context, userID, folderID string, contact []byte) (string, error)
	// Contacts returns the JSON of every contact in a folder.
	Contacts(ctx context.Context, userID, folderID string) ([]json.RawMessage, error)
}

// FileAttachment is an attachment to re-attach to a restored event.
type FileAttachment struct {
	Name        string
	ContentType string
	Content     []byte
}

// TenantResult is the outcome of a restore into the tenant.
type TenantResult struct {
	Items    int       `json:"items"`
	Bytes    int64     `json:"bytes"`
	Failures []Failure `json:"failed_items"`
	Folders  []string  `json:"folders"`           // where each restore root was created
	Resumed  int       `json:"resumed,omitempty"` // items an interrupted run had already restored
}

// Restorable reports whether versions of w can go back into the tenant
// (everything but Teams, whose messages Graph cannot write back).
func Restorable(w holdfast.Workload) bool {
	return w != holdfast.Teams
}

// Tenant restores item versions into the tenant through Graph, under new
// containers named after the journal's restore folder: a folder at the
// top of each drive and mailbox (the original tree below it), a calendar
// and a contact folder. Nothing that exists is overwritten or merged into.
// Items go in Workers at a time; every byte is read through the store's
// hash checks on its way out. With a journal from an interrupted run it
// resumes: the same containers, and nothing created twice.
type Tenant struct {
	Log     Log
	Drives  DriveWriter
	Mail    MailWriter
	PIM     PIMWriter
	Journal *Journal
	// Target is the account to restore into; "" restores each item into
	// the account it came from. SharePoint files always go back to their
	// site.
	Target string
	// Workers is the number of concurrent creates (default 4, Exchange's
	// limit of concurrent requests per mailbox).
	Workers  int
	Progress func(done, total int)

	mu       sync.Mutex
	res      *TenantResult
	existing map[string]map[string]int // container → natural key → copies found in the tenant on resume
}

// job is one item to create, once its containers exist.
type job struct {
	v     Version
	bytes int64
	do    func(ctx context.Context) (already bool, err error)
}

// Run restores versions.
func (t *Tenant) Run(ctx context.Context, versions []Version) (*TenantResult, error) {
	const op = "restore to tenant"
	t.res = &TenantResult{Failures: []Failure{}}
	t.existing = map[string]map[string]int{}
	for _, v := range versions {
		if !Restorable(v.Workload) {
			return t.res, holdfast.Errorf(op, holdfast.Invalid, "%s messages cannot be restored into the tenant (Graph cannot write them back); export them with --to-dir or --to-zip", v.Workload)
		}
		if v.Workload == holdfast.SharePoint && t.Target != "" {
			return t.res, holdfast.Errorf(op, holdfast.Invalid, "SharePoint files go back into the site they came from; --target-account applies to mail, calendars, contacts and OneDrive")
		}
	}
	var jobs []job
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return t.res, err
		}
		if t.Journal.Done(versionKey(v)) {
			t.res.Items++
			t.res.Bytes += v.Bytes
			t.res.Resumed++
			continue
		}
		var j *job
		var err error
		switch v.Workload {
		case holdfast.Mail:
			j, err = t.prepareMail(ctx, v)
		case holdfast.Calendar, holdfast.Contacts:
			j, err = t.preparePIM(ctx, v)
		case holdfast.OneDrive, holdfast.SharePoint:
			j, err = t.prepareFile(ctx, v)
		default:
			err = holdfast.Errorf(op, holdfast.Invalid, "%s cannot be restored into the tenant", v.Workload)
		}
		var fatal *fatalError
		switch {
		case asFatal(err, &fatal):
			return t.res, fatal.err
		case err != nil:
			t.fail(v, err)
		case j != nil:
			jobs = append(jobs, *j)
		}
	}
	err := t.runJobs(ctx, jobs)
	return t.res, err
}

// fatalError stops a restore: a restore root that could not be created.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }

func asFatal(err error, f **fatalError) bool {
	if fe, ok := err.(*fatalError); ok {
		*f = fe
		return true
	}
	return false
}

func (t *Tenant) fail(v Version, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.res.Failures = append(t.res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
}

// runJobs creates the items, Workers at a time.
func (t *Tenant) runJobs(ctx context.Context, jobs []job) error {
	workers := t.Workers
	if workers <= 0 {
		workers = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		done    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		stopErr error
	)
	for w := 0; w < min(workers, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				already, err := j.do(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					t.fail(j.v, err)
					continue
				}
				if err := t.Journal.MarkDone(versionKey(j.v)); err != nil {
					// Without the journal a resume could not tell what is done.
					errOnce.Do(func() { stopErr = err; cancel() })
					return
				}
				t.mu.Lock()
				t.res.Items++
				t.res.Bytes += j.bytes
				if already {
					t.res.Resumed++
				}
				t.mu.Unlock()
				if n := done.Add(1); t.Progress != nil {
					t.Progress(int(n), len(jobs))
				}
			}
		}()
	}
	wg.Wait()
	if stopErr != nil {
		return stopErr
	}
	return ctx.Err()
}

// container returns the id of the container journalled under key,
// creating it (and journalling it) if the restore has not yet. A resumed
// restore finds containers the interrupted run created but did not get to
// journal by name.
func (t *Tenant) container(ctx context.Context, key string, create, find func() (string, error)) (string, bool, error) {
	if id, ok := t.Journal.Container(key); ok {
		return id, true, nil
	}
	id, err := create()
	resumed := false
	if err != nil && t.Journal.Resumed && holdfast.Is(holdfast.Exist, err) && find != nil {
		id, err = find()
		resumed = true
	}
	if err != nil {
		return "", false, err
	}
	return id, resumed, t.Journal.SetContainer(key, id)
}

// root creates a restore's top container; failing that stops the restore.
func (t *Tenant) root(ctx context.Context, key, where string, create, find func() (string, error)) (string, bool, error) {
	id, had, err := t.container(ctx, key, create, find)
	if err != nil {
		return "", false, &fatalError{holdfast.E("restore to tenant", err, fmt.Sprintf("create %q in %s", t.Journal.Header.Folder, where))}
	}
	if !had || t.Journal.Resumed {
		t.mu.Lock()
		t.res.Folders = appendOnce(t.res.Folders, where+"/"+t.Journal.Header.Folder)
		t.mu.Unlock()
	}
	return id, had, nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// seen loads, once per container of a resumed restore, the natural keys of
// what is in it already; take then claims one copy of a key.
func (t *Tenant) seen(container string, load func() ([]string, error)) error {
	t.mu.Lock()
	_, ok := t.existing[container]
	t.mu.Unlock()
	if ok || !t.Journal.Resumed {
		return nil
	}
	keys, err := load()
	if err != nil {
		return err
	}
	m := map[string]int{}
	for _, k := range keys {
		if k != "" {
			m[k]++
		}
	}
	t.mu.Lock()
	t.existing[container] = m
	t.mu.Unlock()
	return nil
}

func (t *Tenant) take(container, key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if key == "" || t.existing[container][key] == 0 {
		return false
	}
	t.existing[container][key]--
	return true
}

func (t *Tenant) account(v Version, id string) string {
	if t.Target != "" {
		return t.Target
	}
	return id
}

func (t *Tenant) read(ctx context.Context, v Version, i int) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.Log.ReadContent(ctx, v.Refs[i], &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// prepareMail makes a message's folders and returns the job that creates
// it from its captured MIME.
func (t *Tenant) prepareMail(ctx context.Context, v Version) (*job, error) {
	var d record.ItemVersion
	if err := json.Unmarshal(v.Data, &d); err != nil || d.AccountID == "" || len(v.Refs) == 0 {
		return nil, fmt.Errorf("the record names no mailbox or content")
	}
	user := t.account(v, d.AccountID)
	folder := t.Journal.Header.Folder
	parent, _, err := t.root(ctx, "mail|"+user+"|", v.Account, func() (string, error) {
		return t.Mail.CreateMailFolder(ctx, user, "", folder)
	}, func() (string, error) { return t.Mail.FindMailFolder(ctx, user, "", folder) })
	if err != nil {
		return nil, err
	}
	so := ""
	for _, seg := range strings.Split(strings.Trim(v.Path, "/"), "/") {
		if seg == "" {
			continue
		}
		so += "/" + seg
		p := parent
		parent, _, err = t.container(ctx, "mail|"+user+"|"+so, func() (string, error) {
			return t.Mail.CreateMailFolder(ctx, user, p, seg)
		}, func() (string, error) { return t.Mail.FindMailFolder(ctx, user, p, seg) })
		if err != nil {
			return nil, err
		}
	}
	if err := t.seen(parent, func() ([]string, error) { return t.Mail.MessageIDs(ctx, user, parent) }); err != nil {
		return nil, err
	}
	return &job{v: v, bytes: v.Refs[0].Size, do: func(ctx context.Context) (bool, error) {
		mime, err := t.read(ctx, v, 0)
		if err != nil {
			return false, err
		}
		if t.take(parent, headerOf(mime, "Message-ID")) {
			return true, nil // created by the interrupted run
		}
		_, err = t.Mail.CreateMessageMIME(ctx, user, parent, mime)
		return false, err
	}}, nil
}

// preparePIM makes the calendar or contact folder and returns the job that
// creates the event (with its attachments) or the contact.
func (t *Tenant) preparePIM(ctx context.Context, v Version) (*job, error) {
	var d record.ItemVersion
	if err := json.Unmarshal(v.Data, &d); err != nil || d.AccountID == "" || len(v.Refs) == 0 {
		return nil, fmt.Errorf("the record names no account or content")
	}
	user := t.account(v, d.AccountID)
	folder := t.Journal.Header.Folder
	where := v.Account + "/" + string(v.Workload)
	if v.Workload == holdfast.Calendar {
		cal, _, err := t.root(ctx, "calendar|"+user, where, func() (string, error) { return t.PIM.CreateCalendar(ctx, user, folder) },
			func() (string, error) { return t.PIM.FindCalendar(ctx, user, folder) })
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(t.Journal.Header.Restore + "|" + versionKey(v)))
		txn := "holdfast-" + hex.EncodeToString(sum[:16])
		return &job{v: v, bytes: v.Bytes, do: func(ctx context.Context) (bool, error) {
			js, err := t.read(ctx, v, 0)
			if err != nil {
				return false, err
			}
			id, err := t.PIM.CreateEvent(ctx, user, cal, js, txn)
			if err != nil {
				return false, err
			}
			have := map[string]int{}
			if t.Journal.Resumed && len(v.Refs) > 1 {
				names, err := t.PIM.EventAttachmentNames(ctx, user, cal, id)
				if err != nil {
					return false, err
				}
				for _, n := range names {
					have[n]++
				}
			}
			for i := 1; i < len(v.Refs); i++ {
				a := FileAttachment{Name: fmt.Sprintf("attachment %d", i)}
				if d.PIM != nil && i-1 < len(d.PIM.Attachments) {
					a.Name, a.ContentType = d.PIM.Attachments[i-1].Name, d.PIM.Attachments[i-1].ContentType
				}
				if have[a.Name] > 0 {
					have[a.Name]--
					continue
				}
				if a.Content, err = t.read(ctx, v, i); err != nil {
					return false, err
				}
				if err := t.PIM.AddEventAttachment(ctx, user, cal, id, a); err != nil {
					return false, holdfast.E("restore event attachment", err, a.Name)
				}
			}
			return false, nil
		}}, nil
	}
	cf, _, err := t.root(ctx, "contacts|"+user, where, func() (string, error) { return t.PIM.CreateContactFolder(ctx, user, folder) },
		func() (string, error) { return t.PIM.FindContactFolder(ctx, user, folder) })
	if err != nil {
		return nil, err
	}
	err = t.seen(cf, func() ([]string, error) {
		all, err := t.PIM.Contacts(ctx, user, cf)
		keys := make([]string, len(all))
		for i, c := range all {
			keys[i] = contactKey(c)
		}
		return keys, err
	})
	if err != nil {
		return nil, err
	}
	return &job{v: v, bytes: v.Refs[0].Size, do: func(ctx context.Context) (bool, error) {
		js, err := t.read(ctx, v, 0)
		if err != nil {
			return false, err
		}
		if t.take(cf, contactKey(js)) {
			return true, nil
		}
		_, err = t.PIM.CreateContact(ctx, user, cf, js)
		return false, err
	}}, nil
}

// contactKey is what tells contacts in a restore folder apart on resume:
// the display name and the addresses (Graph gives a created contact no id
// of the client's choosing).
func contactKey(js []byte) string {
	var c struct {
		DisplayName    string `json:"displayName"`
		EmailAddresses []struct {
			Address string `json:"address"`
		} `json:"emailAddresses"`
		MobilePhone string `json:"mobilePhone"`
	}
	if json.Unmarshal(js, &c) != nil {
		return ""
	}
	k := c.DisplayName + "|" + c.MobilePhone
	for _, a := range c.EmailAddresses {
		k += "|" + strings.ToLower(a.Address)
	}
	return k
}

// prepareFile makes a file's folders in the drive and returns the job that
// uploads it; folder versions only make their folder.
func (t *Tenant) prepareFile(ctx context.Context, v Version) (*job, error) {
	var d record.ItemVersion
	if err := json.Unmarshal(v.Data, &d); err != nil || d.File == nil {
		return nil, fmt.Errorf("not a file version")
	}
	parts := strings.Split(d.Stream, "/") // workload/account/drive
	if len(parts) != 3 {
		return nil, fmt.Errorf("the record names no drive")
	}
	drive := parts[2]
	if t.Target != "" {
		id, _, err := t.container(ctx, "userdrive|"+t.Target, func() (string, error) { return t.Drives.UserDrive(ctx, t.Target) }, nil)
		if err != nil {
			return nil, &fatalError{holdfast.E("restore to tenant", err, "find the OneDrive of "+t.Target)}
		}
		drive = id
	}
	folder := t.Journal.Header.Folder
	where := drive
	if t.Target != "" {
		where = t.Target + "/onedrive"
	}
	parent, _, err := t.root(ctx, "drive|"+drive+"|", where, func() (string, error) { return t.Drives.CreateFolder(ctx, drive, "root", folder) },
		func() (string, error) { id, _, err := t.Drives.Child(ctx, drive, "root", folder); return id, err })
	if err != nil {
		return nil, err
	}
	path := v.Path
	if d.File.Folder {
		path = strings.TrimSuffix(v.Path, "/") + "/" + d.File.Name
	}
	so := ""
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		so += "/" + seg
		p := parent
		parent, _, err = t.container(ctx, "drive|"+drive+"|"+so, func() (string, error) { return t.Drives.CreateFolder(ctx, drive, p, seg) },
			func() (string, error) { id, _, err := t.Drives.Child(ctx, drive, p, seg); return id, err })
		if err != nil {
			return nil, err
		}
	}
	if d.File.Folder || len(v.Refs) == 0 {
		return nil, nil
	}
	ref := v.Refs[0]
	name := d.File.Name
	return &job{v: v, bytes: ref.Size, do: func(ctx context.Context) (bool, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(t.Log.ReadContent(ctx, ref, pw)) }()
		_, err := t.Drives.UploadFile(ctx, drive, parent, name, ref.Size, pr)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil && t.Journal.Resumed && holdfast.Is(holdfast.Exist, err) {
			// Uploaded by the interrupted run: an upload only creates the
			// file once all of it has arrived, so a file of the right size
			// under the name is the whole file.
			_, size, cerr := t.Drives.Child(ctx, drive, parent, name)
			if cerr == nil && size == ref.Size {
				return true, nil
			}
		}
		return false, err
	}}, nil
}

// headerOf returns a top-level MIME header's value ("" if absent).
func headerOf(mime []byte, name string) string {
	head, _, ok := bytes.Cut(mime, []byte("\r\n\r\n"))
	if !ok {
		head, _, _ = bytes.Cut(mime, []byte("\n\n"))
	}
	for _, line := range strings.Split(string(head), "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
