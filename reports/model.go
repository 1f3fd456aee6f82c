// Package reports renders the documents auditors and certifiers ask for —
// backup and retention procedures, coverage — from the store itself, as
// PDF (gofpdf) signed with the data directory's report-signing key, each
// speaking for a signed checkpoint of the log.
package reports

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Kinds of report built so far.
var Kinds = []string{"procedures", "coverage", "hold", "restore-tests", "disposal"}

// Model is everything a report states: its golden files are this, not the
// PDF's bytes.
type Model struct {
	Kind       string            `json:"kind"`
	Tenant     string            `json:"tenant"`
	From       time.Time         `json:"from"`
	To         time.Time         `json:"to"` // also the moment the report speaks for
	Settings   policy.Settings   `json:"settings"`
	Store      policy.StoreInfo  `json:"store"`
	PolicyHash string            `json:"policy_hash"`
	Findings   []policy.Finding  `json:"findings"`
	Coverage   []CoverageRow     `json:"coverage"`
	Departed   []DepartedRow     `json:"departed"`
	Runs       []RunRow          `json:"runs"`
	Verify     []policy.Check    `json:"verify_runs"`
	Holds      []policy.Hold     `json:"holds"`
	Checkpoint CheckpointSummary `json:"checkpoint"`
	Totals     Totals            `json:"totals"`
	Case       *CaseSection      `json:"case,omitempty"`     // hold reports
	Restores   []RestoreRow      `json:"restores,omitempty"` // procedures and restore-tests reports: every restore in the period
	Disposal   *DisposalSection  `json:"disposal,omitempty"` // disposal reports
}

// CaseSection is a legal hold's case: what is held, and the searches and
// exports made.
type CaseSection struct {
	Case          string     `json:"case"`
	Custodians    []string   `json:"custodians"`
	Query         string     `json:"query,omitempty"`
	From          *time.Time `json:"from,omitempty"`
	To            *time.Time `json:"to,omitempty"`
	Reason        string     `json:"reason"`
	PlacedBy      string     `json:"placed_by"`
	Placed        time.Time  `json:"placed"`
	Released      *time.Time `json:"released,omitempty"`
	ReleasedBy    string     `json:"released_by,omitempty"`
	ReleaseReason string     `json:"release_reason,omitempty"`
	Held          []HeldRow  `json:"held"`
	HeldTotal     int        `json:"held_total"`
	Exports       []AuditRow `json:"exports"`
	Searches      []AuditRow `json:"searches"`
}

// HeldRow is what a hold holds of one custodian, per kind of item.
type HeldRow struct {
	Custodian string         `json:"custodian"`
	Kinds     map[string]int `json:"kinds"`
	Total     int            `json:"total"`
}

// AuditRow is a search or an export.
type AuditRow struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Query  string    `json:"query"`
	Hits   int       `json:"hits"`
	Detail string    `json:"detail,omitempty"`
}

// RestoreRow is a restore or a restore test.
type RestoreRow struct {
	Time      time.Time `json:"time"`
	Restore   string    `json:"restore"`
	Actor     string    `json:"actor"`
	Test      bool      `json:"test"`
	Scope     string    `json:"scope"`
	Target    string    `json:"target"`
	Status    string    `json:"status"`
	Items     int       `json:"items"`
	Bytes     int64     `json:"bytes"`
	Verified  int       `json:"verified"`
	Failures  int       `json:"failures"`
	DurationS float64   `json:"duration_s"`
}

// Options say which report to build.
type Options struct {
	Kind, Tenant string
	Store        policy.StoreInfo
	From, To     time.Time
	Case         string // hold reports
	// Held counts what the case's hold holds (the index does, for the
	// caller): per custodian and kind, and in all.
	Held func(ctx context.Context, custodians []string, query string, from, to *time.Time) ([]HeldRow, int, error)
	// Proposal is the disposal a disposal report is about (0: the latest
	// executed by To).
	Proposal uint64
}

// CoverageRow is one account's workload.
type CoverageRow struct {
	Account  string     `json:"account"`
	Kind     string     `json:"kind"`
	State    string     `json:"state"`
	Workload string     `json:"workload"`
	First    *time.Time `json:"first_capture"`
	Last     *time.Time `json:"last_capture"`
	Items    int        `json:"items"`
	Bytes    int64      `json:"bytes"`
}

// DepartedRow is a departed employee and what was kept of them.
type DepartedRow struct {
	Account string    `json:"account"`
	State   string    `json:"state"`
	Since   time.Time `json:"since"`
	Items   int       `json:"items"`
	Bytes   int64     `json:"bytes"`
	Last    string    `json:"last_capture"`
}

