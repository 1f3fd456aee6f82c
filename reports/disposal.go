package reports

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/disposal"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// DisposalSection is one disposal: who proposed it under which rules, who
// approved it, what it disposed of, and the proofs that its execution is
// in the log and that the log before it was not changed.
type DisposalSection struct {
	Proposal   uint64                 `json:"proposal"`
	Proposed   time.Time              `json:"proposed"`
	ProposedBy string                 `json:"proposed_by"`
	Reason     string                 `json:"reason"`
	AsOf       time.Time              `json:"as_of"`
	Rules      []record.RetentionRule `json:"rules"`
	PolicyHash string                 `json:"policy_hash"`
	HeldAtPlan int                    `json:"held_at_plan"` // due but held when proposed: excluded
	Review     disposal.Review        `json:"review"`
	Execution  uint64                 `json:"execution"`
	Executed   time.Time              `json:"executed"`
	ExecutedBy string                 `json:"executed_by"`
	Completed  uint64                 `json:"completed,omitempty"` // the disposal.completed record; 0: content removal not finished
	Versions   int                    `json:"versions"`
	Blobs      int                    `json:"blobs"`
	Packs      int                    `json:"packs"`
	ByRule     []Count                `json:"by_rule"`
	ByWorkload []Count                `json:"by_workload"`
	ByAccount  []Count                `json:"by_account"`
	// Inclusion proves the execution record is in the log of the report's
	// checkpoint; Consistency that the log of the last checkpoint before
	// the execution is a prefix of it: nothing logged before was changed.
	Inclusion   ProofSummary `json:"inclusion"`
	Consistency ProofSummary `json:"consistency"`
}

// Count is a number of disposed versions under one key.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// ProofSummary is a proof as a report prints it: hex hashes (RFC 6962).
type ProofSummary struct {
	Index    uint64   `json:"index,omitempty"` // inclusion: the record
	LeafHash string   `json:"leaf_hash,omitempty"`
	OldSize  uint64   `json:"old_size,omitempty"` // consistency: the earlier checkpoint
	OldRoot  string   `json:"old_root,omitempty"`
	Size     uint64   `json:"size"`
	Root     string   `json:"root"`
	Path     []string `json:"path"`
}

