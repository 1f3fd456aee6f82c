package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/hold"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/store"
)

// ReportOptions describe a report to issue.
type ReportOptions struct {
	Kind     string // procedures, coverage, hold, restore-tests
	Case     string // the case, for a hold report
	Proposal uint64 // the disposal, for a disposal report (0: the latest executed)
	Out      string // the new PDF file; a report never overwrites
	From, To time.Time
	Policies *policy.Bundle
	Signer   *reports.Signer
	// DocumentTimestamp adds a document time-stamp by the signer's TSA
	// over the signed report and its validation data (PAdES-B-LTA).
	DocumentTimestamp bool
}

// SignerDir is where the report-signing key and certificate are kept.
func (a *App) SignerDir() string { return filepath.Join(a.data.Dir, "keys") }

// IssueReport builds a tenant's report from its store as of o.To, renders,
// signs and writes it, and logs it (report.issued) with its SHA-256 and the
// checkpoint it speaks for.
func (a *App) IssueReport(ctx context.Context, who Actor, tenant string, o ReportOptions) (*record.ReportIssued, error) {
	const op = "report"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	if o.Out == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "--out is required")
	}
	if o.From.After(o.To) {
		return nil, holdfast.E(op, holdfast.Invalid, "--from is after --to")
	}
	if _, err := os.Lstat(o.Out); err == nil {
		return nil, holdfast.Errorf(op, holdfast.Exist, "%s exists; a report never overwrites", o.Out)
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	if o.Kind != "hold" {
		o.Case = ""
	}
	opts := reports.Options{Kind: o.Kind, Tenant: tenant, Store: StoreInfo(s), From: o.From, To: o.To, Case: o.Case, Proposal: o.Proposal}
	if o.Kind == "hold" {
		ix, err := a.index(ctx, s)
		if err != nil {
			return nil, err
		}
		defer ix.Close()
		opts.Held = func(ctx context.Context, custodians []string, query string, from, to *time.Time) ([]reports.HeldRow, int, error) {
			return HeldRows(ctx, ix, &hold.Hold{HoldPlaced: record.HoldPlaced{Case: o.Case, Custodians: custodians, Query: query, From: from, To: to}})
		}
	}
	m, err := reports.Build(ctx, s, o.Policies, opts)
	if err != nil {
		return nil, err
	}
	pdf, err := reports.Render(m)
	if err != nil {
		return nil, err
	}
	if o.DocumentTimestamp && o.Signer.TSA == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "a document time-stamp (PAdES-B-LTA) needs a time-stamping authority (--tsa)")
	}
	signed, err := reports.Sign(ctx, pdf, *o.Signer, a.now(), "Holdfast "+o.Kind+" report of "+tenant)
	if err != nil {
		return nil, err
	}
	// A time-stamped signature (B-T) gets validation data after it (the
	// chain, and the report CA's CRL): PAdES-B-LT. Without a time-stamp
	// the report stays B-B, signed whole.
	if o.Signer.TSA != "" {
		if signed, err = reports.AddValidationData(signed, *o.Signer, a.now()); err != nil {
			return nil, err
		}
	}
	if o.DocumentTimestamp {
		if signed, err = reports.AddDocumentTimestamp(ctx, signed, o.Signer.TSA); err != nil {
			return nil, err
		}
	}
	out, _ := filepath.Abs(o.Out)
	if err := store.WriteNew(out, signed, 0o644); err != nil {
		return nil, holdfast.E(op, err)
	}
	sum := sha256.Sum256(signed)
	rec := record.ReportIssued{Kind: o.Kind, Tenant: tenant, From: m.From, To: m.To, Checkpoint: m.Checkpoint.Size, Root: m.Checkpoint.Root,
		Signer: o.Signer.Name, Fingerprint: o.Signer.Fingerprint(), SHA256: hex.EncodeToString(sum[:]), Bytes: len(signed), Actor: who.String(), File: out, Case: o.Case}
	if _, err := logRead(ctx, s, record.TypeReportIssued, rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// StoreInfo says where a store is and how immutable it is, for policies
// and reports.
func StoreInfo(s *store.Store) policy.StoreInfo {
	backend, lock := s.Location()
	return policy.StoreInfo{Backend: backend, ObjectLock: lock}
}
