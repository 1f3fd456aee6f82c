package disposal

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Proposal is a disposal proposal and what became of it, as the log says.
type Proposal struct {
	Record   uint64                  `json:"record"`
	Proposed time.Time               `json:"proposed"`
	Data     record.DisposalProposed `json:"proposal"`
	Review   *Review                 `json:"review,omitempty"`
	// Executed is the disposal.executed record (0: not executed), Completed
	// the disposal.completed record that retired its packs (0: not yet).
	Executed   uint64    `json:"executed,omitempty"`
	ExecutedAt time.Time `json:"executed_at,omitzero"`
	ExecutedBy string    `json:"executed_by,omitempty"`
	Disposed   int       `json:"disposed,omitempty"` // versions the execution disposed of
	Completed  uint64    `json:"completed,omitempty"`
}

// Review is the decision on a proposal.
type Review struct {
	Record uint64                  `json:"record"`
	Time   time.Time               `json:"time"`
	Data   record.DisposalReviewed `json:"review"`
}

// State is where the proposal stands: proposed, rejected, approved,
// executed (content going) or completed.
func (p *Proposal) State() string {
	switch {
	case p.Completed != 0:
		return "completed"
	case p.Executed != 0:
		return "executed"
	case p.Review == nil:
		return "proposed"
	}
	return p.Review.Data.Decision
}

// Ledger is every proposal of a tenant, by its record, and every version
// disposed of.
type Ledger struct {
	Proposals map[uint64]*Proposal
	Disposed  DisposedVersions
}

// NewLedger returns an empty ledger; Note fills it from the log.
func NewLedger() *Ledger {
	return &Ledger{Proposals: map[uint64]*Proposal{}, Disposed: DisposedVersions{}}
}

// Note takes a disposal record into account; other records are ignored.
// A record that contradicts the ledger (a review of no proposal, a second
// review) is an Integrity error: the app never writes one.
func (l *Ledger) Note(idx uint64, typ string, at time.Time, data json.RawMessage) error {
	bad := func(format string, args ...any) error {
		return holdfast.Errorf("disposal ledger", holdfast.Integrity, "record %d (%s): "+format, append([]any{idx, typ}, args...)...)
	}
	switch typ {
	case record.TypeDisposalProposed:
		p := &Proposal{Record: idx, Proposed: at}
		if err := json.Unmarshal(data, &p.Data); err != nil {
			return bad("%v", err)
		}
		l.Proposals[idx] = p
	case record.TypeDisposalReviewed:
		var d record.DisposalReviewed
		if err := json.Unmarshal(data, &d); err != nil {
			return bad("%v", err)
		}
		p := l.Proposals[d.Proposal]
		if p == nil || p.Review != nil {
			return bad("reviews proposal %d, which is not open for review", d.Proposal)
		}
		p.Review = &Review{Record: idx, Time: at, Data: d}
	case record.TypeDisposalExecuted:
		var d record.DisposalExecuted
		if err := json.Unmarshal(data, &d); err != nil {
			return bad("%v", err)
		}
		p := l.Proposals[d.Proposal]
		if p == nil || p.Review == nil || p.Review.Data.Decision != Approved || p.Executed != 0 {
			return bad("executes proposal %d, which is not approved and waiting", d.Proposal)
		}
		p.Executed, p.ExecutedAt, p.ExecutedBy, p.Disposed = idx, at, d.Actor, len(d.Versions)
		for _, v := range d.Versions {
			l.Disposed[v.Record] = Disposed{Execution: idx, At: at, Rule: v.Rule}
		}
	case record.TypeDisposalDone:
		var d record.DisposalCompleted
		if err := json.Unmarshal(data, &d); err != nil {
			return bad("%v", err)
		}
		for _, p := range l.Proposals {
			if p.Executed == d.Execution {
				p.Completed = idx
			}
		}
	}
	return nil
}

// Decisions a review records.
const (
	Approved = "approved"
	Rejected = "rejected"
)

// ReviewerRole is the role a reviewer must have.
const ReviewerRole = "legal"

// CheckReview refuses a review the rules do not allow: of a proposal not
// open for review, by its proposer, by someone without the legal role, or
// without a reason.
func (l *Ledger) CheckReview(proposal uint64, person, role, decision, reason string) (*Proposal, error) {
	const op = "disposal review"
	p := l.Proposals[proposal]
	switch {
	case p == nil:
		return nil, holdfast.Errorf(op, holdfast.NotFound, "no disposal proposal at record %d", proposal)
	case p.Review != nil:
		return nil, holdfast.Errorf(op, holdfast.Exist, "proposal %d was already %s by %s", proposal, p.Review.Data.Decision, p.Review.Data.Actor)
	case decision != Approved && decision != Rejected:
		return nil, holdfast.Errorf(op, holdfast.Invalid, "a review approves or rejects, not %q", decision)
	case strings.TrimSpace(reason) == "":
		return nil, holdfast.E(op, holdfast.Invalid, "a review records why: give a reason")
	case role != ReviewerRole:
		return nil, holdfast.Errorf(op, holdfast.Permission, "a disposal is reviewed by someone with the legal role, not %s", orNone(role))
	case strings.EqualFold(strings.TrimSpace(person), strings.TrimSpace(p.Data.Person)):
		return nil, holdfast.Errorf(op, holdfast.Permission, "%s proposed this disposal: a second person reviews it", person)
	}
	return p, nil
}

// CheckExecute refuses to execute a proposal that is not approved, or that
// was executed already.
func (l *Ledger) CheckExecute(proposal uint64) (*Proposal, error) {
	const op = "disposal execute"
	p := l.Proposals[proposal]
	switch {
	case p == nil:
		return nil, holdfast.Errorf(op, holdfast.NotFound, "no disposal proposal at record %d", proposal)
	case p.Executed != 0:
		return nil, holdfast.Errorf(op, holdfast.Exist, "proposal %d was executed by record %d", proposal, p.Executed)
	case p.Review == nil:
		return nil, holdfast.Errorf(op, holdfast.Permission, "proposal %d has not been reviewed: a second person with the legal role approves it first", proposal)
	case p.Review.Data.Decision != Approved:
		return nil, holdfast.Errorf(op, holdfast.Permission, "proposal %d was %s by %s: %s", proposal, p.Review.Data.Decision, p.Review.Data.Actor, p.Review.Data.Reason)
	}
	return p, nil
}

// Sorted is the ledger's proposals, oldest first.
func (l *Ledger) Sorted() []*Proposal {
	out := make([]*Proposal, 0, len(l.Proposals))
	for _, p := range l.Proposals {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Proposal) int { return cmp.Compare(a.Record, b.Record) })
	return out
}

// DisposedVersions is every version an execution disposed of, with the
// execution's record and time: what search, restore and export say of it.
type DisposedVersions map[uint64]Disposed

// Disposed is how a version was disposed of.
type Disposed struct {
	Execution uint64    `json:"execution"`
	At        time.Time `json:"at"`
	Rule      string    `json:"rule"`
}

func (d Disposed) String() string {
	return fmt.Sprintf("disposed of on %s under rule %q (record %d)", d.At.UTC().Format("2006-01-02"), d.Rule, d.Execution)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
