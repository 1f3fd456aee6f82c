package app

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/hold"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/store"
)

// HoldOptions describe a hold to place.
type HoldOptions struct {
	Case       string
	Custodians []string // UPNs; compared case-insensitively
	Query      string   // optional KQL: hold only what it selects
	From, To   *time.Time
	Reason     string
}

// HoldPlaced is the result of PlaceHold.
type HoldPlaced struct {
	Case    string   `json:"case"`
	Record  uint64   `json:"record"`
	Held    int      `json:"held_versions"`
	Unknown []string `json:"unknown_custodians"` // custodians nothing was ever captured for: most often a misspelt address
}

// PlaceHold places a legal hold (a hold.placed record, then a checkpoint)
// and counts what it holds now.
func (a *App) PlaceHold(ctx context.Context, who Actor, tenant string, o HoldOptions) (HoldPlaced, error) {
	const op = "hold create"
	if err := who.validate(op); err != nil {
		return HoldPlaced{}, err
	}
	p := record.HoldPlaced{Case: o.Case, Query: o.Query, From: o.From, To: o.To, Reason: o.Reason, Actor: who.String()}
	for _, c := range o.Custodians {
		p.Custodians = append(p.Custodians, strings.ToLower(strings.TrimSpace(c)))
	}
	if err := hold.Validate(p); err != nil {
		return HoldPlaced{}, QueryError(op, o.Query, err)
	}
	s, holds, err := a.openHolds(ctx, tenant, Write)
	if err != nil {
		return HoldPlaced{}, err
	}
	defer a.closeStore(ctx, s)
	if h := holds[strings.ToLower(p.Case)]; h != nil && h.Active() {
		return HoldPlaced{}, holdfast.Errorf(op, holdfast.Exist, "case %q already has an active hold (placed %s by %s)", h.Case, h.Placed.Format(time.RFC3339), h.Actor)
	}
	idx, err := s.Append(ctx, record.TypeHoldPlaced, p)
	if err != nil {
		return HoldPlaced{}, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return HoldPlaced{}, err
	}
	ix, err := a.index(ctx, s)
	if err != nil {
		return HoldPlaced{}, err
	}
	defer ix.Close()
	a.legalHoldsAfter(ctx, s, ix)
	h := &hold.Hold{HoldPlaced: p}
	n, _ := h.Node()
	count, err := ix.Count(ctx, n)
	if err != nil {
		return HoldPlaced{}, err
	}
	// A custodian the store has never seen is most often a misspelt
	// address: the hold stands (it holds what is captured later), but say so.
	unseen := []string{}
	for _, c := range p.Custodians {
		k, err := ix.Count(ctx, &kql.Term{Prop: "custodian", Op: ":", Value: c})
		if err != nil {
			return HoldPlaced{}, err
		}
		if k == 0 {
			unseen = append(unseen, c)
		}
	}
	return HoldPlaced{Case: p.Case, Record: idx, Held: count, Unknown: unseen}, nil
}

// ReleaseHold releases a case's active hold (a hold.released record, then a
// checkpoint) and returns the case's name as placed.
func (a *App) ReleaseHold(ctx context.Context, who Actor, tenant, name, reason string) (string, error) {
	const op = "hold release"
	if err := who.validate(op); err != nil {
		return "", err
	}
	if name == "" || strings.TrimSpace(reason) == "" {
		return "", holdfast.E(op, holdfast.Invalid, "--case and --reason are required")
	}
	s, holds, err := a.openHolds(ctx, tenant, Write)
	if err != nil {
		return "", err
	}
	defer a.closeStore(ctx, s)
	h := holds[strings.ToLower(name)]
	if h == nil || !h.Active() {
		return "", holdfast.Errorf(op, holdfast.NotFound, "no active hold for case %q (holdfast hold list)", name)
	}
	if _, err := s.Append(ctx, record.TypeHoldReleased, record.HoldReleased{Case: h.Case, Reason: reason, Actor: who.String()}); err != nil {
		return "", err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return "", err
	}
	if s.LegalHolds() {
		if ix, err := a.index(ctx, s); err != nil {
			a.note("the legal holds on the released items' objects stay until the next hold or backup: %v", err)
		} else {
			a.legalHoldsAfter(ctx, s, ix)
			ix.Close()
		}
	}
	return h.Case, nil
}

