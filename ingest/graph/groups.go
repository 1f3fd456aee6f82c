package graph

import (
	"context"

	"github.com/holdfast/holdfast/ingest"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Groups lists every directory group, marking those that are teams.
func (c *Client) Groups(ctx context.Context) ([]ingest.Group, error) {
	gb := c.gc.Groups()
	resp, err := gb.Get(ctx, nil)
	var out []ingest.Group
	err = pages("list groups", resp, err, func(u string) (models.GroupCollectionResponseable, error) { return gb.WithUrl(u).Get(ctx, nil) },
		func(gs []models.Groupable) error {
			for _, g := range gs {
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
			return nil
		})
	return out, err
}
