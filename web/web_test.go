package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
)

// fixture is a data directory with tenants contoso and fabrikam, a user and
// a token of each role scoped to contoso (the admin to every tenant), and
// the API over them.
type fixture struct {
	t      *testing.T
	app    *app.App
	srv    *Server
	h      http.Handler
	tokens map[access.Role]string
	doc    *openapi3.T
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	a := app.New(dir, app.Options{})
	if _, err := a.Init("Holdfast test signer"); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []string{"contoso", "fabrikam"} {
		if _, err := a.AddTenant(context.Background(), app.Actor{Name: "test"}, tn); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Generate(context.Background(), app.Actor{Name: "test"}, tn, app.GenerateOptions{Items: 3, Size: 500, Seed: 1}); err != nil {
			t.Fatal(err)
		}
	}
	acc := access.Open(dir, nil)
	f := &fixture{t: t, app: a, tokens: map[access.Role]string{}}
	for _, r := range access.Roles {
		var tenants []string
		if r != access.Admin {
			tenants = []string{"contoso"}
		}
		name := string(r) + "1"
		if err := acc.AddUser(name, r, tenants, "a long enough password", nil); err != nil {
			t.Fatal(err)
		}
		tok, _, err := acc.CreateToken(name, "test", "", nil, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r] = tok
	}
	f.srv = New(a, Options{Access: acc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.h = f.srv.Handler()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	f.doc = doc
	return f
}

// do sends a request as role (none: no token) and returns the response;
// every response is checked against the OpenAPI document.
func (f *fixture) do(role access.Role, method, path string, body any) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.send(method, path, body, func(req *http.Request) {
		if role != "" {
			req.Header.Set("Authorization", "Bearer "+f.tokens[role])
		}
	})
}

// send sends a JSON request, prepared by with, and checks the response
// against the OpenAPI document.
func (f *fixture) send(method, path string, body any, with func(*http.Request)) *httptest.ResponseRecorder {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if strings.HasSuffix(req.URL.Path, "/live") {
		// An event stream runs until the client goes: this client has
		// gone already, so it answers its first event and ends.
		ctx, cancel := context.WithCancel(req.Context())
		cancel()
		req = req.WithContext(ctx)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	with(req)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	f.validate(req, body, w)
	return w
}

// validate checks a response against the OpenAPI document.
func (f *fixture) validate(req *http.Request, body any, w *httptest.ResponseRecorder) {
	f.t.Helper()
	router, err := gorillamux.NewRouter(f.doc)
	if err != nil {
		f.t.Fatal(err)
	}
	if strings.HasPrefix(req.URL.Path, consolePath) {
		return // a page, not the API
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if w.Code != http.StatusNotFound {
			f.t.Errorf("%s %s is served (%d) but not in openapi.json: %v", req.Method, req.URL.Path, w.Code, err)
		}
		return
	}
	if body != nil {
		b, _ := json.Marshal(body)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: w.Code, Header: w.Header(),
		Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		f.t.Errorf("%s %s → %d does not match openapi.json: %v\n%s", req.Method, req.URL.Path, w.Code, err, w.Body.String())
	}
}

func init() {
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.FileBodyDecoder)
}

var param = regexp.MustCompile(`:([a-z0-9_]+)`)

// TestOpenAPIDescribesEveryRoute: every route the router serves is in
// openapi.json, and every path there is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	f := newFixture(t)
	served := map[string]bool{}
	for _, r := range f.srv.e.Router().Routes() {
		if !strings.HasPrefix(r.Path, api) && r.Path != "/metrics" && r.Path != "/healthz" {
			continue // the console's pages and assets, and / (a redirect to them)
		}
		key := r.Method + " " + param.ReplaceAllString(r.Path, "{$1}")
		served[key] = true
		if f.doc.Paths.Find(param.ReplaceAllString(r.Path, "{$1}")) == nil || f.doc.Paths.Find(param.ReplaceAllString(r.Path, "{$1}")).GetOperation(r.Method) == nil {
			t.Errorf("%s is served but not in openapi.json", key)
		}
	}
	for path, item := range f.doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which is not served", method, path)
			}
		}
	}
}

