package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/holdfast/holdfast"
)

// DriveWriter is what a restore into the tenant needs from Graph.
type DriveWriter interface {
	// CreateFolder creates a folder and fails if the name is taken.
	CreateFolder(ctx context.Context, driveID, parentID, name string) (string, error)
	// UploadFile creates a file of size bytes read from r.
	UploadFile(ctx context.Context, driveID, parentID, name string, size int64, r io.Reader) (string, error)
}

// TenantResult is the outcome of a restore into the tenant.
type TenantResult struct {
	Items    int       `json:"items"`
	Bytes    int64     `json:"bytes"`
	Failures []Failure `json:"failed_items"`
	Folders  []string  `json:"folders"` // drive/folder each restore root was created as
}

// MailWriter is what a restore of mail into the tenant needs from Graph.
type MailWriter interface {
	// CreateMailFolder creates a folder ("" parent: the top of the
	// mailbox) and fails if the name is taken.
	CreateMailFolder(ctx context.Context, userID, parentID, name string) (string, error)
	// CreateMessageMIME creates a message from its MIME.
	CreateMessageMIME(ctx context.Context, userID, folderID string, mime []byte) (string, error)
}

// PIMWriter is what a restore of events and contacts needs from Graph.
type PIMWriter interface {
	CreateCalendar(ctx context.Context, userID, name string) (string, error)
	CreateEvent(ctx context.Context, userID, calendarID string, event []byte) (string, error)
	CreateContactFolder(ctx context.Context, userID, name string) (string, error)
	CreateContact(ctx context.Context, userID, folderID string, contact []byte) (string, error)
}

// Restorable reports whether versions of w can go back into the tenant
// (everything but Teams, whose messages Graph cannot write back).
func Restorable(w holdfast.Workload) bool {
	return w != holdfast.Teams
}

// ToCalendarsAndContacts writes events into a new calendar and contacts
// into a new contact folder, both named folderName, in the account they
// came from, from their captured Graph JSON.
func ToCalendarsAndContacts(ctx context.Context, lg Log, w PIMWriter, versions []Version, folderName string) (*TenantResult, error) {
	const op = "restore events and contacts to tenant"
	res := &TenantResult{Failures: []Failure{}}
	containers := map[string]string{} // workload|user → calendar or contact folder id
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if v.Workload != holdfast.Calendar && v.Workload != holdfast.Contacts {
			return res, holdfast.Errorf(op, holdfast.Invalid, "%s is neither calendar nor contacts", v.Workload)
		}
		var d struct {
			AccountID string `json:"account_id"`
		}
		if err := json.Unmarshal(v.Data, &d); err != nil || d.AccountID == "" || len(v.Refs) == 0 {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: "the record names no account or content"})
			continue
		}
		key := string(v.Workload) + "|" + d.AccountID
		cid, ok := containers[key]
		if !ok {
			var err error
			if v.Workload == holdfast.Calendar {
				cid, err = w.CreateCalendar(ctx, d.AccountID, folderName)
			} else {
				cid, err = w.CreateContactFolder(ctx, d.AccountID, folderName)
			}
			if err != nil {
				return res, holdfast.E(op, err, fmt.Sprintf("create %q in %s", folderName, v.Account))
			}
			containers[key] = cid
			res.Folders = append(res.Folders, v.Account+"/"+string(v.Workload)+"/"+folderName)
		}
		var buf bytes.Buffer
		if err := lg.ReadContent(ctx, v.Refs[0], &buf); err != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
			continue
		}
		var err error
		if v.Workload == holdfast.Calendar {
			_, err = w.CreateEvent(ctx, d.AccountID, cid, buf.Bytes())
		} else {
			_, err = w.CreateContact(ctx, d.AccountID, cid, buf.Bytes())
		}
		if err != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
			continue
		}
		res.Items++
		res.Bytes += int64(buf.Len())
	}
	return res, nil
}