// RunRow is a backup run in the period.
type RunRow struct {
	ID       string    `json:"id"`
	Finished time.Time `json:"finished"`
	Status   string    `json:"status"`
	Failed   int       `json:"failed_items"`
	Reasons  []string  `json:"reasons,omitempty"`
}

// CheckpointSummary is the signed checkpoint the report speaks for.
type CheckpointSummary struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
	Note string `json:"note"`
}

// Totals sum the coverage.
type Totals struct {
	Accounts int   `json:"accounts"`
	Items    int   `json:"items"`
	Bytes    int64 `json:"bytes"`
}

// Store is what a report reads.
type Store interface {
	policy.Scanner
	Record(ctx context.Context, i uint64) (store.Record, []byte, error)
	CheckpointSizes(ctx context.Context) ([]uint64, error)
	CheckpointAt(ctx context.Context, size uint64) (store.Checkpoint, error)
	Cosigned(ctx context.Context, size uint64) ([]byte, error)
	InclusionBundle(ctx context.Context, index, size uint64) (*store.Bundle, error)
	ConsistencyBundle(ctx context.Context, oldSize, newSize uint64) (*store.Bundle, error)
}

// Build reads the model of a report of kind over [from, to] from the
// store. Everything in it is as of to: records after it are not read, and
// the checkpoint is the last one issued by then, so the same store, period
// and moment give the same report.
func Build(ctx context.Context, s Store, b *policy.Bundle, o Options) (*Model, error) {
	const op = "build report"
	kind, tenant, si := o.Kind, o.Tenant, o.Store
	ok := false
	for _, k := range Kinds {
		ok = ok || k == kind
	}
	if !ok {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "unknown report kind %q (one of %s)", kind, strings.Join(Kinds, ", "))
	}
	if kind == "hold" && (o.Case == "" || o.Held == nil) {
		return nil, holdfast.E(op, holdfast.Invalid, "a hold report needs --case NAME")
	}
	to := o.To.UTC().Truncate(time.Second)
	from := o.From.UTC()
	inv, err := policy.Build(ctx, s, tenant, si, to)
	if err != nil {
		return nil, err
	}
	res, err := b.Eval(ctx, inv)
	if err != nil {
		return nil, err
	}
	m := &Model{Kind: kind, Tenant: tenant, From: from, To: to, Settings: inv.Settings, Store: si, PolicyHash: res.PolicyHash,
		Findings: res.Findings, Coverage: []CoverageRow{}, Departed: []DepartedRow{}, Runs: []RunRow{},
		Verify: inPeriod(inv.VerifyRuns, from, to), Holds: inv.Holds}
	for _, a := range inv.Accounts {
		if a.Kind == "chat" {
			continue
		}
		m.Totals.Accounts++
		var items int
		var bytes int64
		last := ""
		ws := make([]string, 0, len(a.Workloads))
		for w := range a.Workloads {
			ws = append(ws, w)
		}
		sort.Strings(ws)
		for _, w := range ws {
			c := a.Workloads[w]
			m.Coverage = append(m.Coverage, CoverageRow{Account: a.UPN, Kind: a.Kind, State: a.State, Workload: w, First: c.FirstCapture, Last: c.LastCapture, Items: c.Items, Bytes: c.Bytes})
			items += c.Items
			bytes += c.Bytes
			if c.LastCapture != nil && c.LastCapture.Format(time.RFC3339) > last {
				last = c.LastCapture.Format(time.RFC3339)
			}
		}
		m.Totals.Items += items
		m.Totals.Bytes += bytes
		if a.DepartedSince != nil {
			m.Departed = append(m.Departed, DepartedRow{Account: a.UPN, State: a.State, Since: *a.DepartedSince, Items: items, Bytes: bytes, Last: last})
		}
	}
	if err := m.runs(ctx, s); err != nil {
		return nil, err
	}
	if err := m.checkpoint(ctx, s); err != nil {
		return nil, err
	}
	switch kind {
	case "hold":
		if err := m.caseSection(ctx, s, o); err != nil {
			return nil, err
		}
	case "restore-tests", "procedures":
		if err := m.restores(ctx, s); err != nil {
			return nil, err
		}
	case "disposal":
		if err := m.disposalSection(ctx, s, o.Proposal); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// caseSection reads a case's hold, its searches and exports.
func (m *Model) caseSection(ctx context.Context, s Store, o Options) error {
	const op = "build hold report"
	var c *CaseSection
	audit := struct{ exports, searches []AuditRow }{[]AuditRow{}, []AuditRow{}}
	err := s.Scan(ctx, 0, []string{record.TypeHoldPlaced, record.TypeHoldReleased, record.TypeAudit}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E(op, holdfast.Integrity, err)
		}
		t := r.Time.UTC().Truncate(time.Second)
		if t.After(m.To) {
			return nil
		}
		switch r.Type {
		case record.TypeHoldPlaced:
			var d record.HoldPlaced
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if strings.EqualFold(d.Case, o.Case) {
				c = &CaseSection{Case: d.Case, Custodians: d.Custodians, Query: d.Query, From: d.From, To: d.To, Reason: d.Reason, PlacedBy: d.Actor, Placed: t}
			}
		case record.TypeHoldReleased:
			var d record.HoldReleased
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if c != nil && strings.EqualFold(d.Case, o.Case) && c.Released == nil {
				c.Released, c.ReleasedBy, c.ReleaseReason = &t, d.Actor, d.Reason
			}
		case record.TypeAudit:
			var d record.Audit
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			row := AuditRow{Time: t, Actor: d.Actor, Query: d.Query, Hits: d.Hits, Detail: d.Detail}
			switch {
			case d.Action == "export" && strings.EqualFold(d.Case, o.Case):
				audit.exports = append(audit.exports, row)
			case d.Action == "search" && !t.Before(m.From):
				audit.searches = append(audit.searches, row)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c == nil {
		return holdfast.Errorf(op, holdfast.NotFound, "no hold for case %q by %s", o.Case, m.To.Format(time.RFC3339))
	}
	c.Exports, c.Searches = audit.exports, audit.searches
	if c.Held, c.HeldTotal, err = o.Held(ctx, c.Custodians, c.Query, c.From, c.To); err != nil {
		return err
	}
	m.Case = c
	return nil
}

// restores reads every restore and restore test of the period.
func (m *Model) restores(ctx context.Context, s Store) error {
	m.Restores = []RestoreRow{}
	return s.Scan(ctx, 0, []string{record.TypeRestorePerformed}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("build report", holdfast.Integrity, err)
		}
		var d record.RestorePerformed
		if err := record.Unmarshal(r, record.TypeRestorePerformed, &d); err != nil {
			return err
		}
		t := r.Time.UTC().Truncate(time.Second)
		if t.Before(m.From) || t.After(m.To) {
			return nil
		}
		scope := strings.Trim(strings.Join([]string{d.Scope.Account, string(d.Scope.Workload), d.Scope.Path}, " "), " ")
		if scope == "" {
			scope = "random sample of everything captured"
		}
		m.Restores = append(m.Restores, RestoreRow{Time: t, Restore: d.Restore, Actor: d.Actor, Test: d.Test, Scope: scope, Target: d.Target, Status: d.Status,
			Items: d.Items, Bytes: d.Bytes, Verified: d.Verified, Failures: len(d.Failures), DurationS: d.DurationS})
		return nil
	})
}

func inPeriod(cs []policy.Check, from, to time.Time) []policy.Check {
	out := []policy.Check{}
	for _, c := range cs {
		if !c.Time.Before(from) && !c.Time.After(to) {
			out = append(out, c)
		}
	}
	return out
}

func (m *Model) runs(ctx context.Context, s Store) error {
	return s.Scan(ctx, 0, []string{record.TypeRunFinished}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("build report", holdfast.Integrity, err)
		}
		var d record.RunFinished
		if err := record.Unmarshal(r, record.TypeRunFinished, &d); err != nil {
			return err
		}
		t := r.Time.UTC().Truncate(time.Second)
		if t.Before(m.From) || t.After(m.To) {
			return nil
		}
		row := RunRow{ID: d.Run, Finished: t, Status: d.Status, Failed: len(d.FailedItems)}
		seen := map[string]bool{}
		for _, f := range d.FailedItems {
			if !seen[f.Reason] {
				seen[f.Reason] = true
				row.Reasons = append(row.Reasons, f.Reason)
			}
		}
		m.Runs = append(m.Runs, row)
		return nil
	})
}

// checkpoint finds the last checkpoint issued by the report's moment.
func (m *Model) checkpoint(ctx context.Context, s Store) error {
	sizes, err := s.CheckpointSizes(ctx)
	if err != nil {
		return err
	}
	for i := len(sizes) - 1; i >= 0; i-- {
		if sizes[i] == 0 {
			continue
		}
		r, _, err := s.Record(ctx, sizes[i]-1)
		if err != nil {
			return err
		}
		if r.Time.After(m.To) {
			continue
		}
		c, err := s.CheckpointAt(ctx, sizes[i])
		if err != nil {
			return err
		}
		// The note as the witnesses have cosigned it so far, so that an
		// auditor can check it against their keys too.
		n, err := s.Cosigned(ctx, c.Size)
		if err != nil {
			return err
		}
		m.Checkpoint = CheckpointSummary{Size: c.Size, Root: hex.EncodeToString(c.Root), Note: string(n)}
		return nil
	}
	return holdfast.Errorf("build report", holdfast.Invalid, "no checkpoint was issued by %s: back the tenant up first", m.To.Format(time.RFC3339))
}
