package main

import (
	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

func newCloudCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "cloud", Short: "Named sets of endpoints that tenants are connected to (beside Microsoft's national clouds)"}
	var c app.Cloud
	add := &cobra.Command{
		Use:   "add NAME --graph-endpoint URL --login-endpoint URL [--ca-file F]",
		Short: "Name a set of endpoints, for tenants connected through the console or API",
		Long: `Name a set of Graph and login endpoints (a private cloud, a proxy, a test
tenant) in <data>/clouds.json. Through the console and the API only an admin
gives endpoints; anyone who may connect a tenant picks a named cloud, as
they pick global, usgov, usgovdod or china. --cloud NAME works on tenant
add and tenant connect too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.Name = args[0]
			if err := app.New(g.Data, app.Options{}).AddCloud(c); err != nil {
				return err
			}
			if g.JSON {
				return g.emit(c)
			}
			g.print("Cloud %s: Graph %s, login %s\n", c.Name, c.GraphEndpoint, c.LoginEndpoint)
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&c.GraphEndpoint, "graph-endpoint", "", "Graph service root (required)")
	f.StringVar(&c.LoginEndpoint, "login-endpoint", "", "authority host (required)")
	f.StringVar(&c.CAFile, "ca-file", "", "extra CA certificate (PEM) to trust for these endpoints")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the named clouds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := app.New(g.Data, app.Options{}).Clouds()
			if err != nil {
				return err
			}
			if g.JSON {
				return g.emit(map[string]any{"clouds": list})
			}
			for _, c := range list {
				g.print("%-16s %s %s\n", c.Name, c.GraphEndpoint, c.LoginEndpoint)
			}
			return nil
		},
	}
	cmd.AddCommand(add, list)
	return cmd
}