// request builds a request for a route with its parameters filled in,
// for tenant.
func request(r route, tenant string) (string, any) {
	path := strings.ReplaceAll(r.path, ":tenant", tenant)
	path = strings.ReplaceAll(path, ":case", "Smith")
	path = strings.ReplaceAll(path, ":index", "0")
	var body any
	switch {
	case strings.HasSuffix(path, "/search"):
		path += "?q=invoice"
	case strings.HasSuffix(path, "/item"):
		path += "?id=synthetic-1-0"
	case r.method == "PUT" && strings.HasSuffix(path, "/schedule"):
		body = map[string]any{"backup": "@every 6h"}
	case r.method == "POST" && strings.HasSuffix(path, "/holds"):
		body = map[string]any{"case": "Smith", "custodians": []string{"ann@contoso.example"}, "reason": "litigation"}
	case strings.HasSuffix(path, "/release"):
		body = map[string]any{"reason": "settled"}
	case strings.HasSuffix(path, "/verify"):
		body = map[string]any{"read_data_percent": 100}
	}
	return path, body
}

// TestEveryRouteEveryRoleEveryTenant walks the router's routes × roles ×
// tenants against access's table: a route without a rule fails, a role
// without the permission gets 403, a tenant outside the principal's scope
// is not there at all (404, nothing written), and no request without a
// token gets anything but 401.
func TestEveryRouteEveryRoleEveryTenant(t *testing.T) {
	f := newFixture(t)
	rules := map[string]route{}
	for _, r := range f.srv.routes {
		rules[r.method+" "+r.path] = r
	}
	for _, rr := range f.srv.e.Router().Routes() {
		switch rr.Path {
		case "/healthz", "/api/v1/login", "/", consolePath + "/login", consolePath + "/static/*": // public
			continue
		}
		r, ok := rules[rr.Method+" "+rr.Path]
		if !ok {
			t.Errorf("%s %s has no rule in the route table", rr.Method, rr.Path)
			continue
		}
		for _, tenant := range []string{"contoso", "fabrikam"} {
			path, body := request(r, tenant)
			page := strings.HasPrefix(r.path, consolePath)
			if w := f.do("", r.method, path, body); !page && w.Code != http.StatusUnauthorized || page && (w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), consolePath+"/login")) {
				t.Errorf("%s %s without a token: %d", r.method, path, w.Code)
			}
			for _, role := range access.Roles {
				before := logSize(t, f.app, "fabrikam")
				w := f.do(role, r.method, path, body)
				var pr struct{ Detail string }
				if json.Unmarshal(w.Body.Bytes(), &pr) != nil {
					pr.Detail = w.Body.String() // a page
				}
				allowed := r.perm == "" || access.Allowed(role, r.perm)
				inScope := !r.tenant || role == access.Admin || tenant == "contoso"
				switch {
				case !allowed:
					if w.Code != http.StatusForbidden {
						t.Errorf("%s %s as %s: %d, want 403 (%s)", r.method, path, role, w.Code, r.perm)
					}
				case !inScope:
					if w.Code != http.StatusNotFound || !strings.Contains(pr.Detail, "no tenant") {
						t.Errorf("%s %s as %s of contoso: %d %s, want 404 no tenant", r.method, path, role, w.Code, w.Body)
					}
				default:
					if w.Code == http.StatusForbidden || w.Code == http.StatusUnauthorized || strings.Contains(pr.Detail, "no tenant") || w.Code >= 500 {
						t.Errorf("%s %s as %s: %d %s, want it served", r.method, path, role, w.Code, w.Body)
					}
				}
				if after := logSize(t, f.app, "fabrikam"); !inScope && after != before {
					t.Errorf("%s %s as %s of contoso wrote to fabrikam's log (%d → %d)", r.method, path, role, before, after)
				}
			}
		}
	}
}

