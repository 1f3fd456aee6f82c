package main

import (
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

func newTenantCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenant",
		Short: "Add and list tenants",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "add NAME",
		Short: "Create a tenant's repository",
		Long: `Create the repository of a tenant. Each tenant has its own repository:
packs, log, checkpoints and derived state are never shared between tenants.
If HOLDFAST_MASTER_KEY_FILE is set, the repository is encrypted with a fresh
AES-256 key wrapped by that master key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTenantAdd(cmd, g, args[0])
		},
	}, &cobra.Command{
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
}

func runTenantAdd(cmd *cobra.Command, g *globalOptions, name string) error {
	mk, err := masterKey()
	if err != nil {
		return err
	}
	cfg, err := g.dataDir().AddTenant(cmd.Context(), name, store.AddTenantOptions{MasterKey: mk})
	if err != nil {
		return err
	}
	v := tenantView{Name: cfg.Tenant, Dir: g.dataDir().TenantDir(name), Origin: cfg.Origin, LogKey: cfg.LogKey, Encrypted: cfg.Encryption != nil}
	if g.JSON {
		return g.emit(v)
	}
	g.print("Created tenant %s in %s\n", v.Name, v.Dir)
	g.print("Log origin: %s\n", v.Origin)
	if v.Encrypted {
		g.print("Blobs are encrypted with AES-256-GCM; the tenant key is wrapped by the master key (fingerprint %s)\n", cfg.Encryption.MasterKeyFingerprint)
	}
	return nil
}

func runTenantList(g *globalOptions) error {
	names, err := g.dataDir().Tenants()
	if err != nil {
		return err
	}
	if g.JSON {
		if names == nil {
			names = []string{}
		}
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
