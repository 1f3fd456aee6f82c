package app

import (
	"context"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/witness"
	"golang.org/x/mod/sumdb/note"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	ReadDataPercent float64 // share of packs re-read in full (0 or 100: all)
	// HeldCheckpoints are files (signed notes or proof bundles) kept
	// elsewhere that the log must be consistent with.
	HeldCheckpoints [][]byte
	HeldNames       []string // their names, for messages
	// Witnesses are witness vkeys the caller trusts: a checkpoint must
	// carry WitnessThreshold of their cosignatures (0: all).
	Witnesses        []string
	WitnessThreshold int
}

// Verified is a verify run's outcome.
type Verified struct {
	*store.VerifyReport
	// Logged says where the verify.run record went: the checkpoint size
	// that covers it, or 0 when it was spooled for a running backup or
	// could not be written (then Notes says why).
	Logged    uint64  `json:"logged_checkpoint,omitempty"`
	Spooled   bool    `json:"spooled,omitempty"`
	DurationS float64 `json:"duration_s"`
}

// Verify re-derives the tenant's store from its bytes (store.Verify) and
// logs the run as a verify.run record. An integrity failure is reported in
// the result, and as an Integrity error.
func (a *App) Verify(ctx context.Context, who Actor, tenant string, o VerifyOptions) (*Verified, error) {
	const op = "verify"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	vkey, err := a.data.LogKey()
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "log key")
	}
	var held []store.Expectation
	for i, b := range o.HeldCheckpoints {
		name := ""
		if i < len(o.HeldNames) {
			name = o.HeldNames[i]
		}
		exps, _, err := store.ParseHeldCheckpoints(b, v, name)
		if err != nil {
			return nil, err
		}
		held = append(held, exps...)
	}
	var wvs []note.Verifier
	for _, k := range o.Witnesses {
		wv, err := witness.NewVerifier(k)
		if err != nil {
			return nil, holdfast.E(op, err, "--witness")
		}
		wvs = append(wvs, wv)
	}
	if o.WitnessThreshold < 0 || o.WitnessThreshold > len(wvs) {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "--witness-threshold %d: want 1 to the %d witnesses given", o.WitnessThreshold, len(wvs))
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	start := a.now()
	rep, err := s.Verify(ctx, store.VerifyOptions{ReadDataPercent: o.ReadDataPercent, ExpectedKey: vkey, Held: held, Progress: a.progress("verify"),
		Witnesses: wvs, WitnessThreshold: o.WitnessThreshold})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	// A witness that refused the log's newest checkpoint as inconsistent
	// with what it cosigned has seen a rolled-back or forked log.
	if sts, err := a.WitnessStatuses(tenant); err == nil {
		for _, st := range sts {
			if st.Refused != "" {
				rep.Failures = append(rep.Failures, store.Failure{Object: "witness " + st.Name,
					Problem: fmt.Sprintf("refused checkpoint %d on %s: %s", st.Latest, st.At.Format(time.RFC3339), st.Refused)})
				rep.OK = false
			}
		}
	}
	rec := record.VerifyRun{OK: rep.OK, Records: rep.Records, Blobs: rep.Blobs, Bytes: rep.Bytes, Checkpoints: rep.Checkpoints,
		ReadDataPercent: o.ReadDataPercent, PacksRead: rep.PacksRead, HeldCheckpoints: rep.Held, Failures: len(rep.Failures),
		DurationSeconds: a.now().Sub(start).Seconds(), Actor: who.String()}
	rec.FirstFailures = rep.Failures[:min(len(rep.Failures), 20)]
	out := &Verified{VerifyReport: rep, DurationS: rec.DurationSeconds}
	if c, err := logRead(ctx, s, record.TypeVerifyRun, rec); err != nil {
		rep.Notes = append(rep.Notes, "this verify run could not be logged: "+err.Error())
	} else if s.Spooled() {
		out.Spooled = true
	} else {
		out.Logged = c.Size
	}
	if !rep.OK {
		return out, holdfast.Errorf(op, holdfast.Integrity, "%d failure(s) in tenant %s", len(rep.Failures), tenant)
	}
	return out, nil
}
