package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/disposal"
	"github.com/holdfast/holdfast/hold"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// DisposalOptions are what a disposal plan is computed with.
type DisposalOptions struct {
	AsOf   time.Time      // zero: now
	Policy *policy.Bundle // the rules; nil: the embedded bundle
	Reason string         // a proposal's reason
}

// ParseAsOf reads the moment a disposal plan is computed as of: a day
// (YYYY-MM-DD, UTC: its end) or an RFC 3339 time; empty: zero (now).
func ParseAsOf(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, holdfast.Errorf("disposal", holdfast.Invalid, "as of %q: want a day such as 2031-01-31 or an RFC 3339 time", v)
	}
	return t.Add(24*time.Hour - time.Nanosecond), nil
}

// disposalView is what a tenant's log says for disposal: the plan's input
// (without holds and queries) and the ledger of proposals.
type disposalView struct {
	in         disposal.Input
	ledger     *disposal.Ledger
	settings   policy.Settings
	policyHash string // of the bundle the plan's rules came from
}

// readDisposal reads the log once for everything a plan needs.
func readDisposal(ctx context.Context, s *store.Store) (*disposalView, error) {
	v := &disposalView{ledger: disposal.NewLedger(), settings: policy.DefaultSettings()}
	v.in.Departed = map[string]time.Time{}
	err := s.Records(ctx, 0, func(_ []byte, r store.Record) error {
		switch r.Type {
		case record.TypeItemVersion:
			var iv record.ItemVersion
			if err := record.Unmarshal(r, r.Type, &iv); err != nil {
				return err
			}
			dv := disposal.Version{Record: r.Index, Workload: string(iv.Workload), Account: iv.Account, Item: iv.Item, Captured: r.Time}
			switch {
			case iv.Mail != nil:
				dv.Received, dv.Modified = iv.Mail.Received, iv.Mail.Modified
			case iv.File != nil:
				dv.Received, dv.Modified = iv.File.Created, iv.File.Modified
			case iv.PIM != nil:
				dv.Modified = iv.PIM.Modified
			}
			for _, ref := range r.Refs {
				dv.SHA256 = append(dv.SHA256, ref.SHA256)
			}
			v.in.Versions = append(v.in.Versions, dv)
		case record.TypeAccountDeparted, record.TypeAccountState:
			var st record.AccountState
			if err := record.Unmarshal(r, r.Type, &st); err != nil {
				return err
			}
			if r.Type == record.TypeAccountDeparted {
				if _, ok := v.in.Departed[strings.ToLower(st.Account)]; !ok {
					v.in.Departed[strings.ToLower(st.Account)] = r.Time
				}
			} else if st.State == "active" {
				delete(v.in.Departed, strings.ToLower(st.Account)) // came back
			}
		case record.TypePolicySettings:
			if err := record.Unmarshal(r, r.Type, &v.settings); err != nil {
				return err
			}
		default:
			if slices.Contains(disposalTypes, r.Type) {
				return v.ledger.Note(r.Index, r.Type, r.Time, r.Data)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v.in.Disposed = map[uint64]bool{}
	for rec := range v.ledger.Disposed {
		v.in.Disposed[rec] = true
	}
	return v, nil
}

// plan computes the disposal plan over s: the schedule's rules, their
// queries and the holds evaluated on the index, brought up to date first.
func (a *App) plan(ctx context.Context, s *store.Store, tenant string, o DisposalOptions) (*disposal.Plan, *disposalView, error) {
	v, err := readDisposal(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	b := o.Policy
	if b == nil {
		if b, err = policy.LoadBundle(""); err != nil {
			return nil, nil, err
		}
	}
	asOf := o.AsOf
	if asOf.IsZero() {
		asOf = a.now()
	}
	v.in.AsOf, v.policyHash = asOf, b.Hash
	if v.in.Rules, err = b.Retention(ctx, policy.RetentionInput{Tenant: tenant, Settings: v.settings, At: asOf}); err != nil {
		return nil, nil, err
	}
	ix, err := a.index(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	defer ix.Close()
	v.in.Selected = map[string]map[uint64]bool{}
	for _, r := range v.in.Rules {
		if r.Query == "" {
			continue
		}
		n, err := kql.Parse(r.Query)
		if err != nil {
			return nil, nil, holdfast.E("disposal plan", holdfast.Invalid, err, "rule "+r.Name)
		}
		sel, err := versionSet(ctx, ix, n)
		if err != nil {
			return nil, nil, err
		}
		v.in.Selected[r.Name] = sel
	}
	if v.in.Held, err = held(ctx, s, ix); err != nil {
		return nil, nil, err
	}
	p := disposal.Compute(v.in)
	if p.Eligible > 0 && s.Retains() {
		// When the storage lets the content go: the packs that hold it.
		going := map[uint64]bool{}
		for _, dv := range p.Versions() {
			going[dv.Record] = true
		}
		_, packs, err := s.DisposalContent(ctx, going)
		if err != nil {
			return nil, nil, err
		}
		from, err := s.RemovableFrom(ctx, packs)
		if err != nil {
			return nil, nil, err
		}
		if !from.IsZero() {
			p.RemovableFrom = &from
		}
	}
	return p, v, nil
}

func versionSet(ctx context.Context, ix *index.Index, n kql.Node) (map[uint64]bool, error) {
	vs, err := ix.Versions(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]bool, len(vs))
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}

// held is every version an active hold covers now, with its cases. A hold
// that cannot be evaluated fails the whole: nothing may be disposed of.
func held(ctx context.Context, s *store.Store, ix *index.Index) (map[uint64][]string, error) {
	holds, err := hold.Load(ctx, s)
	if err != nil {
		return nil, holdfast.E("dispose", holdfast.Locked, err, "holds could not be read, so nothing may be disposed of")
	}
	h, err := hold.Held(ctx, ix, holds)
	if err != nil {
		return nil, holdfast.E("dispose", holdfast.Locked, err, "holds could not be evaluated, so nothing may be disposed of")
	}
	return h, nil
}

// DisposalPlan computes what the tenant's retention schedule lets go at
// o.AsOf, and what holds keep. It changes nothing.
func (a *App) DisposalPlan(ctx context.Context, who Actor, tenant string, o DisposalOptions) (*disposal.Plan, error) {
	if err := who.validate("disposal plan"); err != nil {
		return nil, err
	}
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	p, _, err := a.plan(ctx, s, tenant, o)
	return p, err
}

// ProposeDisposal computes the plan and logs it as a proposal
// (disposal.proposed) for a second person to review; it returns the
// proposal's record. A plan with nothing eligible is not proposed.
func (a *App) ProposeDisposal(ctx context.Context, who Actor, tenant string, o DisposalOptions) (uint64, *disposal.Plan, error) {
	const op = "disposal propose"
	if err := who.validate(op); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(o.Reason) == "" {
		return 0, nil, holdfast.E(op, holdfast.Invalid, "--reason is required: a proposal records why")
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return 0, nil, err
	}
	defer a.closeStore(ctx, s)
	p, v, err := a.plan(ctx, s, tenant, o)
	if err != nil {
		return 0, nil, err
	}
	if p.Eligible == 0 {
		return 0, p, holdfast.Errorf(op, holdfast.Invalid, "nothing is due for disposal as of %s: nothing to propose", p.AsOf.Format(time.RFC3339))
	}
	rec := record.DisposalProposed{Tenant: tenant, AsOf: p.AsOf, Rules: p.Rules, PolicyHash: v.policyHash, Versions: p.Versions(),
		Held: len(p.Held), Reason: o.Reason, Actor: who.String(), Person: who.Name}
	idx, err := s.Append(ctx, record.TypeDisposalProposed, rec)
	if err != nil {
		return 0, nil, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return 0, nil, err
	}
	return idx, p, nil
}

// ReviewDisposal records a second person's decision on a proposal: who
// must not be its proposer and must have the legal role (the caller
// authenticated them: the console, the API, or the CLI with a password).
func (a *App) ReviewDisposal(ctx context.Context, who Actor, role, tenant string, proposal uint64, decision, reason string) (uint64, error) {
	const op = "disposal review"
	if err := who.validate(op); err != nil {
		return 0, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return 0, err
	}
	defer a.closeStore(ctx, s)
	l, err := readLedger(ctx, s)
	if err != nil {
		return 0, err
	}
	if _, err := l.CheckReview(proposal, who.Name, role, decision, reason); err != nil {
		return 0, err
	}
	idx, err := s.Append(ctx, record.TypeDisposalReviewed, record.DisposalReviewed{Proposal: proposal, Decision: decision, Reason: reason,
		Actor: who.String(), Person: who.Name, Role: role})
	if err != nil {
		return 0, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return 0, err
	}
	return idx, nil
}

// DisposalResult is what an execution did.
type DisposalResult struct {
	Proposal  uint64   `json:"proposal"`
	Execution uint64   `json:"execution"` // the disposal.executed record
	Versions  int      `json:"versions"`
	Blobs     int      `json:"blobs"`     // content removed (blobs no other version references)
	Packs     int      `json:"packs"`     // packs rewritten and retired
	Completed []uint64 `json:"completed"` // executions completed by this call (a killed one's too)
	// RetiredLeft are retired packs the storage keeps for now (a legal
	// hold on them): the next execute removes them.
	RetiredLeft int    `json:"retired_left"`
	Checkpoint  uint64 `json:"checkpoint"`
}

// ExecuteDisposal carries out an approved proposal: it checks the holds
// at this moment (a version held now stops the whole execution: nothing is
// disposed of, and a new plan leaves the held versions out), logs
// disposal.executed naming every version, its rule and content, and
// removes the content (store.FinishDisposals). With proposal 0 it only
// completes executions a killed run left unfinished.
func (a *App) ExecuteDisposal(ctx context.Context, who Actor, tenant string, proposal uint64) (*DisposalResult, error) {
	const op = "disposal execute"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	res := &DisposalResult{Proposal: proposal, Completed: []uint64{}}
	p := a.progress("disposal: rewriting packs")
	finish := func() ([]uint64, error) {
		done, err := s.FinishDisposals(ctx, func(n, total int) {
			if p != nil {
				p(int64(n), int64(total))
			}
		})
		res.Completed = append(res.Completed, done...)
		return done, err
	}
	// An execution a killed run left unfinished is completed first, so
	// that its packs are never taken over by the next one's.
	completed, err := finish()
	if err != nil {
		return res, err
	}
	var done error // a proposal completed before: said once the leftovers are cleared
	if proposal != 0 {
		if err := a.execute(ctx, s, who, proposal, res); holdfast.Is(holdfast.Exist, err) {
			done = err
		} else if err != nil {
			return res, err
		}
	}
	more, err := finish()
	completed = append(completed, more...)
	if err != nil {
		return res, err
	}
	// Legal holds on the storage follow the held content into the new
	// packs before the retired ones are removed.
	if s.LegalHolds() && (len(completed) > 0 || res.Execution != 0) {
		ix, err := a.index(ctx, s)
		if err != nil {
			return res, err
		}
		a.legalHoldsAfter(ctx, s, ix)
		if err := ix.Close(); err != nil {
			return res, err
		}
	}
	if res.RetiredLeft, err = s.RemoveRetired(ctx); err != nil {
		return res, err
	}
	if len(completed) > 0 || res.Execution != 0 {
		// The index forgets the disposed content: index.Update re-indexes
		// the versions from their records and merges the old documents
		// out of its segments.
		ix, err := a.index(ctx, s)
		if err != nil {
			return res, err
		}
		if err := ix.Close(); err != nil {
			return res, err
		}
		c, _, err := s.Checkpoint(ctx)
		if err != nil {
			return res, err
		}
		res.Checkpoint = c.Size
	}
	return res, done
}

func (a *App) execute(ctx context.Context, s *store.Store, who Actor, proposal uint64, res *DisposalResult) error {
	const op = "disposal execute"
	l, err := readLedger(ctx, s)
	if err != nil {
		return err
	}
	if p := l.Proposals[proposal]; p != nil && p.Executed != 0 {
		if p.Completed != 0 && !slices.Contains(res.Completed, p.Executed) {
			return holdfast.Errorf(op, holdfast.Exist, "proposal %d was executed by record %d and completed by record %d", proposal, p.Executed, p.Completed)
		}
		// Interrupted: completed by this call, before or after this.
		res.Execution, res.Versions = p.Executed, p.Disposed
		return nil
	}
	p, err := l.CheckExecute(proposal)
	if err != nil {
		return err
	}
	// Holds, as they stand now, on an index brought up to date now.
	ix, err := a.index(ctx, s)
	if err != nil {
		return err
	}
	holds, err := hold.Load(ctx, s)
	if err == nil {
		var recs []uint64
		for _, dv := range p.Data.Versions {
			recs = append(recs, dv.Record)
		}
		err = hold.CheckDisposal(ctx, ix, holds, recs)
	}
	if cerr := ix.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return holdfast.E(op, err, fmt.Sprintf("proposal %d", proposal))
	}
	going := map[uint64]bool{}
	var versions []record.DisposalVersion
	for _, dv := range p.Data.Versions {
		if _, done := l.Disposed[dv.Record]; !done { // an overlapping proposal took it already
			going[dv.Record] = true
			versions = append(versions, dv)
		}
	}
	blobs, packs, err := s.DisposalContent(ctx, going)
	if err != nil {
		return err
	}
	rec := record.DisposalExecuted{Proposal: proposal, Approval: p.Review.Record, Versions: versions, Blobs: blobs, Packs: packs, Actor: who.String()}
	if res.Execution, err = s.Dispose(ctx, rec); err != nil {
		return err
	}
	res.Versions, res.Blobs, res.Packs = len(versions), len(blobs), len(packs)
	return nil
}

// Disposals lists the tenant's disposal proposals and what became of them.
func (a *App) Disposals(ctx context.Context, tenant string) ([]*disposal.Proposal, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	l, err := readLedger(ctx, s)
	if err != nil {
		return nil, err
	}
	return l.Sorted(), nil
}

// disposalTypes are the records the disposal ledger is made of.
var disposalTypes = []string{record.TypeDisposalProposed, record.TypeDisposalReviewed, record.TypeDisposalExecuted, record.TypeDisposalDone}

// readLedger reads the tenant's disposal records alone into the ledger of
// proposals: what a review, an execution or a list needs.
func readLedger(ctx context.Context, s *store.Store) (*disposal.Ledger, error) {
	l := disposal.NewLedger()
	err := s.Scan(ctx, 0, disposalTypes, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("disposal ledger", holdfast.Integrity, err)
		}
		return l.Note(r.Index, r.Type, r.Time, r.Data)
	})
	return l, err
}

// DisposedVersions is every version of the tenant disposed of, by record:
// what search, restore and export say in place of the content.
func DisposedVersions(ctx context.Context, s *store.Store) (disposal.DisposedVersions, error) {
	l, err := readLedger(ctx, s)
	if err != nil {
		return nil, err
	}
	return l.Disposed, nil
}
