package app

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

// Connection is how a tenant is reached: <tenant>/connection.json. Secrets
// are stored only by reference — an environment variable's name, or a
// file's path (the API writes a secret it is given to <tenant>/client-secret,
// mode 0600) — never by value.
type Connection struct {
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

func (a *App) connectionPath(tenant string) string {
	return filepath.Join(a.data.TenantDir(tenant), "connection.json")
}

// SaveConnection stores a tenant's connection (checked by the caller, who
// knows Graph's clouds and endpoints).
func (a *App) SaveConnection(tenant string, c Connection) error {
	const op = "save connection"
	if !a.HasTenant(tenant) {
		return holdfast.Errorf(op, holdfast.NotFound, "tenant %s does not exist (holdfast tenant add %s)", tenant, tenant)
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := store.WriteReplace(a.connectionPath(tenant), append(b, '\n'), 0o600); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}

// ConnectWithSecret connects a tenant with a client secret given by value
// (through the API): the secret is written beside the connection, mode
// 0600, in a file of its own that the connection names; check (Graph's
// rules, from the front door) sees the connection before it is saved, and
// when it refuses, nothing changes. The secret files of earlier
// connections are removed once the new one is saved.
func (a *App) ConnectWithSecret(tenant string, c Connection, secret string, check func(Connection) (Connection, error)) (Connection, error) {
	const op = "tenant connect"
	if !a.HasTenant(tenant) {
		return c, holdfast.Errorf(op, holdfast.NotFound, "tenant %s does not exist", tenant)
	}
	if strings.TrimSpace(secret) == "" || len(secret) > 4096 {
		return c, holdfast.E(op, holdfast.Invalid, "the client secret is empty or longer than 4096 bytes")
	}
	dir := a.data.TenantDir(tenant)
	p := filepath.Join(dir, "client-secret-"+holdfast.RandomHex(4))
	if err := store.WriteReplace(p, []byte(secret), 0o600); err != nil {
		return c, holdfast.E(op, holdfast.IO, err)
	}
	c.ClientSecretEnv, c.ClientSecretFile, c.ClientCert = "", p, ""
	c, err := check(c)
	if err == nil {
		err = a.SaveConnection(tenant, c)
	}
	if err != nil {
		os.Remove(p)
		return c, err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "client-secret-*"))
	for _, f := range old {
		if f != p {
			os.Remove(f)
		}
	}
	return c, nil
}

// LoadConnection reads a tenant's connection.
func (a *App) LoadConnection(tenant string) (Connection, error) {
	const op = "tenant connection"
	var c Connection
	b, err := os.ReadFile(a.connectionPath(tenant))
	if errors.Is(err, fs.ErrNotExist) {
		return c, holdfast.Errorf(op, holdfast.Invalid, "tenant %s has no Microsoft 365 connection; add one with holdfast tenant connect %s --tenant-id ID --client-id ID --client-secret-env VAR", tenant, tenant)
	}
	if err != nil {
		return c, holdfast.E(op, holdfast.IO, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, holdfast.E(op, holdfast.Invalid, err, a.connectionPath(tenant))
	}
	return c, nil
}

// Secret reads the client secret from where the connection says it is
// ("" for a certificate).
func (c Connection) Secret() (string, error) {
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

// Cloud is a set of endpoints an admin named for tenants to be connected
// to (a sovereign or private cloud, a test tenant): people who may connect
// tenants but not choose endpoints pick it by name.
type Cloud struct {
	Name          string `json:"name"`
	GraphEndpoint string `json:"graph_endpoint"`
	LoginEndpoint string `json:"login_endpoint"`
	CAFile        string `json:"ca_file,omitempty"`
}

func (a *App) cloudsPath() string { return filepath.Join(a.data.Dir, "clouds.json") }

// Clouds lists the clouds an admin named.
func (a *App) Clouds() ([]Cloud, error) {
	b, err := os.ReadFile(a.cloudsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return []Cloud{}, nil
	}
	if err != nil {
		return nil, holdfast.E("clouds", holdfast.IO, err)
	}
	var out []Cloud
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, holdfast.E("clouds", holdfast.Invalid, err, a.cloudsPath())
	}
	return out, nil
}

// AddCloud names a set of endpoints (replacing one of the same name).
func (a *App) AddCloud(c Cloud) error {
	const op = "cloud add"
	if c.Name == "" || strings.ContainsFunc(c.Name, func(r rune) bool { return holdfast.IsControl(r) || r == ' ' }) || c.GraphEndpoint == "" || c.LoginEndpoint == "" {
		return holdfast.E(op, holdfast.Invalid, "a cloud needs a name (no spaces) and both endpoints")
	}
	list, err := a.Clouds()
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(x Cloud) bool { return x.Name == c.Name })
	list = append(list, c)
	b, _ := json.MarshalIndent(list, "", "  ")
	if err := store.WriteReplace(a.cloudsPath(), append(b, '\n'), 0o600); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}
