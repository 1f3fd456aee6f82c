package main

import (
	"context"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

type checkpointOptions struct {
	Out string
}

func newCheckpointCommand(g *globalOptions) *cobra.Command {
	var opts checkpointOptions
	cmd := &cobra.Command{
		Use:   "checkpoint [--out FILE]",
		Short: "Write the tenant's latest signed checkpoint, for someone to keep",
		Long: `Write the newest signed checkpoint of the tenant's log (a c2sp.org/tlog-checkpoint
note: origin, size, root hash, signature) to stdout or to a new file.

A checkpoint kept outside this machine — by an auditor, the customer, a
colleague — is what proves later that the log was never rolled back: hand it
to holdfast verify --checkpoint FILE, which fails (exit 3) unless the log
still reaches that size with that root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheckpoint(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "file to write the checkpoint to; never replaced (default: stdout)")
	return cmd
}

func runCheckpoint(ctx context.Context, g *globalOptions, opts checkpointOptions) error {
	const op = "checkpoint"
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	c, err := a.LatestCheckpoint(ctx, tenant)
	if err != nil {
		return err
	}
	if opts.Out == "" || opts.Out == "-" {
		if g.JSON {
			return g.emit(map[string]any{"origin": c.Origin, "size": c.Size, "root": c.Root, "note": string(c.Note)})
		}
		if _, err := g.stdout.Write(c.Note); err != nil {
			return holdfast.E(op, holdfast.IO, err)
		}
		return nil
	}
	if err := writeNew(opts.Out, c.Note); err != nil {
		return holdfast.E(op, err)
	}
	if g.JSON {
		return g.emit(map[string]any{"origin": c.Origin, "size": c.Size, "root": c.Root, "out": opts.Out})
	}
	g.print("Wrote checkpoint %d of %s to %s\n", c.Size, c.Origin, opts.Out)
	g.print("Keep it elsewhere; later: holdfast verify --tenant %s --checkpoint %s\n", g.Tenant, opts.Out)
	return nil
}

// writeNew writes a file a command produces (a proof, a checkpoint, a
// report): durably, and never over an existing file.
func writeNew(path string, data []byte) error { return store.WriteNew(path, data, 0o644) }
