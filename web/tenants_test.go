package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
)

type probe struct{ roles []string }

func (p probe) Roles(context.Context) ([]string, error) { return p.roles, nil }
func (p probe) Accounts(context.Context) ([]holdfast.Account, error) {
	return []holdfast.Account{{UPN: "ann@contoso.example", Enabled: true, Licensed: true}}, nil
}

// TestTenantsThroughTheAPI: an admin creates a tenant with its
// connection; a technician replaces it (a secret by value only, stored
// beside it, never shown) and tests it; what names a thing on the server
// is refused to a technician, and a connection Graph's rules refuse
// changes nothing.
func TestTenantsThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	var log strings.Builder
	check := func(c app.Connection) (app.Connection, error) {
		if c.TenantID == "bad" {
			return c, holdfast.E("tenant connection", holdfast.Invalid, "unknown cloud")
		}
		c.GraphEndpoint, c.LoginEndpoint = "https://graph.example", "https://login.example"
		return c, nil
	}
	f.srv = New(f.app, Options{Access: f.srv.access, Log: slog.New(slog.NewTextHandler(&log, nil)), Connect: check,
		Probe: func(string) (app.TenantProbe, map[string][][]string, error) {
			return probe{roles: []string{"User.Read.All"}}, map[string][][]string{"directory": {{"User.Read.All"}}, "mail": {{"Mail.Read"}}}, nil
		}})
	f.h = f.srv.Handler()
	conn := map[string]any{"tenant_id": "11111111-2222-3333-4444-555555555555", "client_id": "app", "client_secret": "s3cret-value-1"}

	if w := f.do(access.Technician, "POST", "/api/v1/tenants", map[string]any{"name": "northwind", "connection": conn}); w.Code != http.StatusForbidden {
		t.Errorf("a technician adding a tenant: %d, want 403", w.Code)
	}
	w := f.do(access.Admin, "POST", "/api/v1/tenants", map[string]any{"name": "northwind", "connection": conn})
	if w.Code != http.StatusCreated || !f.app.HasTenant("northwind") {
		t.Fatalf("add: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Admin, "POST", "/api/v1/tenants", map[string]any{"name": "northwind"}); w.Code != http.StatusConflict {
		t.Errorf("adding it again: %d, want 409", w.Code)
	}

	// contoso, which the technician has: replace its connection.
	conn["client_secret"] = "s3cret-value-2"
	w = f.do(access.Technician, "PUT", "/api/v1/tenants/contoso/connection", conn)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "s3cret") {
		t.Fatalf("connect: %d %s (never the secret)", w.Code, w.Body)
	}
	c, err := f.app.LoadConnection("contoso")
	if err != nil || c.GraphEndpoint != "https://graph.example" || c.ClientSecretFile == "" {
		t.Fatalf("saved connection %+v, %v", c, err)
	}
	if b, err := os.ReadFile(c.ClientSecretFile); err != nil || string(b) != "s3cret-value-2" {
		t.Errorf("secret file: %q, %v", b, err)
	}
	if fi, _ := os.Stat(c.ClientSecretFile); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v", fi)
	}
	for name, refused := range map[string]map[string]any{
		"an endpoint":      {"tenant_id": "x", "client_id": "y", "client_secret": "z", "graph_endpoint": "https://attacker.example"},
		"a CA file":        {"tenant_id": "x", "client_id": "y", "client_secret": "z", "ca_file": "/etc/passwd"},
		"a secret by name": {"tenant_id": "x", "client_id": "y", "client_secret_env": "AWS_SECRET_ACCESS_KEY"},
		"Graph's refusal":  {"tenant_id": "bad", "client_id": "y", "client_secret": "z"},
		"no secret at all": {"tenant_id": "x", "client_id": "y"},
	} {
		if w := f.do(access.Technician, "PUT", "/api/v1/tenants/contoso/connection", refused); w.Code < 400 || w.Code >= 500 {
			t.Errorf("%s: %d %s, want refused", name, w.Code, w.Body)
		}
	}
	if after, _ := f.app.LoadConnection("contoso"); after != c {
		t.Errorf("a refused connection changed the saved one: %+v, want %+v", after, c)
	}
	if secrets, _ := filepath.Glob(filepath.Join(f.app.TenantDir("contoso"), "client-secret-*")); len(secrets) != 1 {
		t.Errorf("secret files left: %v, want the one in use", secrets)
	}
	if w := f.do(access.Technician, "PUT", "/api/v1/tenants/fabrikam/connection", conn); w.Code != http.StatusNotFound {
		t.Errorf("another tenant's connection: %d, want 404", w.Code)
	}

	w = f.do(access.Technician, "POST", "/api/v1/tenants/contoso/test", nil)
	var res app.TenantTest
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || w.Code != http.StatusOK {
		t.Fatalf("test: %d %s", w.Code, w.Body)
	}
	if res.OK || len(res.Missing["mail"]) == 0 || res.Accounts != 1 {
		t.Errorf("test: %+v, want mail missing Mail.Read and one account", res)
	}

	w = f.do(access.Auditor, "GET", "/api/v1/roles", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"tenants:connect"`) {
		t.Errorf("roles: %d %s", w.Code, w.Body)
	}
	all, _ := io.ReadAll(strings.NewReader(log.String()))
	for _, s := range []string{"s3cret-value-1", "s3cret-value-2"} {
		if strings.Contains(string(all), s) || strings.Contains(w.Body.String(), s) {
			t.Errorf("the secret %q reached the log or a response", s)
		}
	}
}
