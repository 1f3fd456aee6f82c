package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	ReadDataSubset string
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that nothing stored was altered or removed",
		Long: `Re-read the tenant's repository from storage, trusting no cache: re-hash every
pack and blob, decode every record, recompute the Merkle tree, check every
checkpoint's signature and root, and check that every reference resolves.
Exits 0 when everything holds and 3 naming each failure. The run is logged as
a verify.run record followed by a new checkpoint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.ReadDataSubset, "read-data-subset", "100", "percentage of packs whose blob data is read and re-hashed, e.g. 10 or 10%")
	return cmd
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v <= 0 || v > 100 {
		return 0, holdfast.Errorf("--read-data-subset", holdfast.Invalid, "%q is not a percentage between 0 (exclusive) and 100", s)
	}
	return v, nil
}

// verifyRunRecord is the data of a verify.run record.
type verifyRunRecord struct {
	OK              bool            `json:"ok"`
	Records         uint64          `json:"records"`
	Blobs           int             `json:"blobs"`
	Bytes           int64           `json:"bytes"`
	Checkpoints     int             `json:"checkpoints"`
	ReadDataPercent float64         `json:"read_data_percent"`
	Failures        int             `json:"failures"`
	FirstFailures   []store.Failure `json:"first_failures,omitempty"`
	DurationSeconds float64         `json:"duration_s"`
}

func runVerify(ctx context.Context, g *globalOptions, opts verifyOptions) error {
	pct, err := parsePercent(opts.ReadDataSubset)
	if err != nil {
		return err
	}
	vkey, err := g.dataDir().LogKey()
	if err != nil {
		return err
	}
	s, err := g.openTenant(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	start := time.Now()
	rep, err := s.Verify(ctx, store.VerifyOptions{ReadDataPercent: pct, ExpectedKey: vkey, Progress: g.progress("verify")})
	g.endProgress()
	if err != nil {
		return holdfast.E("verify", err)
	}
	rec := verifyRunRecord{OK: rep.OK, Records: rep.Records, Blobs: rep.Blobs, Bytes: rep.Bytes, Checkpoints: rep.Checkpoints,
		ReadDataPercent: pct, Failures: len(rep.Failures), DurationSeconds: time.Since(start).Seconds()}
	rec.FirstFailures = rep.Failures[:min(len(rep.Failures), 20)]
	logged := ""
	if _, err := s.Append(ctx, store.TypeVerifyRun, rec); err != nil {
		rep.Notes = append(rep.Notes, "this verify run could not be logged: "+err.Error())
	} else if c, _, err := s.Checkpoint(ctx); err != nil {
		rep.Notes = append(rep.Notes, "could not issue a checkpoint after verifying: "+err.Error())
	} else {
		logged = strconv.FormatUint(c.Size, 10)
	}
	if g.JSON {
		if err := g.emit(rep); err != nil {
			return err
		}
	} else {
		g.print("Checked %d records, %d packs, %d blobs (%s of content re-hashed), %d checkpoints in %.1fs\n",
			rep.Records, rep.Packs, rep.Blobs, humanBytes(rep.Bytes), rep.Checkpoints, rec.DurationSeconds)
		for _, n := range rep.Notes {
			g.print("note: %s\n", n)
		}
		for _, f := range rep.Failures {
			g.print("FAILED %s\n", f)
		}
		if rep.OK {
			g.print("OK: nothing stored was altered or removed\n")
		}
		if logged != "" {
			g.print("Logged this verify run; new checkpoint at size %s\n", logged)
		}
	}
	if !rep.OK {
		return holdfast.Errorf("verify", holdfast.Integrity, "%d failure(s) in tenant %s", len(rep.Failures), g.Tenant)
	}
	return nil
}