// Holds lists every hold, active and released, in the order they were placed.
func (a *App) Holds(ctx context.Context, tenant string) ([]*hold.Hold, error) {
	s, holds, err := a.openHolds(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	list := []*hold.Hold{}
	for _, h := range holds {
		list = append(list, h)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Record < list[j].Record })
	return list, nil
}

// HoldShown is what a hold holds: item versions per custodian and kind.
type HoldShown struct {
	Hold       *hold.Hold        `json:"hold"`
	Custodians []reports.HeldRow `json:"custodians"`
	Total      int               `json:"total"`
}

// ShowHold counts what a case's hold holds.
func (a *App) ShowHold(ctx context.Context, tenant, name string) (HoldShown, error) {
	const op = "hold show"
	s, holds, err := a.openHolds(ctx, tenant, Write)
	if err != nil {
		return HoldShown{}, err
	}
	defer a.closeStore(ctx, s)
	h := holds[strings.ToLower(name)]
	if h == nil {
		return HoldShown{}, holdfast.Errorf(op, holdfast.NotFound, "no hold for case %q (holdfast hold list)", name)
	}
	ix, err := a.index(ctx, s)
	if err != nil {
		return HoldShown{}, err
	}
	defer ix.Close()
	out := HoldShown{Hold: h}
	out.Custodians, out.Total, err = HeldRows(ctx, ix, h)
	return out, err
}

// openHolds opens the tenant's store and loads its holds; the caller
// closes the store.
func (a *App) openHolds(ctx context.Context, tenant string, mode Mode) (*store.Store, map[string]*hold.Hold, error) {
	s, err := a.Open(ctx, tenant, mode)
	if err != nil {
		return nil, nil, err
	}
	holds, err := hold.Load(ctx, s)
	if err != nil {
		closeStore(ctx, s)
		return nil, nil, err
	}
	return s, holds, nil
}

// HeldRows counts what a hold holds, per custodian and kind of item, and
// in all.
func HeldRows(ctx context.Context, ix *index.Index, h *hold.Hold) ([]reports.HeldRow, int, error) {
	base, err := h.Node()
	if err != nil {
		return nil, 0, err
	}
	rows := []reports.HeldRow{}
	for _, c := range h.Custodians {
		r := reports.HeldRow{Custodian: c, Kinds: map[string]int{}}
		for _, k := range []string{"email", "meetings", "contacts", "docs", "im", "microsoftteams"} {
			n := &kql.And{Terms: []kql.Node{base, &kql.Term{Prop: "custodian", Op: ":", Value: c, Phrase: true}, &kql.Term{Prop: "kind", Op: ":", Value: k}}}
			count, err := ix.Count(ctx, n)
			if err != nil {
				return nil, 0, err
			}
			if count > 0 {
				r.Kinds[k] = count
				r.Total += count
			}
		}
		rows = append(rows, r)
	}
	total, err := ix.Count(ctx, base)
	return rows, total, err
}

// syncLegalHolds puts the packs of every item version an active hold
// covers under the backend's legal hold (S3 Object Lock), and takes it off
// packs no active hold needs any more. On the local disk it does nothing.
// ix is the tenant's index, up to date.
func syncLegalHolds(ctx context.Context, s *store.Store, ix *index.Index, holds map[string]*hold.Hold) (set, cleared int, err error) {
	if !s.LegalHolds() {
		return 0, 0, nil
	}
	var held []uint64
	for _, h := range holds {
		if !h.Active() {
			continue
		}
		n, err := h.Node()
		if err != nil {
			return 0, 0, err
		}
		vs, err := ix.Versions(ctx, n)
		if err != nil {
			return 0, 0, err
		}
		held = append(held, vs...)
	}
	return s.HoldPacks(ctx, held)
}

// legalHoldsAfter brings the legal holds on packs up to date after a
// write that may change what is held (a hold placed or released, a backup
// that captured more for a custodian); a failure is a note, and the next
// such write tries again.
func (a *App) legalHoldsAfter(ctx context.Context, s *store.Store, ix *index.Index) {
	if !s.LegalHolds() {
		return
	}
	holds, err := hold.Load(ctx, s)
	if err == nil {
		_, _, err = syncLegalHolds(ctx, s, ix, holds)
	}
	if err != nil {
		a.note("the legal holds on the held items' objects were not brought up to date: %v (the next hold or backup tries again)", err)
	}
}
