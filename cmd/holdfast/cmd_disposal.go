package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/disposal"
	"github.com/holdfast/holdfast/policy"
	"github.com/spf13/cobra"
)

type disposalOptions struct {
	AsOf      string
	PolicyDir string
	Reason    string
	Proposal  uint64
	User      string
	Code      string
	Approve   bool
	Reject    bool
	Versions  bool // plan: list every version, not only counts
}

func newDisposalCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "disposal", Short: "Dispose of what the retention schedule lets go: plan, propose, review (a second person, legal role), execute (docs/RETENTION.md)"}
	var o disposalOptions
	planFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&o.AsOf, "as-of", "", "plan as of this day (YYYY-MM-DD, UTC) or time (RFC 3339); default now")
		c.Flags().StringVar(&o.PolicyDir, "policy-dir", "", "a directory of .rego files and data.json adding retention rules (docs/RETENTION.md)")
	}
	plan := &cobra.Command{
		Use:   "plan --tenant T [--as-of DATE] [--policy-dir DIR] [--versions] [--json]",
		Short: "What the schedule lets go now, by rule, and what holds keep; changes nothing",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runDisposalPlan(cmd.Context(), g, o) },
	}
	planFlags(plan)
	plan.Flags().BoolVar(&o.Versions, "versions", false, "list every eligible version (the JSON always does)")
	propose := &cobra.Command{
		Use:   "propose --tenant T --reason TEXT [--as-of DATE] [--policy-dir DIR]",
		Short: "Log the plan as a proposal for a second person with the legal role to review",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runDisposalPropose(cmd.Context(), g, o) },
	}
	planFlags(propose)
	propose.Flags().StringVar(&o.Reason, "reason", "", "why (required)")
	review := &cobra.Command{
		Use:   "review --tenant T --proposal N (--approve | --reject) --reason TEXT --user NAME",
		Short: "Approve or reject a proposal, as a Holdfast user with the legal role (password from $HOLDFAST_PASSWORD, the terminal or stdin)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runDisposalReview(cmd.Context(), g, o) },
	}
	review.Flags().Uint64Var(&o.Proposal, "proposal", 0, "the proposal's record (disposal list shows it)")
	review.Flags().BoolVar(&o.Approve, "approve", false, "approve the proposal")
	review.Flags().BoolVar(&o.Reject, "reject", false, "reject the proposal")
	review.Flags().StringVar(&o.Reason, "reason", "", "why (required)")
	review.Flags().StringVar(&o.User, "user", "", "the reviewing Holdfast user (role legal)")
	review.Flags().StringVar(&o.Code, "code", "", "the user's second-factor code, if one is enrolled")
	execute := &cobra.Command{
		Use:   "execute --tenant T [--proposal N]",
		Short: "Carry out an approved proposal (holds checked again now); without --proposal, complete an execution that was interrupted",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runDisposalExecute(cmd.Context(), g, o) },
	}
	execute.Flags().Uint64Var(&o.Proposal, "proposal", 0, "the approved proposal's record")
	list := &cobra.Command{
		Use:   "list --tenant T [--json]",
		Short: "Every proposal and what became of it",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runDisposalList(cmd.Context(), g) },
	}
	cmd.AddCommand(plan, propose, review, execute, list)
	return cmd
}

func (o disposalOptions) app() (app.DisposalOptions, error) {
	var do app.DisposalOptions
	var err error
	if do.AsOf, err = app.ParseAsOf(o.AsOf); err != nil {
		return do, err
	}
	b, err := policy.LoadBundle(o.PolicyDir)
	if err != nil {
		return do, err
	}
	do.Policy, do.Reason = b, o.Reason
	return do, nil
}

func runDisposalPlan(ctx context.Context, g *globalOptions, o disposalOptions) error {
	do, err := o.app()
	if err != nil {
		return err
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	p, err := a.DisposalPlan(ctx, g.actor(), tenant, do)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(p)
	}
	printPlan(g, p, o.Versions)
	return nil
}