func logSize(t *testing.T, a *app.App, tenant string) uint64 {
	t.Helper()
	st, err := a.Status(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return st.Records
}

// TestAPIActionsAreAudited: what the API does is recorded like its CLI
// twin, with the API user and her address as the actor.
func TestAPIActionsAreAudited(t *testing.T) {
	f := newFixture(t)
	if w := f.do(access.Legal, "POST", "/api/v1/tenants/contoso/holds", map[string]any{"case": "Smith", "custodians": []string{"ann@contoso.example"}, "reason": "litigation"}); w.Code != http.StatusCreated {
		t.Fatalf("place hold: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/search?q=invoice", nil); w.Code != http.StatusOK {
		t.Fatalf("search: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Technician, "PUT", "/api/v1/tenants/contoso/schedule", map[string]any{"verify": "@daily"}); w.Code != http.StatusOK {
		t.Fatalf("schedule: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Admin, "POST", "/api/v1/users", map[string]any{"name": "legal2", "role": "legal", "tenants": []string{"contoso"}, "password": "a long enough password"}); w.Code != http.StatusCreated {
		t.Fatalf("user add: %d %s", w.Code, w.Body)
	}
	w := f.do(access.Auditor, "GET", "/api/v1/tenants/contoso/audit", nil)
	var out struct {
		Records []record.Record `json:"records"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
		t.Fatalf("audit: %d %s", w.Code, w.Body)
	}
	actors := map[string]string{}
	for _, r := range out.Records {
		var d struct{ Actor string }
		json.Unmarshal(r.Data, &d)
		actors[r.Type] = d.Actor
		if r.Type == record.TypeSynthetic || r.Type == record.TypeItemVersion {
			t.Errorf("the audit log shows %s records to an auditor", r.Type)
		}
	}
	for typ, want := range map[string]string{record.TypeHoldPlaced: "legal1 (API, 192.0.2.1)", record.TypeAudit: "legal1 (API, 192.0.2.1)", record.TypeScheduleSet: "technician1 (API, 192.0.2.1)",
		record.TypeAccessChanged: "admin1 (API, 192.0.2.1)"} {
		if actors[typ] != want {
			t.Errorf("%s actor: got %q, want %q", typ, actors[typ], want)
		}
	}
}

func TestProblems(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		role         access.Role
		method, path string
		body         any
		status       int
		detail       string
	}{
		{access.Legal, "GET", "/api/v1/tenants/contoso/search?q=budget%20AND", nil, 400, "position"},
		{access.Admin, "GET", "/api/v1/tenants/nosuch/status", nil, 404, "no tenant"},
		{access.Admin, "GET", "/api/v1/tenants/..%2Fetc/status", nil, 400, ""},
		{access.Technician, "PUT", "/api/v1/tenants/contoso/schedule", map[string]any{"backup": "often"}, 400, "backup"},
		{access.Technician, "PUT", "/api/v1/tenants/contoso/schedule", map[string]any{"nonsense": 1}, 400, "unknown field"},
		{access.Legal, "POST", "/api/v1/tenants/contoso/holds/Nope/release", map[string]any{"reason": "x"}, 404, "no active hold"},
		{access.Admin, "GET", "/api/v1/nothing", nil, 404, ""},
	}
	for _, tt := range tests {
		w := f.do(tt.role, tt.method, tt.path, tt.body)
		var pr struct {
			Status int
			Detail string
		}
		if err := json.Unmarshal(w.Body.Bytes(), &pr); err != nil || w.Code != tt.status || pr.Status != tt.status ||
			!strings.Contains(pr.Detail, tt.detail) || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s %s, want a %d problem naming %q", tt.method, tt.path, w.Code, w.Header().Get("Content-Type"), w.Body, tt.status, tt.detail)
		}
	}
}
