package main

import (
	"context"
	"strconv"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	ReadDataSubset string
	Checkpoints    []string // files holding checkpoints kept elsewhere
	Witnesses      witnessFlags
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that nothing stored was altered or removed",
		Long: `Re-read the tenant's repository from storage, trusting no cache: re-hash every
pack and blob, decode every record, recompute the Merkle tree, check every
checkpoint's signature and root, and check that every reference resolves.

With --witness VKEY (repeatable) a checkpoint must also carry the cosignatures
of --witness-threshold of those witnesses (default: all), and a witness that
refused the log's newest checkpoint as inconsistent with what it cosigned (a
rolled-back or forked log) is a failure.

The log must also reach every size this machine has seen it at (its
high-water mark under <data>/keys/seen/) and every checkpoint given with
--checkpoint FILE (a signed checkpoint note from holdfast checkpoint, or a
proof bundle), with the same root there: a checkpoint kept elsewhere is what
shows that the log was never rolled back or rewritten.

Exits 0 when everything holds and 3 naming each failure. The run is logged as
a verify.run record followed by a new checkpoint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.ReadDataSubset, "read-data-subset", "100", "percentage of packs whose blob data is read and re-hashed, e.g. 10 or 10% (at least one pack)")
	cmd.Flags().StringArrayVar(&opts.Checkpoints, "checkpoint", nil, "a signed checkpoint or proof bundle kept elsewhere; the log must reach it (repeatable)")
	opts.Witnesses.add(cmd)
	return cmd
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v <= 0 || v > 100 {
		return 0, holdfast.Errorf("--read-data-subset", holdfast.Invalid, "%q is not a percentage between 0 (exclusive) and 100", s)
	}
	return v, nil
}

func runVerify(ctx context.Context, g *globalOptions, opts verifyOptions) error {
	pct, err := parsePercent(opts.ReadDataSubset)
	if err != nil {
		return err
	}
	vo := app.VerifyOptions{ReadDataPercent: pct, Witnesses: opts.Witnesses.vkeys(), WitnessThreshold: opts.Witnesses.Threshold}
	for _, f := range opts.Checkpoints {
		b, err := readInput(f, 1<<20)
		if err != nil {
			return holdfast.E("verify --checkpoint", holdfast.Invalid, err)
		}
		vo.HeldCheckpoints = append(vo.HeldCheckpoints, b)
		vo.HeldNames = append(vo.HeldNames, f)
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	rep, err := a.Verify(ctx, g.actor(), tenant, vo)
	g.endProgress()
	if rep == nil {
		return err
	}
	if g.JSON {
		if err := g.emit(rep); err != nil {
			return err
		}
	} else {
		g.print("Checked %d records, %d packs (%d read in full), %d blobs (%s of content re-hashed), %d checkpoints in %.1fs\n",
			rep.Records, rep.Packs, rep.PacksRead, rep.Blobs, humanBytes(rep.Bytes), rep.Checkpoints, rep.DurationS)
		if rep.Held > 0 {
			g.print("Checked the log against %d checkpoint(s) held elsewhere\n", rep.Held)
		}
		if rep.Witnessed > 0 {
			g.print("Witnessed: checkpoint %d carries the cosignatures of the given witnesses\n", rep.Witnessed)
		}
		for _, n := range rep.Notes {
			g.print("note: %s\n", n)
		}
		for _, f := range rep.Failures {
			g.print("FAILED %s\n", f)
		}
		if rep.OK {
			g.print("OK: nothing stored was altered or removed\n")
		}
		switch {
		case rep.Spooled:
			g.print("Left this verify run's record for the running backup to append to the log\n")
		case rep.Logged > 0:
			g.print("Logged this verify run; new checkpoint at size %d\n", rep.Logged)
		}
	}
	return err
}
