package main

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

type proofOptions struct {
	Record      int64
	Checkpoint  uint64
	Consistency string
	Out         string
}

func newProofCommand(g *globalOptions) *cobra.Command {
	opts := proofOptions{Record: -1}
	cmd := &cobra.Command{
		Use:   "proof (--record N [--checkpoint SIZE] | --consistency OLD NEW) [--out FILE]",
		Short: "Write a proof bundle an auditor can check offline",
		Long: `Write a self-contained proof bundle: record N itself, its inclusion proof and
the signed checkpoint (the newest unless --checkpoint names one), or with
--consistency OLD NEW a proof that the log of checkpoint OLD is a prefix of
the log of checkpoint NEW. Check it with holdfast verify-proof FILE --key VKEY.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProof(cmd.Context(), g, opts, args)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&opts.Record, "record", -1, "index of the record to prove")
	f.Uint64Var(&opts.Checkpoint, "checkpoint", 0, "size of the checkpoint to prove against (default: newest)")
	f.StringVar(&opts.Consistency, "consistency", "", "size of the old checkpoint; the new one follows as an argument")
	f.StringVarP(&opts.Out, "out", "o", "", "file to write the bundle to (default: stdout)")
	return cmd
}

func runProof(ctx context.Context, g *globalOptions, opts proofOptions, args []string) error {
	const op = "proof"
	if (opts.Record >= 0) == (opts.Consistency != "") {
		return holdfast.E(op, holdfast.Invalid, "give either --record N or --consistency OLD NEW")
	}
	po := app.ProofOptions{Inclusion: opts.Record >= 0, Checkpoint: opts.Checkpoint}
	if po.Inclusion {
		if len(args) > 0 {
			return holdfast.Errorf(op, holdfast.Invalid, "unexpected argument %q", args[0])
		}
		po.Record = uint64(opts.Record)
	} else {
		var err1, err2 error
		po.Old, err1 = strconv.ParseUint(opts.Consistency, 10, 64)
		if err1 != nil || len(args) != 1 {
			return holdfast.E(op, holdfast.Invalid, "--consistency takes two checkpoint sizes: --consistency OLD NEW")
		}
		if po.New, err2 = strconv.ParseUint(args[0], 10, 64); err2 != nil {
			return holdfast.Errorf(op, holdfast.Invalid, "%q is not a checkpoint size", args[0])
		}
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	b, err := a.Proof(ctx, tenant, po)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return holdfast.E(op, err)
	}
	data = append(data, '\n')
	if opts.Out == "" || opts.Out == "-" {
		if _, err := g.stdout.Write(data); err != nil {
			return holdfast.E(op, holdfast.IO, err)
		}
		g.emitted = true
		return nil
	}
	if err := writeNew(opts.Out, data); err != nil {
		return holdfast.E(op, err)
	}
	if g.JSON {
		return g.emit(map[string]any{"out": opts.Out, "kind": b.Kind})
	}
	if b.Kind == "inclusion" {
		g.print("Wrote the inclusion proof of record %d to %s\n", b.Index, opts.Out)
	} else {
		g.print("Wrote the consistency proof to %s\n", opts.Out)
	}
	g.print("Check it offline: holdfast verify-proof %s --key \"$(holdfast log-key)\"\n", opts.Out)
	return nil
}
