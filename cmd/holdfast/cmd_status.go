package main

import (
	"context"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/spf13/cobra"
)

func newStatusCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status --tenant T",
		Short: "Show what the store holds per workload and account, and the last run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), g)
		},
	}
}

func runStatus(ctx context.Context, g *globalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	st, err := a.Status(ctx, tenant)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(st)
	}
	g.print("Tenant %s: %d records\n\n", tenant, st.Records)
	g.print("%-10s %8s %9s %10s %10s\n", "workload", "items", "versions", "tombstones", "bytes")
	for _, w := range holdfast.Workloads {
		if x := st.Workloads[w]; x != nil {
			g.print("%-10s %8d %9d %10d %10s\n", w, x.Items, x.Versions, x.Tombstones, humanBytes(x.Bytes))
		}
	}
	g.print("\n%-40s %-9s %-11s %-21s %s\n", "account or site", "kind", "state", "last mail capture", "last drive capture")
	for _, a := range st.Accounts {
		if a.State == "" {
			a.State, a.Kind = "", "site"
		}
		last := func(w holdfast.Workload) string {
			if t, ok := a.LastSuccess[w]; ok {
				return t.Format(time.RFC3339)
			}
			return "never"
		}
		drive := last(holdfast.OneDrive)
		switch {
		case strings.HasPrefix(a.UPN, "team:") || strings.HasPrefix(a.UPN, "chat:"):
			a.Kind, drive = "teams", last(holdfast.Teams)
		case a.Kind == "site":
			drive = last(holdfast.SharePoint)
		}
		g.print("%-40s %-9s %-11s %-21s %s\n", a.UPN, a.Kind, a.State, last(holdfast.Mail), drive)
	}
	if r := st.LastRun; r != nil {
		g.print("\nLast run %s: %s (%.1fs)\n", r.Run, r.Status, r.DurationS)
	} else {
		g.print("\nNo backup has run yet\n")
	}
	return nil
}
