package main

import (
	"context"
	"sort"
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

type tenantTestResult struct {
	Tenant    string              `json:"tenant"`
	OK        bool                `json:"ok"`
	Roles     []string            `json:"roles"`
	Accounts  int                 `json:"accounts"`
	Departed  int                 `json:"departed"`
	Missing   map[string][]string `json:"missing_permissions"`
	Workloads map[string]bool     `json:"workloads"`
}

func runTenantTest(ctx context.Context, g *globalOptions, name string) error {
	if err := holdfast.ValidateTenantName(name); err != nil {
		return err
	}
	c, err := g.graphClient(name)
	if err != nil {
		return err
	}
	roles, err := c.Roles(ctx)
	if err != nil {
		return err
	}
	sort.Strings(roles)
	res := tenantTestResult{Tenant: name, Roles: roles, Missing: graph.Missing(roles), Workloads: map[string]bool{}}
	for w := range graph.Permissions {
		res.Workloads[w] = len(res.Missing[w]) == 0
	}
	if res.Workloads["directory"] {
		accts, err := c.Accounts(ctx)
		if err != nil {
			return err
		}
		res.Accounts = len(accts)
		for _, a := range accts {
			if a.State() != holdfast.StateActive {
				res.Departed++
			}
		}
	}
	res.OK = len(res.Missing) == 0
	if g.JSON {
		if err := g.emit(res); err != nil {
			return err
		}
	} else {
		g.print("Authenticated to tenant %s. The app holds: %s\n", name, strings.Join(roles, ", "))
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
	}
	if !res.OK {
		return holdfast.Errorf("tenant test", holdfast.Permission, "the app lacks permissions for: %s", strings.Join(missingWorkloads(res.Missing), ", "))
	}
	return nil
}

func workloadNames() []string {
	var out []string
	for _, w := range holdfast.Workloads {
		out = append(out, string(w))
	}
	return out
}

func missingWorkloads(m map[string][]string) []string {
	var out []string
	for w := range m {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}
