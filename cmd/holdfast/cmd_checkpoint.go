package main

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/holdfast/holdfast"
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
	s, err := g.openTenant(ctx, true)
	if err != nil {
		return err
	}
	c, err := s.LatestCheckpoint(ctx)
	if err != nil {
		return holdfast.E(op, err)
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

// writeNew writes a new file durably and never replaces one: an existing
// file is an error that names it.
func writeNew(path string, data []byte) error {
	const op = "write file"
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := f.Close(); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return holdfast.Errorf(op, holdfast.Exist, "%s already exists; holdfast never replaces a file (choose another name or remove it)", path)
		}
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}
