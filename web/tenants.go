package web

import (
	"net/http"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/labstack/echo/v5"
)

// connectionBody is a tenant's connection as the API takes it. What names
// a thing on the server — a secret's environment variable or file, a
// certificate file — is set with the CLI only: through the API it could
// send a server's secret to an endpoint of the caller's choosing. For the
// same reason only an admin may give endpoints and a CA file other than a
// national cloud's.
type connectionBody struct {
	TenantID      string `json:"tenant_id"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	Cloud         string `json:"cloud"`
	GraphEndpoint string `json:"graph_endpoint"`
	LoginEndpoint string `json:"login_endpoint"`
	CAFile        string `json:"ca_file"`
}

// connectTenant checks b, stores its secret beside the tenant's
// connection and saves the connection.
func (s *Server) connectTenant(p *access.Principal, tenant string, b connectionBody) (app.Connection, error) {
	const op = "tenant connect"
	if s.connect == nil {
		return app.Connection{}, holdfast.E(op, holdfast.Invalid, "this process does not connect tenants: holdfast serve does")
	}
	if b.ClientSecret == "" {
		return app.Connection{}, holdfast.E(op, holdfast.Invalid, "give client_secret (a certificate, or a secret in an environment variable, is set with holdfast tenant connect)")
	}
	if p.Role != access.Admin && (b.GraphEndpoint != "" || b.LoginEndpoint != "" || b.CAFile != "") {
		return app.Connection{}, holdfast.E(op, holdfast.Permission, "only an admin gives endpoints or a CA file; choose a cloud (global, usgov, usgovdod, china)")
	}
	if b.Cloud == "" {
		b.Cloud = "global"
	}
	return s.app.ConnectWithSecret(tenant, app.Connection{TenantID: b.TenantID, ClientID: b.ClientID, Cloud: b.Cloud,
		GraphEndpoint: b.GraphEndpoint, LoginEndpoint: b.LoginEndpoint, CAFile: b.CAFile}, b.ClientSecret, s.connect)
}

// addTenant creates a tenant's repository and, when given, its
// connection: {"name": …, "connection": {…}}.
func (s *Server) addTenant(c *echo.Context, p *access.Principal) error {
	var b struct {
		Name       string          `json:"name"`
		Connection *connectionBody `json:"connection"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if err := holdfast.ValidateTenantName(b.Name); err != nil {
		return err
	}
	if b.Connection != nil && s.connect == nil {
		return holdfast.E("tenant add", holdfast.Invalid, "this process does not connect tenants: holdfast serve does")
	}
	cfg, err := s.app.AddTenant(c.Request().Context(), actor(c, p), b.Name)
	if err != nil {
		return err
	}
	out := map[string]any{"name": cfg.Tenant, "origin": cfg.Origin, "log_vkey": cfg.LogKey, "encrypted": cfg.Encryption != nil}
	if b.Connection != nil {
		conn, err := s.connectTenant(p, b.Name, *b.Connection)
		if err != nil {
			return holdfast.Errorf("tenant add", holdfast.KindOf(err), "tenant %s was created, its connection was not: %w (PUT its connection)", b.Name, err)
		}
		out["connection"] = conn
	}
	s.log.Info("tenant added", "tenant", b.Name, "by", p.User, "address", c.RealIP())
	return c.JSON(http.StatusCreated, out)
}

// setConnection sets or replaces a tenant's connection.
func (s *Server) setConnection(c *echo.Context, p *access.Principal) error {
	var b connectionBody
	if err := decode(c, &b); err != nil {
		return err
	}
	conn, err := s.connectTenant(p, c.Param("tenant"), b)
	if err != nil {
		return err
	}
	s.log.Info("tenant connected", "tenant", c.Param("tenant"), "by", p.User, "address", c.RealIP())
	return c.JSON(http.StatusOK, map[string]any{"tenant": c.Param("tenant"), "connection": conn})
}

// testTenant authenticates to the tenant and names every permission a
// workload lacks: 200 with "ok": false when some are missing.
func (s *Server) testTenant(c *echo.Context, p *access.Principal) error {
	const op = "tenant test"
	if s.probe == nil {
		return holdfast.E(op, holdfast.Invalid, "this process does not connect tenants: holdfast serve does")
	}
	probe, required, err := s.probe(c.Param("tenant"))
	if err != nil {
		return err
	}
	res, err := s.app.TestTenant(c.Request().Context(), c.Param("tenant"), probe, required)
	if res == nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// roles is the table of who may do what.
func (s *Server) roles(c *echo.Context, p *access.Principal) error {
	out := []map[string]any{}
	for _, r := range access.Roles {
		perms := []access.Permission{}
		for _, pm := range access.Permissions() {
			if access.Allowed(r, pm) {
				perms = append(perms, pm)
			}
		}
		out = append(out, map[string]any{"role": r, "permissions": perms, "every_tenant": r == access.Admin})
	}
	return c.JSON(http.StatusOK, map[string]any{"roles": out})
}
