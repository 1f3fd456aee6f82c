package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func reportKeys(g *globalOptions) string { return app.New(g.Data, app.Options{}).SignerDir() }

type reportOptions struct {
	Kind, From, To, Out, PolicyDir, Case, TSA string
	Proposal                                  uint64
	LTA                                       bool
	All                                       bool
}

func newReportCommand(g *globalOptions) *cobra.Command {
	var o reportOptions
	cmd := &cobra.Command{
		Use:   "report --tenant T --kind procedures|coverage|hold|restore-tests|disposal [--case NAME] [--proposal N] [--from DATE] [--to TIME] --out FILE.pdf",
		Short: "Write a signed PDF report for auditors, certifiers and customers",
		Long: `Write a report from the store itself, as of --to (default now; the same store,
period and moment give the same content), speaking for the last signed
checkpoint by then, and sign it with the data directory's report-signing
key (an incremental update with an adbe.pkcs7.detached CMS signature that
poppler's pdfsig and Adobe Reader check). The report's SHA-256 is logged as
a report.issued record.

  procedures  backup and retention procedures: scope, RPO, retention, the
              policy bundle and its findings, coverage per account and
              workload, departed employees, runs, restore tests, holds,
              verify runs, the checkpoint and how to verify it offline
  coverage    a one-page summary for the customer, with a chart and a
              timeline of backup runs
  hold        a case (--case NAME): custodians, query, what is held,
              searches and exports made, by whom
  restore-tests  restore test evidence for SOC 2 A1.3 / ISO 27001 A.8.13

--all writes one report per tenant into the directory --out, for an MSP's
certification file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runReport(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Kind, "kind", "procedures", "procedures, coverage, hold (with --case), restore-tests or disposal (with --proposal, or the latest executed)")
	f.Uint64Var(&o.Proposal, "proposal", 0, "the disposal proposal of a disposal report (holdfast disposal list)")
	f.StringVar(&o.From, "from", "", "start of the period (YYYY-MM-DD; default 30 days before --to)")
	f.StringVar(&o.To, "to", "", "the moment the report speaks for (RFC 3339 or YYYY-MM-DD; default now)")
	f.StringVar(&o.Out, "out", "", "the new PDF file (required)")
	f.StringVar(&o.PolicyDir, "policy-dir", "", "policies to apply besides the embedded ones")
	f.StringVar(&o.Case, "case", "", "the case of a hold report")
	f.BoolVar(&o.All, "all", false, "every tenant, one report each, into the directory --out")
	f.StringVar(&o.TSA, "tsa", "", "URL of an RFC 3161 time-stamping authority to time-stamp the signature (PAdES-B-T; with the validation data every report carries, B-LT)")
	f.BoolVar(&o.LTA, "lta", false, "add a document time-stamp by the --tsa over the signed report and its validation data (PAdES-B-LTA)")
	var key, caFile string
	var wf witnessFlags
	verify := &cobra.Command{
		Use:   "verify FILE.pdf (--key VKEY | --tenant T) [--ca FILE] [--witness VKEY ...]",
		Short: "Check a report's signature and the checkpoint it speaks for",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportVerify(cmd.Context(), g, args[0], key, caFile, wf)
		},
	}
	verify.Flags().StringVar(&key, "key", "", "the log's verifier key (offline), or a file holding it")
	verify.Flags().StringVar(&caFile, "ca", "", "the MSP's report-signing CA certificate (PEM, from holdfast signer ca): the signer's certificate must chain to it")
	wf.add(verify)
	cmd.AddCommand(verify)
	return cmd
}

func parseMoment(flag, s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, holdfast.Errorf(flag, holdfast.Invalid, "%q is not a date (YYYY-MM-DD) or an RFC 3339 time", s)
}

func runReport(ctx context.Context, g *globalOptions, o reportOptions) error {
	const op = "report"
	if o.Out == "" {
		return holdfast.E(op, holdfast.Invalid, "--out is required")
	}
	to, err := parseMoment("--to", o.To, g.now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	from, err := parseMoment("--from", o.From, to.AddDate(0, 0, -30))
	if err != nil {
		return err
	}
	if from.After(to) {
		return holdfast.E(op, holdfast.Invalid, "--from is after --to")
	}
	a, err := g.application()
	if err != nil {
		return err
	}
	signer, err := reports.LoadSigner(a.SignerDir())
	if err != nil {
		return err
	}
	signer.TSA = o.TSA
	bundle, err := policy.LoadBundle(o.PolicyDir)
	if err != nil {
		return err
	}
	ro := app.ReportOptions{Kind: o.Kind, Case: o.Case, Proposal: o.Proposal, Out: o.Out, From: from, To: to, Policies: bundle, Signer: signer, DocumentTimestamp: o.LTA}
	if !o.All {
		name, err := g.tenant()
		if err != nil {
			return err
		}
		rec, err := a.IssueReport(ctx, g.actor(), name, ro)
		g.endProgress()
		if err != nil {
			return err
		}
		if g.JSON {
			return g.emit(rec)
		}
		g.print("Wrote the signed %s report of %s as of %s to %s (%s, SHA-256 %s, logged)\nCheck it: pdfsig %s, or holdfast report verify %s --key \"$(holdfast log-key)\"\n",
			o.Kind, name, rec.To.Format(time.RFC3339), rec.File, humanBytes(int64(rec.Bytes)), rec.SHA256[:16], rec.File, rec.File)
		return nil
	}
	tenants, err := a.Tenants()
	if err != nil {
		return err
	}
	if len(tenants) == 0 {
		return holdfast.E(op, holdfast.Invalid, "no tenants in the data directory")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	var recs []record.ReportIssued
	for _, t := range tenants {
		ro.Out = filepath.Join(o.Out, t+"-"+o.Kind+".pdf")
		rec, err := a.IssueReport(ctx, g.actor(), t, ro)
		g.endProgress()
		if err != nil {
			return holdfast.E(op, err, "tenant "+t)
		}
		recs = append(recs, *rec)
		g.print("%s: %s\n", t, rec.File)
	}
	if g.JSON {
		return g.emit(map[string]any{"reports": recs})
	}
	return nil
}

func runReportVerify(ctx context.Context, g *globalOptions, file, key, caFile string, wf witnessFlags) error {
	const op = "report verify"
	wp, err := wf.policy()
	if err != nil {
		return err
	}
	var roots *x509.CertPool
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return holdfast.E(op, holdfast.Invalid, err, "--ca")
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return holdfast.Errorf(op, holdfast.Invalid, "--ca %s holds no PEM certificate", caFile)
		}
	}
	pdf, err := os.ReadFile(file)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	var v note.Verifier
	if key != "" {
		if v, err = loadVerifier(key); err != nil {
			return err
		}
	} else if g.Tenant != "" {
		if _, err := g.tenant(); err != nil {
			return err
		}
	}
	a, err := g.application()
	if err != nil {
		return err
	}
	rv, err := a.VerifyReport(ctx, g.Tenant, pdf, v)
	if err != nil {
		return err
	}
	witnesses, err := wp.Check(rv.Checkpoint)
	if err != nil {
		return holdfast.E(op, err, "the report's checkpoint")
	}
	if roots != nil {
		if err := rv.SignatureInfo.CheckChain(roots); err != nil {
			return err
		}
	}
	out := struct {
		*reports.SignatureInfo
		CheckpointSize uint64 `json:"checkpoint_size"`
		CheckpointRoot string `json:"checkpoint_root"`
		Witnesses      int    `json:"witness_cosignatures,omitempty"`
	}{rv.SignatureInfo, rv.CheckpointSize, hex.EncodeToString(rv.CheckpointRoot), witnesses}
	if g.JSON {
		return g.emit(out)
	}
	info := rv.SignatureInfo
	g.print("Signature valid over the whole document (%s), signed by %s (certificate SHA-256 %s)\n", info.Profile, info.Signer, info.Fingerprint[:16])
	if info.Issuer != "" {
		g.print("The signer's certificate was issued by %s, the CA given with --ca\n", info.Issuer)
	}
	if info.Timestamp != nil {
		g.print("Time-stamped %s by %s (RFC 3161)\n", info.Timestamp.Time.Format(time.RFC3339), info.Timestamp.TSA)
	}
	g.print("The report speaks for checkpoint %d, root %s, whose signature is valid\n", out.CheckpointSize, out.CheckpointRoot)
	if witnesses > 0 {
		g.print("The checkpoint carries the cosignatures of %d of the given witnesses\n", witnesses)
	}
	return nil
}

func newSignerCommand(g *globalOptions) *cobra.Command {
	var cert, key, p12, passwordEnv string
	cmd := &cobra.Command{Use: "signer", Short: "The report-signing key and certificate"}
	imp := &cobra.Command{
		Use:   "import (--cert FILE --key FILE | --p12 FILE [--password-env VAR])",
		Short: "Install a CA-issued certificate and its key: PEM files, or a PKCS #12 file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			switch {
			case p12 != "" && cert == "" && key == "":
				err = reports.ImportSignerP12(reportKeys(g), p12, os.Getenv(passwordEnv))
			case p12 == "" && cert != "" && key != "":
				err = reports.ImportSigner(reportKeys(g), cert, key)
			default:
				err = holdfast.E("signer import", holdfast.Invalid, "give --cert and --key, or --p12")
			}
			if err != nil {
				return err
			}
			s, err := reports.LoadSigner(reportKeys(g))
			if err != nil {
				return err
			}
			g.print("Reports are now signed by %s (certificate SHA-256 %s)\n", s.Name, s.Fingerprint())
			return nil
		},
	}
	imp.Flags().StringVar(&cert, "cert", "", "certificate PEM file")
	imp.Flags().StringVar(&key, "key", "", "private key PEM file")
	imp.Flags().StringVar(&p12, "p12", "", "PKCS #12 (.p12/.pfx) file with the key and certificate chain")
	imp.Flags().StringVar(&passwordEnv, "password-env", "HOLDFAST_P12_PASSWORD", "environment variable holding the PKCS #12 password")
	var caOut string
	caCmd := &cobra.Command{
		Use:   "ca [--out FILE]",
		Short: "Print the report-signing CA's certificate (PEM), which auditors trust once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pem, err := reports.CACertificate(reportKeys(g))
			if err != nil {
				return err
			}
			if caOut == "" {
				_, err := g.stdout.Write(pem)
				return err
			}
			return store.WriteNew(caOut, pem, 0o644)
		},
	}
	caCmd.Flags().StringVar(&caOut, "out", "", "write it to this new file")
	cmd.AddCommand(imp, caCmd)
	return cmd
}
