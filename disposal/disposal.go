// Package disposal decides which captured item versions a tenant's
// retention schedule lets go, and checks the steps of a disposal: a plan,
// a proposal a second person with the legal role reviews, and an
// execution. It does no I/O: the caller reads the log, the index and the
// holds, and writes the records (app/disposal.go); docs/RETENTION.md
// describes the whole.
package disposal

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast/record"
)

// Version is a captured item version as the plan needs it.
type Version struct {
	Record   uint64
	Workload string
	Account  string
	Item     string
	Received time.Time // a message received, a file created; zero if unknown
	Modified time.Time // last modified at the source; zero if unknown
	Captured time.Time // the record's time
	SHA256   []record.ID
}

// Input is what a plan is computed from.
type Input struct {
	AsOf     time.Time
	Rules    []record.RetentionRule
	Versions []Version
	Selected map[string]map[uint64]bool // rule name → the versions its query selects (rules with a query)
	Departed map[string]time.Time       // account → when it departed (accounts departed now)
	Held     map[uint64][]string        // version → the cases whose holds cover it
	Disposed map[uint64]bool            // versions already disposed of
}

// Plan is what a retention schedule lets go at AsOf.
type Plan struct {
	AsOf     time.Time              `json:"as_of"`
	Rules    []record.RetentionRule `json:"rules"`
	Groups   []Group                `json:"groups"` // by deciding rule, in the rules' order
	Held     []HeldVersion          `json:"held"`   // due, but a hold covers them: excluded
	Eligible int                    `json:"eligible"`
	Covered  int                    `json:"covered"`  // versions some rule covers, due or not
	Next     *time.Time             `json:"next_due"` // when the next covered version not yet due falls due
	// RemovableFrom: the storage retains the content until then (S3 Object
	// Lock); an execution before it is refused. Absent: removable now.
	RemovableFrom *time.Time `json:"removable_from,omitempty"`
}

// Group is the versions one rule lets go: the rule whose retention ends
// last among those that cover each (the longest retention wins).
type Group struct {
	Rule       string                   `json:"rule"`
	Versions   []record.DisposalVersion `json:"versions"`
	ByWorkload map[string]int           `json:"by_workload"`
	ByAccount  map[string]int           `json:"by_account"`
}

// HeldVersion is a due version a hold keeps.
type HeldVersion struct {
	record.DisposalVersion
	Cases []string `json:"cases"`
}

// Since is the date rule r counts v's retention from, and whether r
// covers v at all (its workloads, its query, a departure).
func Since(r record.RetentionRule, v Version, in *Input) (time.Time, bool) {
	if len(r.Workloads) > 0 && !slices.Contains(r.Workloads, v.Workload) {
		return time.Time{}, false
	}
	if r.Query != "" && !in.Selected[r.Name][v.Record] {
		return time.Time{}, false
	}
	switch r.From {
	case "received":
		return first(v.Received, v.Captured), true
	case "modified":
		return first(v.Modified, v.Received, v.Captured), true
	case "departure":
		t, ok := in.Departed[strings.ToLower(v.Account)]
		return t, ok
	}
	return time.Time{}, false
}

func first(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// Due is when a version kept by rule r from since may go: since plus the
// rule's days, as calendar days in UTC.
func Due(r record.RetentionRule, since time.Time) time.Time {
	return since.UTC().AddDate(0, 0, r.KeepDays)
}

// Compute makes the plan. A version is eligible when at least one rule
// covers it and every rule that covers it is due at AsOf; nothing held and
// nothing disposed of already is ever in a group.
func Compute(in Input) *Plan {
	p := &Plan{AsOf: in.AsOf.UTC(), Rules: in.Rules, Groups: []Group{}, Held: []HeldVersion{}}
	groups := map[string]*Group{}
	for _, v := range in.Versions {
		if in.Disposed[v.Record] {
			continue
		}
		var decide *record.RetentionRule
		var due, since time.Time
		for i := range in.Rules {
			r := &in.Rules[i]
			s, ok := Since(*r, v, &in)
			if !ok {
				continue
			}
			if d := Due(*r, s); decide == nil || d.After(due) {
				decide, due, since = r, d, s
			}
		}
		if decide == nil {
			continue
		}
		p.Covered++
		if p.AsOf.Before(due) {
			if p.Next == nil || due.Before(*p.Next) {
				d := due
				p.Next = &d
			}
			continue
		}
		dv := record.DisposalVersion{Record: v.Record, Workload: v.Workload, Account: v.Account, Item: v.Item,
			Rule: decide.Name, Since: since.UTC(), SHA256: v.SHA256}
		if cases := in.Held[v.Record]; len(cases) > 0 {
			p.Held = append(p.Held, HeldVersion{DisposalVersion: dv, Cases: slices.Sorted(slices.Values(cases))})
			continue
		}
		g := groups[decide.Name]
		if g == nil {
			g = &Group{Rule: decide.Name, ByWorkload: map[string]int{}, ByAccount: map[string]int{}}
			groups[decide.Name] = g
		}
		g.Versions = append(g.Versions, dv)
		g.ByWorkload[v.Workload]++
		g.ByAccount[v.Account]++
		p.Eligible++
	}
	for _, r := range in.Rules {
		if g := groups[r.Name]; g != nil {
			slices.SortFunc(g.Versions, func(a, b record.DisposalVersion) int { return cmp.Compare(a.Record, b.Record) })
			p.Groups = append(p.Groups, *g)
		}
	}
	slices.SortFunc(p.Held, func(a, b HeldVersion) int { return cmp.Compare(a.Record, b.Record) })
	return p
}

// Versions is every version of the plan's groups, in record order.
func (p *Plan) Versions() []record.DisposalVersion {
	var out []record.DisposalVersion
	for _, g := range p.Groups {
		out = append(out, g.Versions...)
	}
	slices.SortFunc(out, func(a, b record.DisposalVersion) int { return cmp.Compare(a.Record, b.Record) })
	return out
}
