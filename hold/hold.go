// Package hold is legal hold: cases that keep custodians' item versions
// (optionally only those a KQL query and a date range select) from ever
// being disposed of. Holds are log records with actor and reason, so their
// history is as verifiable as the data they protect.
package hold

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Hold is a case's hold: as placed (its hold.placed record's data), when
// and in which record, and its release.
type Hold struct {
	record.HoldPlaced
	Placed time.Time `json:"placed"`
	Record uint64    `json:"record"`

	Released       *time.Time `json:"released,omitempty"`
	ReleasedBy     string     `json:"released_by,omitempty"`
	ReleasedReason string     `json:"released_reason,omitempty"`
}

// Active reports whether the hold still holds.
func (h *Hold) Active() bool { return h.Released == nil }

// Log is what holds are read from.
type Log interface {
	Records(ctx context.Context, from uint64, fn func(raw []byte, r store.Record) error) error
}

// Load returns every hold in the log, by case name (the latest placing of
// a case name wins once an earlier one was released).
func Load(ctx context.Context, lg Log) (map[string]*Hold, error) {
	out := map[string]*Hold{}
	err := lg.Records(ctx, 0, func(_ []byte, r store.Record) error {
		switch r.Type {
		case record.TypeHoldPlaced:
			var p record.HoldPlaced
			if err := json.Unmarshal(r.Data, &p); err != nil {
				return holdfast.E("load holds", holdfast.Integrity, err)
			}
			out[strings.ToLower(p.Case)] = &Hold{HoldPlaced: p, Placed: r.Time, Record: r.Index}
		case record.TypeHoldReleased:
			var rel record.HoldReleased
			if err := json.Unmarshal(r.Data, &rel); err != nil {
				return holdfast.E("load holds", holdfast.Integrity, err)
			}
			if h := out[strings.ToLower(rel.Case)]; h != nil && h.Active() {
				t := r.Time
				h.Released, h.ReleasedBy, h.ReleasedReason = &t, rel.Actor, rel.Reason
			}
		}
		return nil
	})
	return out, err
}

// Validate checks a hold before it is placed.
func Validate(p record.HoldPlaced) error {
	const op = "hold create"
	switch {
	case strings.TrimSpace(p.Case) == "":
		return holdfast.E(op, holdfast.Invalid, "--case is required")
	case len(p.Custodians) == 0:
		return holdfast.E(op, holdfast.Invalid, "at least one --custodian is required")
	case strings.TrimSpace(p.Reason) == "":
		return holdfast.E(op, holdfast.Invalid, "--reason is required: a hold records why")
	case p.From != nil && p.To != nil && p.To.Before(*p.From):
		return holdfast.E(op, holdfast.Invalid, "--to is before --from")
	}
	if p.Query != "" {
		if _, err := kql.Parse(p.Query); err != nil {
			return holdfast.E(op, holdfast.Invalid, err)
		}
	}
	return nil
}

// Node is the query that selects what the hold holds: any of its
// custodians' item versions, within the query and date range if given.
func (h *Hold) Node() (kql.Node, error) {
	var custodians []kql.Node
	for _, c := range h.Custodians {
		custodians = append(custodians, &kql.Term{Prop: "custodian", Op: ":", Value: strings.ToLower(c), Phrase: true})
	}
	var terms []kql.Node
	if len(custodians) == 1 {
		terms = append(terms, custodians[0])
	} else {
		terms = append(terms, &kql.Or{Terms: custodians})
	}
	if h.Query != "" {
		q, err := kql.Parse(h.Query)
		if err != nil {
			return nil, err
		}
		terms = append(terms, q)
	}
	if h.From != nil {
		terms = append(terms, &kql.Term{Prop: "date", Op: ">=", Value: h.From.UTC().Format(time.RFC3339)})
	}
	if h.To != nil {
		terms = append(terms, &kql.Term{Prop: "date", Op: "<=", Value: h.To.UTC().Format(time.RFC3339)})
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &kql.And{Terms: terms}, nil
}

// Searcher finds the item versions a query selects.
type Searcher interface {
	Versions(ctx context.Context, n kql.Node) ([]uint64, error)
}

// Held returns, for every active hold, the item versions it holds.
func Held(ctx context.Context, ix Searcher, holds map[string]*Hold) (map[uint64][]string, error) {
	out := map[uint64][]string{}
	for _, h := range holds {
		if !h.Active() {
			continue
		}
		n, err := h.Node()
		if err != nil {
			return nil, holdfast.E("holds", holdfast.Integrity, err, "case "+h.Case)
		}
		vs, err := ix.Versions(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			out[v] = append(out[v], h.Case)
		}
	}
	return out, nil
}

// CheckDisposal refuses to let any held item version be disposed of: it
// returns an error of kind Locked naming the versions and their cases.
// The index must be current (the caller catches it up first): a hold is
// evaluated against everything captured, and an error fails closed.
func CheckDisposal(ctx context.Context, ix Searcher, holds map[string]*Hold, versions []uint64) error {
	held, err := Held(ctx, ix, holds)
	if err != nil {
		return holdfast.E("dispose", holdfast.Locked, err, "holds could not be evaluated, so nothing may be disposed of")
	}
	var blocked []string
	for _, v := range versions {
		if cases := held[v]; len(cases) > 0 {
			sort.Strings(cases)
			blocked = append(blocked, fmt.Sprintf("record %d (held by %s)", v, strings.Join(cases, ", ")))
		}
	}
	if n := len(blocked); n > 0 {
		more := ""
		if len(blocked) > 5 {
			more = fmt.Sprintf(" and %d more", len(blocked)-5)
			blocked = blocked[:5]
		}
		return holdfast.Errorf("dispose", holdfast.Locked, "%d item versions are under legal hold and cannot be disposed of: %s%s", n, strings.Join(blocked, "; "), more)
	}
	return nil
}
