package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/spf13/cobra"
)

// connection is how a tenant is reached: <tenant>/connection.json. Secrets
// are stored only by reference (an environment variable's name or a file's
// path), never by value.
type connection struct {
	TenantID         string `json:"tenant_id"`
	ClientID         string `json:"client_id"`
	ClientSecretEnv  string `json:"client_secret_env,omitempty"`
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	ClientCert       string `json:"client_cert,omitempty"`
	Cloud            string `json:"cloud"`
	GraphEndpoint    string `json:"graph_endpoint"`
	LoginEndpoint    string `json:"login_endpoint"`
	CAFile           string `json:"ca_file,omitempty"`
}

// connectionFlags are tenant add's connection options.
type connectionFlags struct {
	connection
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
func (f *connectionFlags) resolve() (connection, error) {
	const op = "tenant connection"
	c := f.connection
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
		return c, holdfast.Errorf(op, holdfast.Invalid, "unknown cloud %q (global, usgov, usgovdod, china)", c.Cloud)
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
	if _, err := c.conn("validation-only"); err != nil {
		return c, err
	}
	return c, nil
}

// conn resolves the secret and returns what the Graph client needs.
func (c connection) conn(secret string) (graph.Conn, error) {
	gc := graph.Conn{TenantID: c.TenantID, ClientID: c.ClientID, CertFile: c.ClientCert, GraphEndpoint: c.GraphEndpoint, LoginEndpoint: c.LoginEndpoint, CAFile: c.CAFile, ClientSecret: secret}
	if secret == "validation-only" {
		_, err := graph.New(gc)
		return gc, err
	}
	return gc, nil
}

// secret reads the client secret from where the connection says it is.
func (c connection) secret() (string, error) {
	const op = "client secret"
	switch {
	case c.ClientSecretEnv != "":
		v := os.Getenv(c.ClientSecretEnv)
		if v == "" {
			return "", holdfast.Errorf(op, holdfast.Invalid, "environment variable %s, which holds this tenant's client secret, is not set", c.ClientSecretEnv)
		}
		return v, nil
	case c.ClientSecretFile != "":
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return "", holdfast.E(op, holdfast.Invalid, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

func connectionPath(g *globalOptions, tenant string) string {
	return filepath.Join(g.dataDir().TenantDir(tenant), "connection.json")
}

func saveConnection(g *globalOptions, tenant string, c connection) error {
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(connectionPath(g, tenant), append(b, '\n'), 0o600); err != nil {
		return holdfast.E("save connection", holdfast.IO, err)
	}
	return nil
}

func loadConnection(g *globalOptions, tenant string) (connection, error) {
	var c connection
	b, err := os.ReadFile(connectionPath(g, tenant))
	if errors.Is(err, fs.ErrNotExist) {
		return c, holdfast.Errorf("tenant connection", holdfast.Invalid, "tenant %s has no Microsoft 365 connection; add one with holdfast tenant connect %s --tenant-id ID --client-id ID --client-secret-env VAR", tenant, tenant)
	}
	if err != nil {
		return c, holdfast.E("tenant connection", holdfast.IO, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, holdfast.E("tenant connection", holdfast.Invalid, err, connectionPath(g, tenant))
	}
	return c, nil
}

// graphClient builds the Graph client of the --tenant.
func (g *globalOptions) graphClient(tenant string) (*graph.Client, error) {
	c, err := loadConnection(g, tenant)
	if err != nil {
		return nil, err
	}
	secret, err := c.secret()
	if err != nil {
		return nil, err
	}
	gc, _ := c.conn(secret)
	return graph.New(gc)
}
