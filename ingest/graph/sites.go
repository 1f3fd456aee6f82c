package graph

import (
	"context"

	"github.com/holdfast/holdfast/ingest"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Sites lists every SharePoint site the app can read, with its document
// libraries. App-only enumeration is GET /sites?search=* (the SDK's query
// parameter is $search, so the documented URL is given as is).
func (c *Client) Sites(ctx context.Context) ([]ingest.Site, error) {
	const op = "list sites"
	sb := c.gc.Sites()
	resp, err := sb.WithUrl(c.adapter.GetBaseUrl()+"/sites?search=*").Get(ctx, nil)
	var out []ingest.Site
	err = pages(op, resp, err, func(u string) (models.SiteCollectionResponseable, error) { return sb.WithUrl(u).Get(ctx, nil) },
		func(ss []models.Siteable) error {
			for _, s := range ss {
				out = append(out, ingest.Site{ID: deref(s.GetId()), Name: deref(s.GetDisplayName()), WebURL: deref(s.GetWebUrl())})
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	for i := range out {
		db := c.gc.Sites().BySiteId(out[i].ID).Drives()
		dr, err := db.Get(ctx, nil)
		err = pages("list document libraries of "+out[i].WebURL, dr, err, func(u string) (models.DriveCollectionResponseable, error) { return db.WithUrl(u).Get(ctx, nil) },
			func(ds []models.Driveable) error {
				for _, d := range ds {
					out[i].Libraries = append(out[i].Libraries, ingest.Library{ID: deref(d.GetId()), Name: deref(d.GetName())})
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
