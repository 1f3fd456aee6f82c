package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/policy"
	"github.com/spf13/cobra"
)

type policyOptions struct {
	PolicyDir string
	All       bool
	FailOn    string
	Offline   bool
	Verbose   bool
}

// findingsError ends policy eval with exit 4.
type findingsError struct {
	n      int
	failOn string
}

func (e *findingsError) Error() string {
	return fmt.Sprintf("policy eval: %d findings at or above %s", e.n, e.failOn)
}

func newPolicyCommand(g *globalOptions) *cobra.Command {
	var o policyOptions
	cmd := &cobra.Command{Use: "policy", Short: "Retention and coverage policies (Rego): find gaps before they lose data"}
	eval := &cobra.Command{
		Use:   "eval --tenant T | --all [--policy-dir DIR] [--fail-on SEVERITY]",
		Short: "Evaluate the policies and print findings",
		Long: `Build each tenant's inventory from its store (after reading the directory from
Graph, so that departures are seen before the next backup; --offline skips
that), evaluate the embedded rules plus those in --policy-dir, and print the
findings. Each evaluation is logged with the hashes of the policy bundle,
the input and the findings. Exit 4 when a finding is at or above --fail-on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runPolicyEval(cmd.Context(), g, o) },
	}
	eval.Flags().StringVar(&o.PolicyDir, "policy-dir", "", "a directory of .rego files and data.json that add rules and override settings")
	eval.Flags().BoolVar(&o.All, "all", false, "every tenant")
	eval.Flags().StringVar(&o.FailOn, "fail-on", "", "exit 4 if a finding is at or above this severity (low, medium, high, critical)")
	eval.Flags().BoolVar(&o.Offline, "offline", false, "do not read the directory from Graph first")
	inv := &cobra.Command{
		Use:   "inventory --tenant T",
		Short: "Print the policy input (for developing rules with the opa CLI)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runPolicyInventory(cmd.Context(), g, o) },
	}
	inv.Flags().BoolVar(&o.Offline, "offline", false, "do not read the directory from Graph first")
	test := &cobra.Command{
		Use:   "test [--policy-dir DIR]",
		Short: "Run the Rego unit tests of the embedded bundle and of DIR (OPA's test runner)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runPolicyTest(cmd.Context(), g, o) },
	}
	test.Flags().StringVar(&o.PolicyDir, "policy-dir", "", "a directory of .rego files and data.json")
	test.Flags().BoolVarP(&o.Verbose, "verbose", "v", false, "list every test")
	cmd.AddCommand(eval, inv, test, newPolicySetCommand(g))
	return cmd
}

type policySetOptions struct {
	Profile       string
	RetentionDays int
	RPO           time.Duration
	Workloads     string
	RequiredYears int
	RequireWORM   bool
}

func newPolicySetCommand(g *globalOptions) *cobra.Command {
	var o policySetOptions
	cmd := &cobra.Command{
		Use:   "set --tenant T [--profile P] [--retention-days N] [--rpo 24h] [--workloads LIST]",
		Short: "Set a tenant's retention settings (logged as a policy.settings record)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicySet(cmd.Context(), g, o, cmd.Flags().Changed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Profile, "profile", "", "retention profile: "+strings.Join(policy.Profiles, ", "))
	f.IntVar(&o.RetentionDays, "retention-days", 0, "how long captured data is kept (0: for ever)")
	f.DurationVar(&o.RPO, "rpo", 0, "the largest acceptable age of the last backup, e.g. 24h")
	f.StringVar(&o.Workloads, "workloads", "", "the workloads that must be covered (comma-separated)")
	f.IntVar(&o.RequiredYears, "required-years", 0, "the custom profile's retention requirement")
	f.BoolVar(&o.RequireWORM, "require-worm", false, "the custom profile requires WORM storage")
	return cmd
}

func runPolicySet(ctx context.Context, g *globalOptions, o policySetOptions, changed func(string) bool) error {
	var ch app.SettingsChange
	if changed("profile") {
		ch.Profile = &o.Profile
	}
	if changed("retention-days") {
		ch.RetentionDays = &o.RetentionDays
	}
	if changed("rpo") {
		h := o.RPO.Hours()
		ch.RPOHours = &h
	}
	if changed("workloads") {
		ch.Workloads = &o.Workloads
	}
	if changed("required-years") {
		ch.RequiredYears = &o.RequiredYears
	}
	if changed("require-worm") {
		ch.RequireWORM = &o.RequireWORM
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	st, err := a.SetPolicy(ctx, g.actor(), tenant, ch)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(st)
	}
	g.print("Settings of %s: profile %s, retention %s, RPO %.0fh, workloads %s\n", tenant, st.Profile, retention(st.RetentionDays), st.RPOHours, strings.Join(st.Workloads, ","))
	return nil
}

func retention(days int) string {
	if days == 0 {
		return "for ever"
	}
	return fmt.Sprintf("%d days", days)
}

// directory is where policy commands read a tenant's directory: Graph,
// unless --offline.
func (g *globalOptions) directory(offline bool) app.DirectoryOf {
	if offline {
		return nil
	}
	return func(tenant string) (app.Directory, error) { return g.graphClient(tenant) }
}

func runPolicyInventory(ctx context.Context, g *globalOptions, o policyOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	inv, err := a.Inventory(ctx, g.actor(), tenant, g.directory(o.Offline))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	g.emitted = true
	return enc.Encode(inv)
}

func runPolicyEval(ctx context.Context, g *globalOptions, o policyOptions) error {
	const op = "policy eval"
	if o.FailOn != "" && policy.SeverityRank(o.FailOn) < 0 {
		return holdfast.Errorf(op, holdfast.Invalid, "--fail-on %q: want one of %s", o.FailOn, strings.Join(policy.Severities, ", "))
	}
	b, err := policy.LoadBundle(o.PolicyDir)
	if err != nil {
		return err
	}
	a, err := g.application()
	if err != nil {
		return err
	}
	tenants := []string{}
	if o.All {
		if tenants, err = a.Tenants(); err != nil {
			return err
		}
		if len(tenants) == 0 {
			return holdfast.E(op, holdfast.Invalid, "no tenants in the data directory")
		}
	} else {
		name, err := g.tenant()
		if err != nil {
			return err
		}
		tenants = append(tenants, name)
	}
	out := struct {
		Findings   []policy.Finding  `json:"findings"`
		PolicyHash string            `json:"policy_hash"`
		InputHash  string            `json:"input_hash"`
		Inputs     map[string]string `json:"input_hashes,omitempty"` // with --all: per tenant
	}{Findings: []policy.Finding{}, PolicyHash: b.Hash}
	if o.All {
		out.Inputs = map[string]string{}
	}
	for _, t := range tenants {
		res, err := a.EvaluatePolicies(ctx, g.actor(), t, b, g.directory(o.Offline))
		if err != nil {
			return err
		}
		out.Findings = append(out.Findings, res.Findings...)
		out.InputHash = res.InputHash
		if o.All {
			out.Inputs[t] = res.InputHash
		}
	}
	if o.All {
		out.InputHash = ""
	}
	worst := 0
	for _, f := range out.Findings {
		if o.FailOn != "" && policy.SeverityRank(f.Severity) >= policy.SeverityRank(o.FailOn) {
			worst++
		}
	}
	if g.JSON {
		if err := g.emit(out); err != nil {
			return err
		}
	} else {
		for _, f := range out.Findings {
			where := strings.Trim(f.Account+" "+f.Workload, " ")
			if where != "" {
				where = " [" + where + "]"
			}
			g.print("%-8s %-28s %s%s\n         %s\n", strings.ToUpper(f.Severity), f.Rule, f.Tenant, where, f.Message)
		}
		g.print("%d findings; policy %s…, evaluation logged\n", len(out.Findings), b.Hash[:16])
	}
	if worst > 0 {
		return &findingsError{n: worst, failOn: o.FailOn}
	}
	return nil
}

func runPolicyTest(ctx context.Context, g *globalOptions, o policyOptions) error {
	b, err := policy.LoadBundle(o.PolicyDir)
	if err != nil {
		return err
	}
	pass, fail, err := b.Test(ctx, g.stdout, o.Verbose)
	if err != nil {
		return err
	}
	g.emitted = true
	if fail > 0 || pass == 0 {
		return holdfast.Errorf("policy test", holdfast.Other, "%d of %d Rego tests failed", fail, pass+fail)
	}
	return nil
}
