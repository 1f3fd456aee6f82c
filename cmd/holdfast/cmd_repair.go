package main

import (
	"context"

	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ingest"
	"github.com/spf13/cobra"
)

type repairOptions struct {
	DryRun bool
}

func newRepairCommand(g *globalOptions) *cobra.Command {
	var opts repairOptions
	cmd := &cobra.Command{
		Use:   "repair --tenant T [--dry-run]",
		Short: "Fetch lost content again from the tenant and account for what is gone",
		Long: `When packs the log names are gone (deleted, unreadable), the store refuses
every write so that the damage is never buried. repair finds every captured
version whose content was in them, fetches it again from the tenant when the
tenant still has it unchanged (its SHA-256 must be the one captured: the
content is whole again), and appends a store.repair record listing the lost
packs, what was recovered and what is lost for good. The store then takes
writes again; verify names only what is lost for good.

Mail and files can be fetched again byte for byte; calendar, contact and
Teams content cannot, and is reported as lost. A log that was cut or rolled
back is not something repair can mend: put the missing batches back.

Exit 0: everything recovered; 3: something is lost for good (listed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRepair(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "find what is missing and what the tenant still has; change nothing")
	return cmd
}

func runRepair(ctx context.Context, g *globalOptions, opts repairOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	res, err := a.Repair(ctx, g.actor(), tenant, app.RepairOptions{DryRun: opts.DryRun,
		From: func(tenant string) (ingest.RepairSource, error) { return g.graphClient(tenant) }})
	if res == nil {
		return err
	}
	if g.JSON {
		return g.emitWith(res, err)
	}
	if len(res.LostPacks) == 0 {
		g.print("Nothing to repair: every pack the log names is present\n")
		return err
	}
	verb := "Recovered"
	if opts.DryRun {
		verb = "Would recover"
	}
	g.print("%d pack(s) the log names are gone\n", len(res.LostPacks))
	g.print("%s %d version(s) from the tenant, whole (their hashes match what was captured)\n", verb, len(res.Recovered))
	for _, l := range res.Lost {
		g.print("LOST %s %s %s (record %d): %s\n", l.Workload, l.Account, l.Item, l.Record, l.Reason)
	}
	switch {
	case opts.DryRun:
		g.print("Dry run: nothing was changed; run without --dry-run to repair\n")
	default:
		g.print("Logged as record %d; the store takes writes again\n", res.Record)
	}
	return err
}
