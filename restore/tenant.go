package restore

import (
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

// Restorable reports whether versions of w can go back into the tenant
// (files so far; mail, calendars and contacts are exported instead).
func Restorable(w holdfast.Workload) bool {
	return w == holdfast.OneDrive || w == holdfast.SharePoint
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
		if !Restorable(v.Workload) {
			return res, holdfast.Errorf(op, holdfast.Invalid, "%s cannot be restored into the tenant yet; export it with --to-dir or --to-zip", v.Workload)
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