func printPlan(g *globalOptions, p *disposal.Plan, versions bool) {
	g.print("Disposal plan as of %s\n", p.AsOf.Format(time.RFC3339))
	if len(p.Rules) == 0 {
		g.print("No retention rules: everything is kept for ever (holdfast policy set --retention-days, or rules in a --policy-dir; docs/RETENTION.md)\n")
		return
	}
	for _, r := range p.Rules {
		g.print("  rule %s: %s, kept %d days from %s\n", r.Name, r.Scope(), r.KeepDays, r.From)
	}
	g.print("%d item versions covered by a rule; %d due for disposal", p.Covered, p.Eligible)
	if len(p.Held) > 0 {
		g.print(", %d more due but under legal hold (excluded)", len(p.Held))
	}
	g.print("\n")
	for _, gr := range p.Groups {
		g.print("\nRule %s: %d versions\n", gr.Rule, len(gr.Versions))
		for _, w := range sortedKeys(gr.ByWorkload) {
			g.print("  %-10s %d\n", w, gr.ByWorkload[w])
		}
		for _, acc := range sortedKeys(gr.ByAccount) {
			g.print("  %-40s %d\n", acc, gr.ByAccount[acc])
		}
		if versions {
			for _, v := range gr.Versions {
				g.print("    record %d  %s  %s  %s  since %s\n", v.Record, v.Workload, v.Account, v.Item, v.Since.Format("2006-01-02"))
			}
		}
	}
	if len(p.Held) > 0 {
		g.print("\nExcluded by legal holds:\n")
		for i, h := range p.Held {
			if i == 20 && !versions {
				g.print("  … and %d more (--versions lists them)\n", len(p.Held)-i)
				break
			}
			g.print("  record %d  %s  %s  (%s)\n", h.Record, h.Workload, h.Account, strings.Join(h.Cases, ", "))
		}
	}
	if p.Next != nil {
		g.print("\nThe next covered version falls due on %s\n", p.Next.Format("2006-01-02"))
	}
	if p.RemovableFrom != nil {
		g.print("\nThe storage retains this content under Object Lock until %s: an execution before then is refused\n", p.RemovableFrom.Format(time.RFC3339))
	}
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func runDisposalPropose(ctx context.Context, g *globalOptions, o disposalOptions) error {
	do, err := o.app()
	if err != nil {
		return err
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	idx, p, err := a.ProposeDisposal(ctx, g.actor(), tenant, do)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(map[string]any{"proposal": idx, "plan": p})
	}
	printPlan(g, p, false)
	g.print("\nProposed as record %d. A second person with the legal role reviews it:\n  holdfast --tenant %s disposal review --proposal %d --approve --reason TEXT --user NAME\n", idx, tenant, idx)
	return nil
}

func runDisposalReview(ctx context.Context, g *globalOptions, o disposalOptions) error {
	const op = "disposal review"
	decision := ""
	switch {
	case o.Approve && !o.Reject:
		decision = disposal.Approved
	case o.Reject && !o.Approve:
		decision = disposal.Rejected
	default:
		return holdfast.E(op, holdfast.Invalid, "give one of --approve and --reject")
	}
	if o.Proposal == 0 || o.User == "" {
		return holdfast.E(op, holdfast.Invalid, "--proposal and --user are required")
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	pw, err := readPassword(g, false)
	if err != nil {
		return err
	}
	p, err := a.Access().CheckPassword(o.User, pw, o.Code)
	if err != nil {
		return err
	}
	if !p.Tenant(tenant) {
		return holdfast.Errorf(op, holdfast.Permission, "user %s has no access to tenant %s", p.User, tenant)
	}
	host, _ := os.Hostname()
	who := app.Actor{Name: p.User, From: host}
	idx, err := a.ReviewDisposal(ctx, who, string(p.Role), tenant, o.Proposal, decision, o.Reason)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(map[string]any{"proposal": o.Proposal, "review": idx, "decision": decision})
	}
	g.print("Proposal %d %s by %s (record %d)\n", o.Proposal, decision, p.User, idx)
	return nil
}

func runDisposalExecute(ctx context.Context, g *globalOptions, o disposalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	res, err := a.ExecuteDisposal(ctx, g.actor(), tenant, o.Proposal)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(res)
	}
	if res.Execution != 0 {
		g.print("Proposal %d executed (record %d): %d item versions disposed of, %d blobs of content removed from %d packs\n", res.Proposal, res.Execution, res.Versions, res.Blobs, res.Packs)
	}
	if n := len(res.Completed); n > 0 && res.Execution == 0 {
		g.print("Completed %d interrupted execution(s): records %v\n", n, res.Completed)
	}
	if res.Execution == 0 && len(res.Completed) == 0 {
		g.print("Nothing to execute or complete\n")
	}
	if res.Checkpoint != 0 {
		g.print("Checkpoint at %d records\n", res.Checkpoint)
	}
	return nil
}

func runDisposalList(ctx context.Context, g *globalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	ps, err := a.Disposals(ctx, tenant)
	if err != nil {
		return err
	}
	if g.JSON {
		type row struct {
			*disposal.Proposal
			State string `json:"state"`
		}
		out := []row{}
		for _, p := range ps {
			out = append(out, row{p, p.State()})
		}
		return g.emit(out)
	}
	if len(ps) == 0 {
		g.print("No disposal proposals\n")
		return nil
	}
	for _, p := range ps {
		g.print("record %d  %s  %s by %s: %d versions (%s)\n", p.Record, p.Proposed.Format(time.RFC3339), p.State(), p.Data.Actor, len(p.Data.Versions), p.Data.Reason)
		if r := p.Review; r != nil {
			g.print("    %s by %s (%s) on %s: %s\n", r.Data.Decision, r.Data.Actor, r.Data.Role, r.Time.Format(time.RFC3339), r.Data.Reason)
		}
		if p.Executed != 0 {
			g.print("    executed by %s on %s (record %d): %s\n", p.ExecutedBy, p.ExecutedAt.Format(time.RFC3339), p.Executed, fmt.Sprintf("%d versions disposed of", p.Disposed))
		}
	}
	return nil
}
