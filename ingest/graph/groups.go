package graph

import (
	"context"

	"github.com/holdfast/holdfast/ingest"
)

// Groups lists every directory group, marking those that are teams.
func (c *Client) Groups(ctx context.Context) ([]ingest.Group, error) {
	gb := c.gc.Groups()
	resp, err := gb.Get(ctx, nil)
	var out []ingest.Group
	for {
		if err != nil {
			return nil, classify("list groups", err)
		}
		for _, g := range resp.GetValue() {
			grp := ingest.Group{ID: deref(g.GetId()), Name: deref(g.GetDisplayName()), Mail: deref(g.GetMail()), Types: g.GetGroupTypes(), Security: derefBool(g.GetSecurityEnabled())}
			if opts, ok := g.GetAdditionalData()["resourceProvisioningOptions"].([]any); ok {
				for _, o := range opts {
					if s, ok := o.(*string); ok && s != nil && *s == "Team" {
						grp.Team = true
					}
				}
			}
			out = append(out, grp)
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = gb.WithUrl(next).Get(ctx, nil)
	}
}
