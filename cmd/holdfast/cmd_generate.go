package main

import (
	"context"
	"fmt"

	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

type generateOptions struct {
	Items int
	Size  int
	Seed  uint64
}

func newGenerateCommand(g *globalOptions) *cobra.Command {
	var opts generateOptions
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write synthetic email-like items into a tenant (demo and test data)",
		Long: `Write deterministic synthetic messages into the tenant's store as blobs with
synthetic.item records, then issue a checkpoint. For demos, benchmarks and
trying out verify and proofs; the records are typed so that they are never
mistaken for captured data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerate(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Items, "items", 1000, "number of items")
	f.IntVar(&opts.Size, "size", 10000, "approximate size of each item in bytes")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed; the same seed gives the same content")
	return cmd
}

func runGenerate(ctx context.Context, g *globalOptions, opts generateOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	res, err := a.Generate(ctx, g.actor(), tenant, app.GenerateOptions{Items: opts.Items, Size: opts.Size, Seed: opts.Seed})
	g.endProgress()
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(res)
	}
	g.print("Wrote %d synthetic items (%s) as records %d to %d in %.2fs (%.0f items/s)\n",
		res.Items, humanBytes(res.Bytes), res.First, res.Last, res.Seconds, float64(res.Items)/res.Seconds)
	g.print("Issued checkpoint %d: %s\n", res.Checkpoint, fmt.Sprintf("root %x", res.Signed.Root[:8]))
	return nil
}
