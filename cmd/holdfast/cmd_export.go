package main

import (
	"context"
	"path/filepath"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ediscovery"
	"github.com/spf13/cobra"
)

type exportOptions struct {
	Case, Query, Out string
	LoadFile         string
}

func newExportCommand(g *globalOptions) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --tenant T --case NAME --query KQL --out FILE.zip",
		Short: "eDiscovery export with chain of custody",
		Long: `Export every item version of the case's custodians that the query matches
(deleted items and earlier versions included) as a zip: natives (.eml,
.ics, .vcf, original files, each Teams message's JSON, conversation
transcripts), extracted text, a load file (one row per document: items,
attachments with their family, Teams messages), manifest.json with every
file's SHA-256, the signed checkpoint, and an inclusion proof for every
item's record. holdfast verify-export checks it offline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runExport(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Case, "case", "", "the case (a hold) whose custodians are exported (required)")
	f.StringVar(&o.Query, "query", "", "KQL query (required)")
	f.StringVar(&o.Out, "out", "", "the new zip file (required)")
	f.StringVar(&o.LoadFile, "load-file", "csv", "load file format: csv, or dat (Concordance: þ quote, ¶ separator, UTF-8 with BOM)")
	return cmd
}

func runExport(ctx context.Context, g *globalOptions, o exportOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	res, err := a.Export(ctx, g.actor(), tenant, app.ExportOptions{Case: o.Case, Query: o.Query, Out: o.Out, LoadFile: o.LoadFile})
	g.endProgress()
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(res)
	}
	out, _ := filepath.Abs(o.Out)
	g.print("Exported %d item versions (%d files, %s) for case %q to %s\nPackage SHA-256 %s (logged)\nCheck it offline: holdfast verify-export %s --key \"$(holdfast log-key)\"\n",
		res.Items, res.Files, humanBytes(res.Bytes), res.Case, out, res.SHA256, out)
	if res.Disposed > 0 {
		g.print("%d more versions in scope were disposed of: each has a load file row saying when and under which rule, and an inclusion proof, but no native\n", res.Disposed)
	}
	return nil
}

func newVerifyExportCommand(g *globalOptions) *cobra.Command {
	var key string
	var wf witnessFlags
	cmd := &cobra.Command{
		Use:   "verify-export FILE.zip --key VKEY [--witness VKEY ...]",
		Short: "Check an eDiscovery export offline: hashes, proofs, checkpoint signature",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadVerifier(key)
			if err != nil {
				return err
			}
			wp, err := wf.policy()
			if err != nil {
				return err
			}
			rep, err := ediscovery.Verify(args[0], v, wp)
			if err != nil {
				return err
			}
			if g.JSON {
				if err := g.emit(rep); err != nil {
					return err
				}
			} else {
				for _, p := range rep.Problems {
					g.print("MISMATCH %s: %s\n", p.Path, p.Reason)
				}
				if len(rep.Problems) == 0 {
					g.print("Export intact: %d items, %d files match the manifest, %d inclusion proofs valid against the signed checkpoint of size %d\n", rep.Items, rep.Files, rep.Proofs, rep.Size)
					if rep.Witnesses > 0 {
						g.print("The checkpoint carries the cosignatures of %d of the given witnesses\n", rep.Witnesses)
					}
				}
			}
			if len(rep.Problems) > 0 {
				return holdfast.Errorf("verify-export", holdfast.Integrity, "%d problems, first: %s: %s", len(rep.Problems), rep.Problems[0].Path, rep.Problems[0].Reason)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the log's verifier key, or a file holding it (required)")
	wf.add(cmd)
	return cmd
}
