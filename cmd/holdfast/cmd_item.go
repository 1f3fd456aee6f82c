package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newItemCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "item --tenant T ITEM-ID",
		Short: "An item's history: every version captured, and its deletion",
		Long: `List every version of one item that was ever captured (item ids are what
search shows), oldest first, with its record, capture time, path and size, and
the item's deletion if it was deleted at the source. The read is logged as an
audit record (actor, item), as searches and exports are.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runItem(cmd.Context(), g, args[0])
		},
	}
}

func runItem(ctx context.Context, g *globalOptions, item string) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	h, err := a.Item(ctx, g.actor(), tenant, item)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(h)
	}
	g.print("Item %s: %d record(s)\n", h.Item, len(h.Versions))
	for _, v := range h.Versions {
		if v.Version == nil {
			g.print("%8d  %s  deleted at the source  %s\n", v.Record, v.Time, v.Deletion)
			continue
		}
		d := v.Version
		title := d.Name()
		switch {
		case d.Mail != nil:
			title = d.Mail.Subject
		case d.PIM != nil:
			title = d.PIM.Title
		}
		g.print("%8d  %s  %-10s %-28s %-30s %8s  %s\n", v.Record, v.Time, d.Workload, d.Account, d.Path, humanBytes(v.Bytes), title)
	}
	return nil
}
