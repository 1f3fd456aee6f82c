package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest/quickxor"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// OneDrive and SharePoint: a stream per drive, files checked against
// the hashes Graph gives.

// oneDrive runs the stream of a user's OneDrive.
func (r *runner) oneDrive(ctx context.Context, a holdfast.Account) error {
	driveID, err := r.src.UserDrive(ctx, a.ID)
	if errors.Is(err, ErrGone) {
		return nil // no OneDrive (unlicensed, room, guest): nothing to capture
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: holdfast.OneDrive, Reason: "find the drive: " + err.Error()})
		return nil
	}
	return r.driveStream(ctx, a, holdfast.OneDrive, driveID, "")
}

// sharePoint runs a stream per document library of every site. A site
// stands in for the account: its id and web URL.
func (r *runner) sharePoint(ctx context.Context) error {
	sites, err := r.src.Sites(ctx)
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Workload: holdfast.SharePoint, Reason: "list sites: " + err.Error()})
		return nil
	}
	for _, st := range sites {
		a := holdfast.Account{ID: st.ID, UPN: st.WebURL, DisplayName: st.Name, Enabled: true, Licensed: true}
		for _, lib := range st.Libraries {
			if err := r.driveStream(ctx, a, holdfast.SharePoint, lib.ID, lib.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// driveStream runs one drive's stream. library, for document libraries,
// prefixes every path.
func (r *runner) driveStream(ctx context.Context, a holdfast.Account, w holdfast.Workload, driveID, library string) error {
	key := streamKey(w, a.ID, driveID)
	root := "/"
	if library != "" {
		root = "/" + library
	}
	return r.stream(ctx, a, w, key, driveID, root, func(link string, seen map[string]bool, ok *bool) (string, error) {
		return r.src.DriveDelta(ctx, driveID, link, func(items []DriveItem) error {
			good, err := r.drivePage(ctx, a, w, driveID, library, key, items, seen)
			*ok = *ok && good
			return err
		})
	})
}

// drivePath is the folder path of a drive item's parent ("/" for the
// root), rebuilt from parent ids because delta omits paths.
func (r *runner) drivePath(w holdfast.Workload, accountID, library, parentID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := []string{}
	if library != "" {
		parts = append(parts, library)
	}
	n0 := len(parts)
	for id, hops := parentID, 0; id != "" && hops < 64; hops++ {
		n := r.state.items[itemKey(w, accountID, id)]
		if n == nil || n.parent == "" {
			break // the root (or an unknown parent: placed at the root)
		}
		parts = append(parts[:n0], append([]string{n.name}, parts[n0:]...)...)
		id = n.parent
	}
	return "/" + strings.Join(parts, "/")
}

// drivePage captures one delta page of a drive.
func (r *runner) drivePage(ctx context.Context, a holdfast.Account, w holdfast.Workload, driveID, library, key string, items []DriveItem, seen map[string]bool) (bool, error) {
	// Learn the page's folders first, so that children resolve their paths
	// whatever the order of the page.
	r.mu.Lock()
	for _, it := range items {
		if it.Deleted {
			continue
		}
		k := itemKey(w, a.ID, it.ID)
		if n := r.state.items[k]; n != nil {
			n.name, n.parent = it.Meta.Name, it.ParentID
		} else if it.Folder || it.Root {
			r.state.items[k] = &known{name: it.Meta.Name, parent: it.ParentID, stream: key, placeholder: true}
		}
	}
	r.mu.Unlock()
	type pending struct {
		it   DriveItem
		path string
	}
	var jobs []*download
	files := map[string]pending{}
	for _, it := range items {
		r.mu.Lock()
		known := r.state.items[itemKey(w, a.ID, it.ID)]
		r.mu.Unlock()
		path := r.drivePath(w, a.ID, library, it.ParentID)
		if it.Deleted {
			if known != nil && !known.deleted && !known.placeholder {
				if err := r.tombstone(ctx, a, w, key, known.path, it.ID, "deleted"); err != nil {
					return false, err
				}
			}
			continue
		}
		if it.Root {
			continue
		}
		seen[it.ID] = true
		if known != nil && !known.deleted && known.change == it.ETag {
			continue
		}
		isNew := known == nil || known.deleted || known.placeholder
		if it.Folder {
			meta := it.Meta
			meta.Folder = true
			v := record.ItemVersion{Account: a.UPN, AccountID: a.ID, Workload: w, Item: it.ID, Path: path, Stream: key, Run: r.id, Change: it.ETag, Parent: it.ParentID, File: &meta}
			if err := r.recordVersion(ctx, v, isNew); err != nil {
				return false, err
			}
			continue
		}
		files[it.ID] = pending{it, path}
		jobs = append(jobs, &download{id: it.ID, isNew: isNew})
	}
	// QuickXorHash each download as it streams into the store, to check it
	// against what Graph reported.
	var dmu sync.Mutex
	digests := map[string]*quickxor.Digest{}
	r.fetchAll(ctx, jobs, func(id string) (io.ReadCloser, error) {
		rc, err := r.src.DriveItemContent(ctx, driveID, id)
		if err != nil {
			return nil, err
		}
		d := quickxor.New()
		dmu.Lock()
		digests[id] = d
		dmu.Unlock()
		return struct {
			io.Reader
			io.Closer
		}{io.TeeReader(rc, d), rc}, nil
	})
	ok := true
	for _, j := range jobs {
		p := files[j.id]
		if j.err == nil {
			j.err = checkHashes(p.it.Meta, j.ref, digests[j.id])
		}
		if j.err != nil {
			retry, err := r.failed(a, w, p.path, j)
			if err != nil {
				return false, err
			}
			ok = ok && !retry
			continue
		}
		meta := p.it.Meta
		v := record.ItemVersion{Account: a.UPN, AccountID: a.ID, Workload: w, Item: j.id, Path: p.path, Stream: key, Run: r.id, Change: p.it.ETag, Parent: p.it.ParentID, File: &meta}
		if err := r.recordVersion(ctx, v, j.isNew, j.ref); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// checkHashes compares downloaded content with what Graph said of it: a
// truncated or altered download is a failure, never a silent version.
func checkHashes(m FileMeta, ref store.Ref, qx *quickxor.Digest) error {
	if m.Size > 0 && ref.Size != m.Size {
		return fmt.Errorf("downloaded %d bytes, Graph reported %d", ref.Size, m.Size)
	}
	if h := m.Hashes["quickXorHash"]; h != "" && qx != nil && qx.Base64() != h {
		return fmt.Errorf("content QuickXorHash %s differs from Graph's %s", qx.Base64(), h)
	}
	if h := m.Hashes["sha256Hash"]; h != "" && !strings.EqualFold(h, ref.SHA256.String()) {
		return fmt.Errorf("content SHA-256 %s differs from Graph's %s", ref.SHA256.Short(), strings.ToLower(h)[:12])
	}
	return nil
}

// DriveSource is what the OneDrive and SharePoint part reads of the tenant.
type DriveSource interface {
	// UserDrive returns the id of a user's OneDrive (ErrGone: none).
	UserDrive(ctx context.Context, userID string) (string, error)
	// DriveDelta follows a drive's delta from link ("" for an initial sync).
	DriveDelta(ctx context.Context, driveID, link string, page func([]DriveItem) error) (string, error)
	// Sites lists every SharePoint site with its document libraries.
	Sites(ctx context.Context) ([]Site, error)
	// DriveItemContent streams a file's content.
	DriveItemContent(ctx context.Context, driveID, itemID string) (io.ReadCloser, error)
}
