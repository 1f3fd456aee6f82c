package main

import (
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

func newTenantCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Add and list tenants",
	}
	var conn connectionFlags
	var repo store.Remote
	add := &cobra.Command{
		Use:   "add NAME [--tenant-id ID --client-id ID (--client-secret-env VAR | --client-secret-file F | --client-cert FILE)]",
		Short: "Create a tenant's repository and connect it to Microsoft 365",
		Long: `Create the repository of a tenant. Each tenant has its own repository:
packs, log, checkpoints and derived state are never shared between tenants.
If HOLDFAST_MASTER_KEY_FILE is set, the repository is encrypted with a fresh
AES-256 key wrapped by that master key.

With --tenant-id and --client-id the tenant is connected to Microsoft 365
through an app registration with application permissions (client secret or
certificate). --cloud picks a national cloud; --graph-endpoint (the service
root, without /v1.0) and --login-endpoint (the authority host) with --ca-file
serve private endpoints and the fake tenant. Secrets are stored only as the
name of the variable or file that holds them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTenantAdd(cmd, g, args[0], &conn, &repo)
		},
	}
	conn.register(add)
	af := add.Flags()
	af.StringVar(&repo.URL, "repository", "", "put the repository in S3 object storage: s3://bucket/prefix (credentials from the environment, shared config or instance role)")
	af.StringVar(&repo.Endpoint, "s3-endpoint", "", "the S3 endpoint of an S3-compatible server (default: AWS's, or AWS_ENDPOINT_URL)")
	af.BoolVar(&repo.PathStyle, "s3-path-style", false, "address the bucket in the path (most S3-compatible servers)")
	af.StringVar(&repo.Region, "s3-region", "", "the bucket's region (default: from the environment)")
	af.StringVar(&repo.LockMode, "lock-mode", "", "S3 Object Lock for every object written: governance or compliance")
	af.IntVar(&repo.LockDays, "lock-days", 0, "days each object is locked from its creation (with --lock-mode)")
	var conn2 connectionFlags
	connect := &cobra.Command{
		Use:   "connect NAME --tenant-id ID --client-id ID (--client-secret-env VAR | --client-secret-file F | --client-cert FILE)",
		Short: "Set or replace an existing tenant's Microsoft 365 connection",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTenantConnect(g, args[0], &conn2)
		},
	}
	conn2.register(connect)
	cmd.AddCommand(add, connect, newTenantTestCommand(g), &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTenantList(g)
		},
	})
	return cmd
}

// tenantView is what tenant commands print: the config without key material.
type tenantView struct {
	Name      string `json:"name"`
	Dir       string `json:"dir"`
	Origin    string `json:"origin"`
	LogKey    string `json:"log_vkey"`
	Encrypted bool   `json:"encrypted"`
	// Connection holds no secret, only where to find it.
	Connection *app.Connection `json:"connection,omitempty"`
}

func runTenantConnect(g *globalOptions, name string, f *connectionFlags) error {
	if err := holdfast.ValidateTenantName(name); err != nil {
		return err
	}
	if !app.New(g.Data, app.Options{}).HasTenant(name) {
		return holdfast.Errorf("tenant connect", holdfast.NotFound, "tenant %s does not exist (holdfast tenant add %s)", name, name)
	}
	c, err := f.resolve(g)
	if err != nil {
		return err
	}
	if err := app.New(g.Data, app.Options{}).SaveConnection(name, c); err != nil {
		return err
	}
	if g.JSON {
		return g.emit(map[string]any{"tenant": name, "connection": c})
	}
	g.print("Connected tenant %s to Microsoft 365 tenant %s (Graph %s); check it with holdfast tenant test %s\n", name, c.TenantID, c.GraphEndpoint, name)
	return nil
}

func runTenantAdd(cmd *cobra.Command, g *globalOptions, name string, f *connectionFlags, repo *store.Remote) error {
	a, err := g.application()
	if err != nil {
		return err
	}
	var conn *app.Connection
	if f.given() {
		c, err := f.resolve(g)
		if err != nil {
			return err
		}
		conn = &c
	}
	var remote *store.Remote
	if repo.URL != "" {
		remote = repo
	} else if repo.Endpoint != "" || repo.LockMode != "" || repo.LockDays != 0 || repo.PathStyle || repo.Region != "" {
		return holdfast.E("tenant add", holdfast.Invalid, "--s3-endpoint, --s3-path-style, --s3-region, --lock-mode and --lock-days go with --repository s3://bucket/prefix")
	}
	cfg, err := a.AddTenantAt(cmd.Context(), g.actor(), name, remote)
	if err != nil {
		return err
	}
	v := tenantView{Name: cfg.Tenant, Dir: a.TenantDir(name), Origin: cfg.Origin, LogKey: cfg.LogKey, Encrypted: cfg.Encryption != nil, Connection: conn}
	if conn != nil {
		if err := a.SaveConnection(name, *conn); err != nil {
			return err
		}
	}
	if g.JSON {
		return g.emit(v)
	}
	g.print("Created tenant %s in %s\n", v.Name, v.Dir)
	if remote != nil {
		g.print("Its repository is in %s (derived state stays in the folder above)\n", remote.URL)
	}
	g.print("Log origin: %s\n", v.Origin)
	if conn != nil {
		g.print("Connected to Microsoft 365 tenant %s through Graph at %s; check it with holdfast tenant test %s\n", conn.TenantID, conn.GraphEndpoint, name)
	}
	if v.Encrypted {
		g.print("Blobs are encrypted with AES-256-GCM; the tenant key is wrapped by the master key (fingerprint %s)\n", cfg.Encryption.MasterKeyFingerprint)
	}
	return nil
}

func runTenantList(g *globalOptions) error {
	names, err := app.New(g.Data, app.Options{}).Tenants()
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(map[string]any{"tenants": names})
	}
	if len(names) == 0 {
		g.print("No tenants yet (holdfast tenant add NAME)\n")
	}
	for _, n := range names {
		g.print("%s\n", n)
	}
	return nil
}
