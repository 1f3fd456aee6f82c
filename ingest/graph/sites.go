package graph

import (
	"context"

	"github.com/holdfast/holdfast/ingest"
)

// Sites lists every SharePoint site the app can read, with its document
// libraries. App-only enumeration is GET /sites?search=* (the SDK's query
// parameter is $search, so the documented URL is given as is).
func (c *Client) Sites(ctx context.Context) ([]ingest.Site, error) {
	const op = "list sites"
	sb := c.gc.Sites()
	resp, err := sb.WithUrl(c.adapter.GetBaseUrl()+"/sites?search=*").Get(ctx, nil)
	var out []ingest.Site
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		for _, s := range resp.GetValue() {
			out = append(out, ingest.Site{ID: deref(s.GetId()), Name: deref(s.GetDisplayName()), WebURL: deref(s.GetWebUrl())})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			break
		}
		resp, err = sb.WithUrl(next).Get(ctx, nil)
	}
	for i := range out {
		db := c.gc.Sites().BySiteId(out[i].ID).Drives()
		dr, err := db.Get(ctx, nil)
		for {
			if err != nil {
				return nil, classify("list document libraries of "+out[i].WebURL, err)
			}
			for _, d := range dr.GetValue() {
				out[i].Libraries = append(out[i].Libraries, ingest.Library{ID: deref(d.GetId()), Name: deref(d.GetName())})
			}
			next := deref(dr.GetOdataNextLink())
			if next == "" {
				break
			}
			dr, err = db.WithUrl(next).Get(ctx, nil)
		}
	}
	return out, nil
}
