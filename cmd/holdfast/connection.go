package main

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/spf13/cobra"
)

// connectionFlags are tenant add's connection options.
type connectionFlags struct {
	app.Connection
}

func (f *connectionFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.TenantID, "tenant-id", "", "Entra tenant id (GUID) or primary domain")
	fl.StringVar(&f.ClientID, "client-id", "", "app registration's application (client) id")
	fl.StringVar(&f.ClientSecretEnv, "client-secret-env", "", "name of the environment variable holding the client secret")
	fl.StringVar(&f.ClientSecretFile, "client-secret-file", "", "file holding the client secret")
	fl.StringVar(&f.ClientCert, "client-cert", "", "PEM file with the client certificate and its private key")
	fl.StringVar(&f.Cloud, "cloud", "global", "national cloud: global, usgov, usgovdod, china")
	fl.StringVar(&f.GraphEndpoint, "graph-endpoint", "", "Graph service root, e.g. https://graph.microsoft.us (overrides --cloud)")
	fl.StringVar(&f.LoginEndpoint, "login-endpoint", "", "authority host, e.g. https://login.microsoftonline.us (overrides --cloud)")
	fl.StringVar(&f.CAFile, "ca-file", "", "extra CA certificate (PEM) to trust, for private CAs")
}

// given reports whether any connection flag was set.
func (f *connectionFlags) given() bool {
	return f.TenantID != "" || f.ClientID != "" || f.ClientSecretEnv != "" || f.ClientSecretFile != "" || f.ClientCert != ""
}

// resolve validates the flags into a connection to store.
func (f *connectionFlags) resolve(g *globalOptions) (app.Connection, error) {
	return g.resolveConnection(f.Connection)
}

// resolveConnection checks a connection against Graph's clouds, and the
// clouds an admin named (holdfast cloud add), and fills in its endpoints:
// from the CLI's flags and from the API.
func (g *globalOptions) resolveConnection(c app.Connection) (app.Connection, error) {
	const op = "tenant connection"
	if c.TenantID == "" || c.ClientID == "" {
		return c, holdfast.E(op, holdfast.Invalid, "--tenant-id and --client-id are required to connect a tenant")
	}
	n := 0
	for _, s := range []string{c.ClientSecretEnv, c.ClientSecretFile, c.ClientCert} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return c, holdfast.E(op, holdfast.Invalid, "give exactly one of --client-secret-env, --client-secret-file, --client-cert")
	}
	cloud, ok := graph.Clouds[c.Cloud]
	if !ok {
		named, err := app.New(g.Data, app.Options{}).Clouds()
		if err != nil {
			return c, err
		}
		i := slices.IndexFunc(named, func(x app.Cloud) bool { return x.Name == c.Cloud })
		if i < 0 {
			return c, holdfast.Errorf(op, holdfast.Invalid, "unknown cloud %q (global, usgov, usgovdod, china, or one named with holdfast cloud add)", c.Cloud)
		}
		cloud = graph.Cloud{Graph: named[i].GraphEndpoint, Login: named[i].LoginEndpoint}
		if c.CAFile == "" {
			c.CAFile = named[i].CAFile
		}
	}
	if c.GraphEndpoint == "" {
		c.GraphEndpoint = cloud.Graph
	}
	if c.LoginEndpoint == "" {
		c.LoginEndpoint = cloud.Login
	}
	for _, p := range []*string{&c.ClientSecretFile, &c.ClientCert, &c.CAFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return c, holdfast.E(op, holdfast.Invalid, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return c, holdfast.E(op, holdfast.Invalid, err)
		}
		*p = abs
	}
	// Check the endpoints now rather than at the first backup.
	if _, err := graphConn(c, "validation-only"); err != nil {
		return c, err
	}
	return c, nil
}

// graphConn is what the Graph client needs of a connection and its secret.
func graphConn(c app.Connection, secret string) (graph.Conn, error) {
	gc := graph.Conn{TenantID: c.TenantID, ClientID: c.ClientID, CertFile: c.ClientCert, GraphEndpoint: c.GraphEndpoint, LoginEndpoint: c.LoginEndpoint, CAFile: c.CAFile, ClientSecret: secret}
	if secret == "validation-only" {
		_, err := graph.New(gc)
		return gc, err
	}
	return gc, nil
}

// graphClient builds the Graph client of the --tenant.
func (g *globalOptions) graphClient(tenant string) (*graph.Client, error) {
	c, err := app.New(g.Data, app.Options{}).LoadConnection(tenant)
	if err != nil {
		return nil, err
	}
	secret, err := c.Secret()
	if err != nil {
		return nil, err
	}
	gc, _ := graphConn(c, secret)
	return graph.New(gc)
}
