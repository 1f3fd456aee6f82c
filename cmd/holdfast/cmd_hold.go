package main

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
	"github.com/spf13/cobra"
)

type holdCreateOptions struct {
	Case       string
	Custodians []string
	Query      string
	From, To   string
	Reason     string
}

func newHoldCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "hold", Short: "Legal holds: keep custodians' items from ever being disposed of"}
	var c holdCreateOptions
	create := &cobra.Command{
		Use:   "create --tenant T --case NAME --custodian UPN [--custodian UPN ...] [--query KQL] [--from DATE --to DATE] --reason TEXT",
		Short: "Place a hold",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runHoldCreate(cmd.Context(), g, c) },
	}
	f := create.Flags()
	f.StringVar(&c.Case, "case", "", "case name (required)")
	f.StringArrayVar(&c.Custodians, "custodian", nil, "custodian UPN (repeat for more)")
	f.StringVar(&c.Query, "query", "", "hold only what this KQL query selects")
	f.StringVar(&c.From, "from", "", "hold only items dated from this day (YYYY-MM-DD, UTC)")
	f.StringVar(&c.To, "to", "", "hold only items dated up to this day (YYYY-MM-DD, UTC)")
	f.StringVar(&c.Reason, "reason", "", "why (required)")
	var relCase, relReason string
	release := &cobra.Command{
		Use:   "release --tenant T --case NAME --reason TEXT",
		Short: "Release a hold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHoldRelease(cmd.Context(), g, relCase, relReason)
		},
	}
	release.Flags().StringVar(&relCase, "case", "", "case name (required)")
	release.Flags().StringVar(&relReason, "reason", "", "why (required)")
	var showCase string
	show := &cobra.Command{
		Use:   "show --tenant T --case NAME",
		Short: "What a hold holds: item versions per custodian and kind",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runHoldShow(cmd.Context(), g, showCase) },
	}
	show.Flags().StringVar(&showCase, "case", "", "case name (required)")
	list := &cobra.Command{
		Use:   "list --tenant T",
		Short: "Every hold, active and released",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runHoldList(cmd.Context(), g) },
	}
	cmd.AddCommand(create, release, show, list)
	return cmd
}

func parseDay(flag, s string, end bool) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil, holdfast.Errorf(flag, holdfast.Invalid, "%q is not a date YYYY-MM-DD", s)
	}
	if end {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return &t, nil
}

func runHoldCreate(ctx context.Context, g *globalOptions, o holdCreateOptions) error {
	const op = "hold create"
	p := record.HoldPlaced{Case: o.Case, Query: o.Query, Reason: o.Reason, Actor: actor()}
	for _, c := range o.Custodians {
		p.Custodians = append(p.Custodians, strings.ToLower(strings.TrimSpace(c)))
	}
	var err error
	if p.From, err = parseDay("--from", o.From, false); err != nil {
		return err
	}
	if p.To, err = parseDay("--to", o.To, true); err != nil {
		return err
	}
	if err := hold.Validate(p); err != nil {
		return queryError(op, o.Query, err)
	}
	s, holds, err := openHolds(ctx, g, false)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	if h := holds[strings.ToLower(p.Case)]; h != nil && h.Active() {
		return holdfast.Errorf(op, holdfast.Exist, "case %q already has an active hold (placed %s by %s)", h.Case, h.Placed.Format(time.RFC3339), h.Actor)
	}
	idx, err := s.Append(ctx, record.TypeHoldPlaced, p)
	if err != nil {
		return err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return err
	}
	ix, err := openIndex(ctx, g, s)
	if err != nil {
		return err
	}
	defer ix.Close()
	h := &hold.Hold{Case: p.Case, Custodians: p.Custodians, Query: p.Query, From: p.From, To: p.To}
	n, _ := h.Node()
	count, err := ix.Count(ctx, n)
	if err != nil {
		return err
	}
	// A custodian the store has never seen is most often a misspelt
	// address: the hold stands (it holds what is captured later), but say so.
	unseen := []string{}
	for _, c := range p.Custodians {
		k, err := ix.Count(ctx, &kql.Term{Prop: "custodian", Op: ":", Value: c})
		if err != nil {
			return err
		}
		if k == 0 {
			unseen = append(unseen, c)
		}
	}
	out := struct {
		Case    string   `json:"case"`
		Record  uint64   `json:"record"`
		Held    int      `json:"held_versions"`
		Unknown []string `json:"unknown_custodians"`
	}{p.Case, idx, count, unseen}
	for _, c := range unseen {
		g.say("warning: nothing has been captured for custodian %s: check the address (the hold still holds whatever is captured for it later)\n", c)
	}
	if g.JSON {
		return g.emit(out)
	}
	g.print("Hold placed on case %q (record %d): %d item versions held now; everything captured later for these custodians is held too\n", p.Case, idx, count)
	return nil
}

