package main

import (
	"context"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
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
	ho := app.HoldOptions{Case: o.Case, Custodians: o.Custodians, Query: o.Query, Reason: o.Reason}
	var err error
	if ho.From, err = parseDay("--from", o.From, false); err != nil {
		return err
	}
	if ho.To, err = parseDay("--to", o.To, true); err != nil {
		return err
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	out, err := a.PlaceHold(ctx, g.actor(), tenant, ho)
	if err != nil {
		return err
	}
	for _, c := range out.Unknown {
		g.say("warning: nothing has been captured for custodian %s: check the address (the hold still holds whatever is captured for it later)\n", c)
	}
	if g.JSON {
		return g.emit(out)
	}
	g.print("Hold placed on case %q (record %d): %d item versions held now; everything captured later for these custodians is held too\n", out.Case, out.Record, out.Held)
	return nil
}

func runHoldRelease(ctx context.Context, g *globalOptions, name, reason string) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	released, err := a.ReleaseHold(ctx, g.actor(), tenant, name, reason)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(map[string]string{"case": released, "status": "released"})
	}
	g.print("Hold on case %q released\n", released)
	return nil
}

func runHoldList(ctx context.Context, g *globalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	list, err := a.Holds(ctx, tenant)
	if err != nil {
		return err
	}
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
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	out, err := a.ShowHold(ctx, tenant, name)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(out)
	}
	h := out.Hold
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
