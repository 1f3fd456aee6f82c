package main

import (
	"context"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/spf13/cobra"
)

func newTenantTestCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "test NAME",
		Short: "Authenticate to the tenant and list what the app may read",
		Long: `Authenticate with the tenant's connection, read the application permissions
granted to the app, list the directory, and name every Graph permission a
workload is missing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTenantTest(cmd.Context(), g, args[0])
		},
	}
}

func runTenantTest(ctx context.Context, g *globalOptions, name string) error {
	if err := holdfast.ValidateTenantName(name); err != nil {
		return err
	}
	c, err := g.graphClient(name)
	if err != nil {
		return err
	}
	a, err := g.application()
	if err != nil {
		return err
	}
	res, err := a.TestTenant(ctx, name, c, graph.Permissions)
	if res == nil {
		return err
	}
	if g.JSON {
		return g.emitWith(res, err)
	}
	g.print("Authenticated to tenant %s. The app holds: %s\n", name, strings.Join(res.Roles, ", "))
	if res.Workloads["directory"] {
		g.print("Directory: %d accounts, %d of them disabled, unlicensed or deleted\n", res.Accounts, res.Departed)
	}
	for _, w := range append([]string{"directory"}, workloadNames()...) {
		if m := res.Missing[w]; len(m) > 0 {
			g.print("  %-10s MISSING permission %s (grant it as an application permission and give admin consent)\n", w, strings.Join(m, ", "))
		} else {
			g.print("  %-10s ok\n", w)
		}
	}
	return err
}

func workloadNames() []string {
	var out []string
	for _, w := range holdfast.Workloads {
		out = append(out, string(w))
	}
	return out
}