// disposalSection reads disposal proposal (0: the latest executed by the
// report's moment) and its proofs against the report's checkpoint.
func (m *Model) disposalSection(ctx context.Context, s Store, proposal uint64) error {
	const op = "build disposal report"
	l := disposal.NewLedger()
	err := s.Scan(ctx, 0, []string{record.TypeDisposalProposed, record.TypeDisposalReviewed, record.TypeDisposalExecuted, record.TypeDisposalDone}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E(op, holdfast.Integrity, err)
		}
		if r.Time.UTC().Truncate(time.Second).After(m.To) {
			return nil
		}
		return l.Note(r.Index, r.Type, r.Time, r.Data)
	})
	if err != nil {
		return err
	}
	var p *disposal.Proposal
	if proposal == 0 {
		for _, q := range l.Sorted() {
			if q.Executed != 0 {
				p = q
			}
		}
		if p == nil {
			return holdfast.Errorf(op, holdfast.NotFound, "no disposal was executed by %s", m.To.Format(time.RFC3339))
		}
	} else if p = l.Proposals[proposal]; p == nil || p.Executed == 0 {
		return holdfast.Errorf(op, holdfast.NotFound, "no executed disposal proposal at record %d by %s (holdfast disposal list)", proposal, m.To.Format(time.RFC3339))
	}
	if m.Checkpoint.Size <= p.Executed {
		return holdfast.Errorf(op, holdfast.Invalid, "no checkpoint by %s covers the execution (record %d): report later", m.To.Format(time.RFC3339), p.Executed)
	}
	r, _, err := s.Record(ctx, p.Executed)
	if err != nil {
		return err
	}
	var ex record.DisposalExecuted
	if err := record.Unmarshal(r, record.TypeDisposalExecuted, &ex); err != nil {
		return err
	}
	d := &DisposalSection{Proposal: p.Record, Proposed: p.Proposed.UTC(), ProposedBy: p.Data.Actor, Reason: p.Data.Reason, AsOf: p.Data.AsOf,
		Rules: p.Data.Rules, PolicyHash: p.Data.PolicyHash, HeldAtPlan: p.Data.Held, Review: *p.Review,
		Execution: p.Executed, Executed: p.ExecutedAt.UTC(), ExecutedBy: p.ExecutedBy, Completed: p.Completed,
		Versions: len(ex.Versions), Blobs: len(ex.Blobs), Packs: len(ex.Packs)}
	rules, workloads, accounts := map[string]int{}, map[string]int{}, map[string]int{}
	for _, v := range ex.Versions {
		rules[v.Rule]++
		workloads[v.Workload]++
		accounts[v.Account]++
	}
	d.ByRule, d.ByWorkload, d.ByAccount = counts(rules), counts(workloads), counts(accounts)
	inc, err := s.InclusionBundle(ctx, p.Executed, m.Checkpoint.Size)
	if err != nil {
		return err
	}
	d.Inclusion = ProofSummary{Index: p.Executed, LeafHash: hex.EncodeToString(store.LeafHash([]byte(inc.Record))), Size: m.Checkpoint.Size, Root: m.Checkpoint.Root, Path: hexes(inc.Proof)}
	// The newest checkpoint before the execution record.
	sizes, err := s.CheckpointSizes(ctx)
	if err != nil {
		return err
	}
	var old uint64
	for _, n := range sizes {
		if n <= p.Executed && n > old {
			old = n
		}
	}
	if old == 0 {
		return holdfast.Errorf(op, holdfast.Integrity, "no checkpoint was issued before the execution (record %d)", p.Executed)
	}
	con, err := s.ConsistencyBundle(ctx, old, m.Checkpoint.Size)
	if err != nil {
		return err
	}
	oc, err := s.CheckpointAt(ctx, old)
	if err != nil {
		return err
	}
	d.Consistency = ProofSummary{OldSize: old, OldRoot: hex.EncodeToString(oc.Root), Size: m.Checkpoint.Size, Root: m.Checkpoint.Root, Path: hexes(con.Proof)}
	m.Disposal = d
	return nil
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	slices.SortFunc(out, func(a, b Count) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func hexes(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

// disposal renders a disposal report.
func (d *doc) disposal() {
	m, x := d.m, d.m.Disposal
	d.h1(fmt.Sprintf("Disposal: proposal %d", x.Proposal))
	removal := fmt.Sprintf("the content was removed (record %d)", x.Completed)
	if x.Completed == 0 {
		removal = "the removal of the content was not finished by the report's moment"
	}
	d.para(fmt.Sprintf("Tenant %s. Proposed %s by %s as of %s: %s. %s %s by %s (role %s): %s. Executed %s by %s (record %d); %s. As of %s, speaking for checkpoint %d.",
		m.Tenant, x.Proposed.Format("2006-01-02 15:04"), x.ProposedBy, x.AsOf.Format("2006-01-02"), x.Reason,
		strings.ToUpper(x.Review.Data.Decision[:1])+x.Review.Data.Decision[1:], x.Review.Time.UTC().Format("2006-01-02 15:04"), x.Review.Data.Actor, x.Review.Data.Role, x.Review.Data.Reason,
		x.Executed.Format("2006-01-02 15:04"), x.ExecutedBy, x.Execution, removal, m.To.Format("2006-01-02 15:04 UTC"), m.Checkpoint.Size))
	d.h2("Retention rules")
	var rows [][]string
	for _, r := range x.Rules {
		rows = append(rows, []string{r.Name, r.Scope(), fmt.Sprint(r.KeepDays), r.From})
	}
	d.table([]string{"Rule", "Covers", "Kept (days)", "From"}, []float64{40, 90, 22, 28}, rows)
	d.para(fmt.Sprintf("Policy hash %s. %d versions were due but under legal hold when proposed, and were excluded; holds were checked again when the disposal was executed.", orDash(x.PolicyHash), x.HeldAtPlan))
	d.h2(fmt.Sprintf("What was disposed of: %d item versions", x.Versions))
	d.para(fmt.Sprintf("%d blobs of content that no other version referenced were removed; %d packs were rewritten without them. The records of the versions stay in the log, so every earlier checkpoint and proof stays valid.", x.Blobs, x.Packs))
	for _, t := range []struct {
		name string
		cs   []Count
	}{{"Rule", x.ByRule}, {"Workload", x.ByWorkload}, {"Account", x.ByAccount}} {
		rows = rows[:0]
		for _, c := range t.cs {
			rows = append(rows, []string{c.Key, fmt.Sprint(c.Count)})
		}
		d.table([]string{t.name, "Versions"}, []float64{150, 30}, rows)
	}
	d.h2("Proof")
	d.para(fmt.Sprintf("Inclusion: record %d (leaf hash %s) is in the log of checkpoint %d (root %s), by the audit path below (RFC 6962). Check it offline: holdfast proof --tenant %s --record %d --checkpoint %d, then holdfast verify-proof FILE --key \"$(holdfast log-key)\".",
		x.Inclusion.Index, x.Inclusion.LeafHash, x.Inclusion.Size, x.Inclusion.Root, m.Tenant, x.Inclusion.Index, x.Inclusion.Size))
	d.hashes(x.Inclusion.Path)
	d.para(fmt.Sprintf("Consistency: the log of checkpoint %d (root %s), the last before the execution, is a prefix of the log of checkpoint %d: nothing logged before the disposal was changed or removed. holdfast proof --tenant %s --consistency %d %d gives the bundle.",
		x.Consistency.OldSize, x.Consistency.OldRoot, x.Consistency.Size, m.Tenant, x.Consistency.OldSize, x.Consistency.Size))
	d.hashes(x.Consistency.Path)
}

// hashes prints a proof's path, one hash a line.
func (d *doc) hashes(hs []string) {
	var rows [][]string
	for i, h := range hs {
		rows = append(rows, []string{fmt.Sprint(i + 1), h})
	}
	d.table([]string{"#", "Hash (hex)"}, []float64{10, 170}, rows)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
