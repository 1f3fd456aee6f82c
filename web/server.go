// Package web is Holdfast's JSON API (/api/v1) on Echo: every route names
// the permission it needs (access's one table) and, when it is about a
// tenant, the principal must have that tenant. Handlers call the
// application layer (package app) — the same operations as the CLI, which
// write the same records, with the API user and her address as the actor.
// Errors are RFC 9457 problem documents, their status taken from the
// error's kind by one table.
package web

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/alert"
	"github.com/holdfast/holdfast/app"
	"github.com/labstack/echo/v5"
)

//go:embed openapi.json
var openAPI []byte

// Server serves the API.
type Server struct {
	app      *app.App
	access   *access.Store
	state    *app.ServiceState
	log      *slog.Logger
	e        *echo.Echo
	routes   []route
	sessions *sessions
	metrics  *Metrics
	alerts   *alert.Notifier
	into     func(tenant string) (app.TenantWriter, error)
	connect  func(app.Connection) (app.Connection, error)
	jobs     jobs
	// exportWait is how long an export request waits before it is
	// answered 202 (exportWait; tests shorten it).
	exportWait time.Duration
	probe      func(tenant string) (app.TenantProbe, map[string][][]string, error)
}

// Options are what the API serves besides the application layer.
type Options struct {
	Access  *access.Store     // users and tokens
	State   *app.ServiceState // the scheduler's state; nil when none runs
	Metrics *Metrics          // nil: fresh ones
	Alerts  *alert.Notifier   // nil: no deliveries to show
	// Into connects to a tenant to restore into (Graph, wired by the
	// front door); nil: restores go to zips only.
	Into func(tenant string) (app.TenantWriter, error)
	// Connect checks a tenant's connection against Graph's clouds and
	// fills in its endpoints; Probe connects to a tenant to test what its
	// app may read, with the permissions each workload needs (both wired
	// by the front door; nil: tenants are connected with the CLI only).
	Connect func(app.Connection) (app.Connection, error)
	Probe   func(tenant string) (app.TenantProbe, map[string][][]string, error)
	Log     *slog.Logger
}

// route is one endpoint: what it needs and what it does.
type route struct {
	method, path string
	perm         access.Permission // "" for any authenticated principal
	tenant       bool              // the path names a :tenant the principal must have
	handle       func(c *echo.Context, p *access.Principal) error
}

// New returns the API over the application layer a.
func New(a *app.App, o Options) *Server {
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{app: a, access: o.Access, state: o.State, log: o.Log, e: echo.New(), sessions: newSessions(time.Now), metrics: o.Metrics, alerts: o.Alerts, into: o.Into,
		connect: o.Connect, probe: o.Probe, exportWait: exportWait}
	s.e.IPExtractor = echo.ExtractIPDirect() // never a client's X-Forwarded-For
	s.e.HTTPErrorHandler = s.problem
	s.e.GET("/healthz", s.healthz)
	s.e.POST(api+"/login", s.login)
	s.registerConsole()
	for _, r := range append(s.table(), s.consoleRoutes()...) {
		s.routes = append(s.routes, r)
		s.e.Add(r.method, r.path, s.guard(r))
	}
	return s
}

// Handler is the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

type principalKey struct{}

type csrfKey struct{}

// guard authenticates the request, checks the route's permission and
// tenant, then calls the handler.
func (s *Server) guard(r route) echo.HandlerFunc {
	return func(c *echo.Context) error {
		p, ses, err := s.principal(c)
		if err != nil {
			return err
		}
		// Who asks, and the session's CSRF token for the console's forms,
		// from here on: its error pages too say who is signed in.
		ctx := context.WithValue(c.Request().Context(), principalKey{}, p)
		if ses != nil {
			ctx = context.WithValue(ctx, csrfKey{}, ses.csrf)
		}
		c.SetRequest(c.Request().WithContext(ctx))
		if r.perm != "" && !access.Allowed(p.Role, r.perm) {
			return holdfast.Errorf("api", holdfast.Permission, "a %s may not %s", p.Role, r.perm)
		}
		if r.tenant {
			t := c.Param("tenant")
			if err := holdfast.ValidateTenantName(t); err != nil {
				return err
			}
			// Another tenant is not there at all, for this principal: the
			// same answer as a tenant that does not exist.
			if !p.Tenant(t) || !s.app.HasTenant(t) {
				return holdfast.Errorf("api", holdfast.NotFound, "no tenant %s", t)
			}
		}
		return r.handle(c, p)
	}
}

// actor is who an API request acts as: the user, through the API, from
// her address ("legal1 (API, 10.0.0.5)").
func actor(c *echo.Context, p *access.Principal) app.Actor {
	return app.Actor{Name: p.User, From: "API, " + c.RealIP()}
}

// statuses maps an error's kind to its HTTP status: the one table.
var statuses = map[holdfast.Kind]int{
	holdfast.Invalid:    http.StatusBadRequest,
	holdfast.NotFound:   http.StatusNotFound,
	holdfast.Exist:      http.StatusConflict,
	holdfast.Locked:     http.StatusConflict,
	holdfast.Permission: http.StatusForbidden,
	holdfast.Integrity:  http.StatusInternalServerError,
	holdfast.IO:         http.StatusInternalServerError,
	holdfast.Other:      http.StatusInternalServerError,
}

// problem answers an error as an RFC 9457 problem document.
func (s *Server) problem(c *echo.Context, err error) {
	status := http.StatusInternalServerError
	title := "error"
	var he *holdfast.Error
	switch {
	case errors.Is(err, access.ErrUnauthenticated):
		status, title = http.StatusUnauthorized, "not authenticated"
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="holdfast"`)
	case errors.As(err, &he):
		k := holdfast.KindOf(err)
		status, title = statuses[k], k.String()
	default:
		if code := echo.StatusCode(err); code != 0 {
			status, title = code, http.StatusText(code)
		}
	}
	if status >= 500 {
		s.log.Error("api", "method", c.Request().Method, "path", c.Request().URL.Path, "error", err.Error())
	}
	if isPage(c) {
		s.pageError(c, status, title, err.Error())
		return
	}
	detail := err.Error()
	if status == http.StatusUnauthorized {
		detail = "sign in (POST /api/v1/login), or give a valid token: Authorization: Bearer hfa_…"
	}
	c.Response().Header().Set("Content-Type", "application/problem+json")
	c.Response().WriteHeader(status)
	writeJSON(c.Response(), map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}
