package main

import (
	"context"

	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

type searchOptions struct {
	Limit       int
	AllVersions bool
}

func newSearchCommand(g *globalOptions) *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search --tenant T 'QUERY'",
		Short: "Search captured items with Purview-style KQL",
		Long: `Search every captured item version, deleted items included, with the KQL of
Microsoft Purview eDiscovery:

  budget                         free text (subject, body, attachments, file names)
  "exact phrase"  budg*          phrases and prefixes
  from:alice@contoso.com to: cc: bcc: participants: recipients:
                                 address, display name or alias
  subject: title: attachmentnames: filename: fileextension: filetype: author:
  kind:email|meetings|contacts|docs|im|microsoftteams   custodian:UPN  folder:Inbox/Clients
  sent>=2025-01-01  received:2025-01-01..2025-03-31  created: lastmodifiedtime:
  size>1000000  size:1MB..5MB  hasattachment:true
  AND OR NOT (upper case), implicit AND, +term, -prop:value, ( ),
  budget NEAR(5) approval

By default each item shows once, in its newest version; --all-versions lists
every matching version. The index catches up from the store before
answering, so every captured item is searchable. Each search is logged as
an audit record (actor, query, hit count).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().IntVar(&o.Limit, "limit", 50, "hits to show")
	cmd.Flags().BoolVar(&o.AllVersions, "all-versions", false, "every matching version, not only each item's newest")
	return cmd
}

func runSearch(ctx context.Context, g *globalOptions, o searchOptions, q string) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	res, err := a.Search(ctx, g.actor(), tenant, app.SearchOptions{Query: q, Limit: o.Limit, AllVersions: o.AllVersions})
	g.endProgress()
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(res)
	}
	for _, h := range res.Hits {
		del := ""
		if h.Deleted {
			del = " [deleted]"
		}
		g.print("%s  %-15s %-28s %s%s\n    item %s, version %d\n", h.Date.Format("2006-01-02 15:04"), h.Kind, h.Account, h.Title, del, h.Item, h.Version)
		if h.Snippet != "" {
			g.print("    %s\n", h.Snippet)
		}
	}
	g.print("%d matching items", res.Total)
	if res.Total > len(res.Hits) {
		g.print(" (%d shown; --limit for more)", len(res.Hits))
	}
	g.print("\n")
	return nil
}

func newIndexCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "index", Short: "The search index (derived from the store)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "rebuild --tenant T",
		Short: "Recreate the search index from the store alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIndexRebuild(cmd.Context(), g)
		},
	})
	return cmd
}

func runIndexRebuild(ctx context.Context, g *globalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	out, err := a.RebuildIndex(ctx, g.actor(), tenant)
	g.endProgress()
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(out)
	}
	g.print("Index rebuilt from %d log records: %d item versions in %.1fs\n", out.Records, out.Documents, out.DurationS)
	return nil
}
