package main

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/record"
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

type generateResult struct {
	Items      int     `json:"items"`
	Bytes      int64   `json:"bytes"`
	First      uint64  `json:"first_record"`
	Last       uint64  `json:"last_record"`
	Checkpoint uint64  `json:"checkpoint"`
	Seconds    float64 `json:"duration_s"`
}

func runGenerate(ctx context.Context, g *globalOptions, opts generateOptions) error {
	if opts.Items <= 0 || opts.Size <= 0 {
		return holdfast.E("generate", holdfast.Invalid, "--items and --size must be positive")
	}
	s, err := g.openTenant(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	start := time.Now()
	res := generateResult{Items: opts.Items}
	prog := g.progress("generate")
	for i := 0; i < opts.Items; i++ {
		msg := synth.Message(opts.Seed, i, opts.Size)
		ref, err := s.PutBytes(ctx, msg)
		if err != nil {
			return err
		}
		idx, err := s.Append(ctx, record.TypeSynthetic, synth.Meta(opts.Seed, i), ref)
		if err != nil {
			return err
		}
		if i == 0 {
			res.First = idx
		}
		res.Last = idx
		res.Bytes += int64(len(msg))
		if prog != nil && i%200 == 0 {
			prog(int64(i), int64(opts.Items))
		}
	}
	c, _, err := s.Checkpoint(ctx)
	g.endProgress()
	if err != nil {
		return err
	}
	res.Checkpoint = c.Size
	res.Seconds = time.Since(start).Seconds()
	if g.JSON {
		return g.emit(res)
	}
	g.print("Wrote %d synthetic items (%s) as records %d to %d in %.2fs (%.0f items/s)\n",
		res.Items, humanBytes(res.Bytes), res.First, res.Last, res.Seconds, float64(res.Items)/res.Seconds)
	g.print("Issued checkpoint %d: %s\n", c.Size, fmt.Sprintf("root %x", c.Root[:8]))
	return nil
}
