package graph

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// UserDrive returns the id of a user's OneDrive.
func (c *Client) UserDrive(ctx context.Context, userID string) (string, error) {
	d, err := c.gc.Users().ByUserId(userID).Drive().Get(ctx, nil)
	if err != nil {
		return "", classify("find OneDrive", err)
	}
	return deref(d.GetId()), nil
}

// DriveDelta follows a drive's delta from its root.
func (c *Client) DriveDelta(ctx context.Context, driveID, link string, page func([]ingest.DriveItem) error) (string, error) {
	const op = "drive delta"
	db := c.gc.Drives().ByDriveId(driveID).Items().ByDriveItemId("root").Delta()
	cfg := &drives.ItemItemsItemDeltaRequestBuilderGetRequestConfiguration{Headers: headers(fmt.Sprintf("odata.maxpagesize=%d", c.pageSize))}
	return deltaPages(op, link, func(u string) (drives.ItemItemsItemDeltaGetResponseable, error) {
		if u == "" {
			return db.GetAsDeltaGetResponse(ctx, cfg)
		}
		return db.WithUrl(u).GetAsDeltaGetResponse(ctx, cfg)
	}, func(its []models.DriveItemable) error {
		var items []ingest.DriveItem
		for _, it := range its {
			items = append(items, driveItem(it))
		}
		return page(items)
	})
}

func identity(s models.IdentitySetable) string {
	if s == nil || s.GetUser() == nil {
		return ""
	}
	u := s.GetUser()
	name := deref(u.GetDisplayName())
	if email, ok := u.GetAdditionalData()["email"].(*string); ok && email != nil {
		return fmt.Sprintf("%s <%s>", name, *email)
	}
	return name
}

func driveItem(it models.DriveItemable) ingest.DriveItem {
	d := ingest.DriveItem{ID: deref(it.GetId()), Root: it.GetRoot() != nil, Folder: it.GetFolder() != nil || it.GetRoot() != nil,
		Deleted: it.GetDeleted() != nil, ETag: deref(it.GetETag())}
	if p := it.GetParentReference(); p != nil {
		d.ParentID, d.ParentPath = deref(p.GetId()), deref(p.GetPath())
	}
	m := ingest.FileMeta{Name: deref(it.GetName()), CTag: deref(it.GetCTag()), CreatedBy: identity(it.GetCreatedBy()), ModifiedBy: identity(it.GetLastModifiedBy())}
	if s := it.GetSize(); s != nil {
		m.Size = *s
	}
	if t := it.GetCreatedDateTime(); t != nil {
		m.Created = t.UTC()
	}
	if t := it.GetLastModifiedDateTime(); t != nil {
		m.Modified = t.UTC()
	}
	if f := it.GetFile(); f != nil {
		m.MimeType = deref(f.GetMimeType())
		if h := f.GetHashes(); h != nil {
			m.Hashes = map[string]string{}
			for k, v := range map[string]*string{"sha256Hash": h.GetSha256Hash(), "sha1Hash": h.GetSha1Hash(), "quickXorHash": h.GetQuickXorHash(), "crc32Hash": h.GetCrc32Hash()} {
				if v != nil && *v != "" {
					m.Hashes[k] = *v
				}
			}
		}
	}
	if d.Folder {
		m.Size = 0 // a folder's size is its children's, which change without it
	}
	d.Meta = m
	return d
}

// DriveItemContent streams a file: Graph answers 302 with a pre-authenticated
// download URL, which is fetched without the bearer token.
func (c *Client) DriveItemContent(ctx context.Context, driveID, itemID string) (io.ReadCloser, error) {
	const op = "download file"
	info, err := c.gc.Drives().ByDriveId(driveID).Items().ByDriveItemId(itemID).Content().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	resp, err := c.send(ctx, op, info, c.download)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusTemporaryRedirect {
		loc, err := resp.Location()
		resp.Body.Close()
		if err != nil {
			return nil, holdfast.E(op, holdfast.IO, err, "redirect without a location")
		}
		get, _ := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		if resp, err = c.download.Do(get); err != nil {
			return nil, classify(op, err)
		}
	}
	return bodyOf(op, resp)
}