func runHoldRelease(ctx context.Context, g *globalOptions, name, reason string) error {
	const op = "hold release"
	if name == "" || strings.TrimSpace(reason) == "" {
		return holdfast.E(op, holdfast.Invalid, "--case and --reason are required")
	}
	s, holds, err := openHolds(ctx, g, false)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	h := holds[strings.ToLower(name)]
	if h == nil || !h.Active() {
		return holdfast.Errorf(op, holdfast.NotFound, "no active hold for case %q (holdfast hold list)", name)
	}
	if _, err := s.Append(ctx, record.TypeHoldReleased, record.HoldReleased{Case: h.Case, Reason: reason, Actor: actor()}); err != nil {
		return err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return err
	}
	if g.JSON {
		return g.emit(map[string]string{"case": h.Case, "status": "released"})
	}
	g.print("Hold on case %q released\n", h.Case)
	return nil
}

func runHoldList(ctx context.Context, g *globalOptions) error {
	s, holds, err := openHolds(ctx, g, true)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	list := []*hold.Hold{}
	for _, h := range holds {
		list = append(list, h)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Record < list[j].Record })
	if g.JSON {
		return g.emit(map[string]any{"holds": list})
	}
	for _, h := range list {
		status := "active"
		if !h.Active() {
			status = "released " + h.Released.Format("2006-01-02") + " by " + h.ReleasedBy
		}
		g.print("%-24s %-30s custodians %s, placed %s by %s; %s\n", h.Case, status, strings.Join(h.Custodians, ", "), h.Placed.Format("2006-01-02"), h.Actor, h.Reason)
	}
	return nil
}

func runHoldShow(ctx context.Context, g *globalOptions, name string) error {
	const op = "hold show"
	s, holds, err := openHolds(ctx, g, false)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	h := holds[strings.ToLower(name)]
	if h == nil {
		return holdfast.Errorf(op, holdfast.NotFound, "no hold for case %q (holdfast hold list)", name)
	}
	ix, err := openIndex(ctx, g, s)
	if err != nil {
		return err
	}
	defer ix.Close()
	out := struct {
		Hold       *hold.Hold        `json:"hold"`
		Custodians []reports.HeldRow `json:"custodians"`
		Total      int               `json:"total"`
	}{Hold: h}
	if out.Custodians, out.Total, err = heldRows(ctx, ix, h); err != nil {
		return err
	}
	if g.JSON {
		return g.emit(out)
	}
	status := "active"
	if !h.Active() {
		status = "released"
	}
	g.print("Case %q (%s), placed %s by %s: %s\n", h.Case, status, h.Placed.Format(time.RFC3339), h.Actor, h.Reason)
	if h.Query != "" {
		g.print("Query: %s\n", h.Query)
	}
	for _, r := range out.Custodians {
		g.print("  %-40s %6d item versions %v\n", r.Custodian, r.Total, r.Kinds)
	}
	g.print("Held: %d item versions\n", out.Total)
	return nil
}

// openHolds opens the tenant's store and loads its holds; the caller
// closes the store.
func openHolds(ctx context.Context, g *globalOptions, readOnly bool) (*store.Store, map[string]*hold.Hold, error) {
	s, err := g.openTenant(ctx, readOnly)
	if err != nil {
		return nil, nil, err
	}
	holds, err := hold.Load(ctx, s)
	if err != nil {
		s.Close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return s, holds, nil
}

// heldRows counts what a hold holds, per custodian and kind of item, and
// in all.
func heldRows(ctx context.Context, ix *index.Index, h *hold.Hold) ([]reports.HeldRow, int, error) {
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
