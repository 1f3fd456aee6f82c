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
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/store"
)

// Kinds of report built so far.
var Kinds = []string{"procedures", "coverage"}

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
	Restore    []policy.Check    `json:"restore_tests"`
	Verify     []policy.Check    `json:"verify_runs"`
	Holds      []policy.Hold     `json:"holds"`
	Checkpoint CheckpointSummary `json:"checkpoint"`
	Totals     Totals            `json:"totals"`
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
}

// Build reads the model of a report of kind over [from, to] from the
// store. Everything in it is as of to: records after it are not read, and
// the checkpoint is the last one issued by then, so the same store, period
// and moment give the same report.
func Build(ctx context.Context, s Store, b *policy.Bundle, kind, tenant string, si policy.StoreInfo, from, to time.Time) (*Model, error) {
	const op = "build report"
	ok := false
	for _, k := range Kinds {
		ok = ok || k == kind
	}
	if !ok {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "unknown report kind %q (built: procedures, coverage)", kind)
	}
	to = to.UTC().Truncate(time.Second)
	from = from.UTC()
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
		Restore: inPeriod(inv.RestoreTests, from, to), Verify: inPeriod(inv.VerifyRuns, from, to), Holds: inv.Holds}
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
	return m, nil
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
	return s.Scan(ctx, 0, []string{store.TypeRunFinished}, func(raw []byte) error {
		var r struct {
			Time time.Time `json:"time"`
			Data struct {
				Run    string `json:"run"`
				Status string `json:"status"`
				Failed []struct {
					Reason string `json:"reason"`
				} `json:"failed_items"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("build report", holdfast.Integrity, err)
		}
		t := r.Time.UTC().Truncate(time.Second)
		if t.Before(m.From) || t.After(m.To) {
			return nil
		}
		row := RunRow{ID: r.Data.Run, Finished: t, Status: r.Data.Status, Failed: len(r.Data.Failed)}
		seen := map[string]bool{}
		for _, f := range r.Data.Failed {
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
		m.Checkpoint = CheckpointSummary{Size: c.Size, Root: hex.EncodeToString(c.Root), Note: string(c.Note)}
		return nil
	}
	return holdfast.Errorf("build report", holdfast.Invalid, "no checkpoint was issued by %s: back the tenant up first", m.To.Format(time.RFC3339))
}