// ToMailboxes writes the selected messages back into the mailboxes they
// came from, under a new top-level folder named folderName, in their
// original folder tree, each from the MIME exactly as captured.
func ToMailboxes(ctx context.Context, lg Log, w MailWriter, versions []Version, folderName string) (*TenantResult, error) {
	const op = "restore mail to tenant"
	res := &TenantResult{Failures: []Failure{}}
	folders := map[string]string{} // user|path → folder id ("user|" the restore root)
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if v.Workload != holdfast.Mail {
			return res, holdfast.Errorf(op, holdfast.Invalid, "%s is not mail", v.Workload)
		}
		var d struct {
			AccountID string `json:"account_id"`
		}
		if err := json.Unmarshal(v.Data, &d); err != nil || d.AccountID == "" || len(v.Refs) == 0 {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: "the record names no mailbox or content"})
			continue
		}
		root, ok := folders[d.AccountID+"|"]
		if !ok {
			id, err := w.CreateMailFolder(ctx, d.AccountID, "", folderName)
			if err != nil {
				return res, holdfast.E(op, err, fmt.Sprintf("create %q in %s", folderName, v.Account))
			}
			folders[d.AccountID+"|"], root = id, id
			res.Folders = append(res.Folders, v.Account+"/"+folderName)
		}
		parent := root
		so := ""
		var ferr error
		for _, seg := range strings.Split(strings.Trim(v.Path, "/"), "/") {
			if seg == "" {
				continue
			}
			so += "/" + seg
			if id, ok := folders[d.AccountID+"|"+so]; ok {
				parent = id
				continue
			}
			id, err := w.CreateMailFolder(ctx, d.AccountID, parent, seg)
			if err != nil {
				ferr = err
				break
			}
			folders[d.AccountID+"|"+so], parent = id, id
		}
		if ferr != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: ferr.Error()})
			continue
		}
		var buf bytes.Buffer
		if err := lg.ReadContent(ctx, v.Refs[0], &buf); err != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
			continue
		}
		if _, err := w.CreateMessageMIME(ctx, d.AccountID, parent, buf.Bytes()); err != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
			continue
		}
		res.Items++
		res.Bytes += int64(buf.Len())
	}
	return res, nil
}

// ToDrives writes the selected file versions back into the drives they
// came from, under a new folder named folderName at each drive's root, in
// their original tree. It never overwrites: the folder must not exist, and
// everything is created inside it. Every byte is read through the store's
// hash checks on its way out.
func ToDrives(ctx context.Context, lg Log, w DriveWriter, versions []Version, folderName string) (*TenantResult, error) {
	const op = "restore to tenant"
	res := &TenantResult{Failures: []Failure{}}
	roots := map[string]string{}   // drive → restore root folder id
	folders := map[string]string{} // drive|path → folder id
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if v.Workload != holdfast.OneDrive && v.Workload != holdfast.SharePoint {
			return res, holdfast.Errorf(op, holdfast.Invalid, "%s cannot be restored into a drive; export it with --to-dir or --to-zip", v.Workload)
		}
		var d struct {
			Stream string `json:"stream"`
			File   *struct {
				Name   string `json:"name"`
				Folder bool   `json:"folder"`
			} `json:"file"`
		}
		if err := json.Unmarshal(v.Data, &d); err != nil || d.File == nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: "not a file version"})
			continue
		}
		parts := strings.Split(d.Stream, "/") // workload/account/drive
		if len(parts) != 3 {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: "the record names no drive"})
			continue
		}
		drive := parts[2]
		root, ok := roots[drive]
		if !ok {
			id, err := w.CreateFolder(ctx, drive, "root", folderName)
			if err != nil {
				return res, holdfast.E(op, err, fmt.Sprintf("create %q", folderName))
			}
			roots[drive], root = id, id
			res.Folders = append(res.Folders, drive+"/"+folderName)
		}
		folder := v.Path
		if d.File.Folder {
			folder = strings.TrimSuffix(v.Path, "/") + "/" + d.File.Name
		}
		parent, err := ensurePath(ctx, w, drive, root, folder, folders)
		if err != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
			continue
		}
		if d.File.Folder || len(v.Refs) == 0 {
			continue
		}
		ref := v.Refs[0]
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(lg.ReadContent(ctx, ref, pw)) }()
		_, err = w.UploadFile(ctx, drive, parent, d.File.Name, ref.Size, pr)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			res.Failures = append(res.Failures, Failure{Item: v.Item, Path: v.Path, Reason: err.Error()})
			continue
		}
		res.Items++
		res.Bytes += ref.Size
	}
	return res, nil
}

// ensurePath creates the folders of path under root, once each.
func ensurePath(ctx context.Context, w DriveWriter, drive, root, path string, cache map[string]string) (string, error) {
	id := root
	so := ""
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		so += "/" + seg
		key := drive + "|" + so
		if known, ok := cache[key]; ok {
			id = known
			continue
		}
		nid, err := w.CreateFolder(ctx, drive, id, seg)
		if err != nil {
			return "", err
		}
		cache[key], id = nid, nid
	}
	return id, nil
}
