package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
	"github.com/labstack/echo/v5"
	"github.com/microcosm-cc/bluemonday"
)

// The console: server-rendered pages from the same process, on the same
// route table, guard and sessions as the API (a page is a route with
// page set), calling the same operations. No script runs but
// /console/static/console.js, and no asset comes from elsewhere.

const consolePath = "/console"

//go:embed console
var consoleFS embed.FS

var consoleTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"when":      when,
	"ago":       ago,
	"bytes":     holdfast.HumanBytes,
	"join":      strings.Join,
	"pathq":     url.QueryEscape, // a query parameter's value
	"pathe":     url.PathEscape,  // a path segment
	"allowed":   func(p *access.Principal, perm string) bool { return access.Allowed(p.Role, access.Permission(perm)) },
	"workload":  func(w holdfast.Workload) string { return string(w) },
	"inc":       func(i int) int { return i + 1 },
	"int64":     func(i int) int64 { return int64(i) },
	"hasPrefix": strings.HasPrefix,
}).ParseFS(consoleFS, "console/*.html"))

// consoleCSP: scripts and styles from this origin only, no inline script,
// frames only of this origin (the sandboxed mail body), never framed.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// pageData is what every page template gets.
type pageData struct {
	Title string
	P     *access.Principal
	CSRF  string
	Now   time.Time
	Data  any
}

// render writes a page with the console's headers.
func (s *Server) render(c *echo.Context, status int, name string, p *access.Principal, title string, data any) error {
	pg := pageData{Title: title, P: p, Now: time.Now(), Data: data}
	pg.CSRF, _ = c.Request().Context().Value(csrfKey{}).(string) // the guard's session's
	var buf bytes.Buffer
	if err := consoleTemplates.ExecuteTemplate(&buf, name, pg); err != nil {
		return holdfast.E("console", err)
	}
	// html/template escapes markup, not the controls and bidirectional
	// overrides a subject or file name can carry to reorder what a person
	// reads ("contract\u202egpj.pdf" showing as "contractfdp.jpg"): the page
	// shows them as escapes, as the CLI does. The templates carry none.
	page := holdfast.Visible(buf.String(), true)
	pageHeaders(c.Response().Header(), consoleCSP)
	return c.HTMLBlob(status, []byte(page))
}

// pageHeaders are every console page's: its CSP, no sniffing, no referrer
// sent on, nothing kept in caches.
func pageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// attachmentHeaders are every download of captured bytes': always an
// attachment under a name made safe (restore.FileName), never sniffed or
// rendered.
func attachmentHeaders(h http.Header, name string) {
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": restore.FileName(name)}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
}

// pageError answers a page's error as a page; without a session, the
// sign-in page.
func (s *Server) pageError(c *echo.Context, status int, title, detail string) {
	if status == http.StatusUnauthorized {
		next := c.Request().URL.RequestURI()
		c.Redirect(http.StatusSeeOther, consolePath+"/login?next="+url.QueryEscape(next))
		return
	}
	p, _ := c.Request().Context().Value(principalKey{}).(*access.Principal)
	if err := s.render(c, status, "error.html", p, title, map[string]string{"Title": title, "Detail": detail}); err != nil {
		c.String(status, detail)
	}
}

// isPage reports whether a request is for the console's pages.
func isPage(c *echo.Context) bool {
	p := c.Request().URL.Path
	return p == consolePath || strings.HasPrefix(p, consolePath+"/")
}

// consoleRoutes are the console's pages, in the one route table.
func (s *Server) consoleRoutes() []route {
	t := consolePath + "/tenants/:tenant"
	return []route{
		{method: "GET", path: consolePath, perm: access.ReadTenants, handle: s.dashboardPage},
		{method: "POST", path: consolePath + "/logout", handle: s.consoleLogout},
		{method: "GET", path: consolePath + "/password", handle: s.passwordPage},
		{method: "POST", path: consolePath + "/password", handle: s.passwordForm},
		{method: "GET", path: t, perm: access.ReadTenants, tenant: true, handle: s.tenantPage},
		{method: "GET", path: t + "/runs/:run", perm: access.ReadTenants, tenant: true, handle: s.runPage},
		{method: "GET", path: t + "/search", perm: access.ReadContent, tenant: true, handle: s.searchPage},
		{method: "GET", path: t + "/item", perm: access.ReadContent, tenant: true, handle: s.itemPage},
		{method: "GET", path: t + "/item/body", perm: access.ReadContent, tenant: true, handle: s.mailBodyPage},
		{method: "GET", path: t + "/item/attachments", perm: access.ReadContent, tenant: true, handle: s.attachmentsPage},
		{method: "GET", path: t + "/item/attachment", perm: access.ReadContent, tenant: true, handle: s.attachment},
		{method: "GET", path: t + "/holds", perm: access.ReadHolds, tenant: true, handle: s.holdsPage},
		{method: "POST", path: t + "/holds", perm: access.WriteHolds, tenant: true, handle: s.placeHoldForm},
		{method: "POST", path: t + "/holds/:case/release", perm: access.WriteHolds, tenant: true, handle: s.releaseHoldForm},
		{method: "GET", path: t + "/disposals", perm: access.ReadDisposals, tenant: true, handle: s.disposalsPage},
		{method: "POST", path: t + "/disposals", perm: access.ProposeDisposal, tenant: true, handle: s.proposeDisposalForm},
		{method: "POST", path: t + "/disposals/:proposal/review", perm: access.ReviewDisposal, tenant: true, handle: s.reviewDisposalForm},
		{method: "POST", path: t + "/disposals/:proposal/execute", perm: access.ExecuteDisposal, tenant: true, handle: s.executeDisposalForm},
		{method: "GET", path: t + "/exports", perm: access.Export, tenant: true, handle: s.exportsPage},
		{method: "POST", path: t + "/exports", perm: access.Export, tenant: true, handle: s.exportForm},
		{method: "GET", path: t + "/reports", perm: access.Reports, tenant: true, handle: s.reportsPage},
		{method: "POST", path: t + "/reports", perm: access.Reports, tenant: true, handle: s.reportForm},
		{method: "GET", path: t + "/findings", perm: access.ReadFindings, tenant: true, handle: s.findingsPage},
		{method: "GET", path: t + "/audit", perm: access.ReadAudit, tenant: true, handle: s.auditPage},
		{method: "GET", path: t + "/settings", perm: access.ReadSchedule, tenant: true, handle: s.settingsPage},
		{method: "POST", path: t + "/schedule", perm: access.WriteSchedule, tenant: true, handle: s.scheduleForm},
		{method: "POST", path: t + "/policy", perm: access.WritePolicy, tenant: true, handle: s.policyForm},
		{method: "POST", path: t + "/run", perm: access.RunJobs, tenant: true, handle: s.runNowForm},
		{method: "POST", path: t + "/connection", perm: access.ConnectTenant, tenant: true, handle: s.connectForm},
		{method: "GET", path: t + "/restore", perm: access.Restore, tenant: true, handle: s.restorePage},
		{method: "POST", path: t + "/restore", perm: access.Restore, tenant: true, handle: s.restoreForm},
		{method: "GET", path: t + "/restores/:id", perm: access.Restore, tenant: true, handle: s.restoreJobPage},
		{method: "GET", path: consolePath + "/admin", perm: access.ManageUsers, handle: s.adminPage},
		{method: "POST", path: consolePath + "/admin/users", perm: access.ManageUsers, handle: s.addUserForm},
		{method: "POST", path: consolePath + "/admin/users/:name", perm: access.ManageUsers, handle: s.setUserForm},
		{method: "POST", path: consolePath + "/admin/tokens", perm: access.ManageUsers, handle: s.createTokenForm},
		{method: "POST", path: consolePath + "/admin/tokens/:id/revoke", perm: access.ManageUsers, handle: s.revokeTokenForm},
	}
}

// registerConsole adds what needs no session: the sign-in page and the
// static assets.
func (s *Server) registerConsole() {
	static, _ := fs.Sub(consoleFS, "console/static")
	s.e.GET(consolePath+"/static/*", func(c *echo.Context) error {
		name := c.Param("*")
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return echo.ErrNotFound
		}
		ct := "text/css; charset=utf-8"
		if strings.HasSuffix(name, ".js") {
			ct = "text/javascript; charset=utf-8"
		}
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, ct, b)
	})
	s.e.GET(consolePath+"/login", s.loginPage)
	s.e.POST(consolePath+"/login", s.loginForm)
	s.e.GET("/", func(c *echo.Context) error { return c.Redirect(http.StatusSeeOther, consolePath) })
}

func (s *Server) loginPage(c *echo.Context) error {
	return s.render(c, http.StatusOK, "login.html", nil, "Sign in", map[string]string{"Next": safeNext(c.QueryParam("next"))})
}

// safeNext keeps a sign-in's return address inside the console.
func safeNext(n string) string {
	if !strings.HasPrefix(n, consolePath) || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") {
		return consolePath
	}
	return n
}

func (s *Server) loginForm(c *echo.Context) error {
	// A sign-in posted from another site would sign the browser in as the
	// other site chooses (login CSRF): a browser says where a form came
	// from — in Sec-Fetch-Site, which a page cannot change, or else in
	// Origin ("null" when the posting page hides itself).
	req := c.Request()
	refused := holdfast.E("sign in", holdfast.Permission, "a sign-in from another site is refused")
	if site := req.Header.Get("Sec-Fetch-Site"); site != "" {
		if site != "same-origin" && site != "none" {
			return refused
		}
	} else if o := req.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != req.Host {
			return refused
		}
	}
	user, pw, code := c.FormValue("user"), c.FormValue("password"), c.FormValue("totp")
	_, err := s.signIn(c, user, pw, code)
	if err != nil {
		msg := "The user name, password or code is wrong, or the user is locked for a while."
		status := http.StatusUnauthorized
		switch {
		case errors.Is(err, errThrottled):
			msg, status = "Too many failed sign-ins from this address: wait 15 minutes.", http.StatusTooManyRequests
		case errors.Is(err, access.ErrNeedsTOTP):
			msg = "An admin signs in with a second factor: give the code from your authenticator app (enrol one with holdfast user totp NAME)."
		}
		return s.render(c, status, "login.html", nil, "Sign in", map[string]string{"Next": safeNext(c.FormValue("next")), "Error": msg, "User": user})
	}
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

func (s *Server) consoleLogout(c *echo.Context, p *access.Principal) error {
	s.endSession(c)
	return c.Redirect(http.StatusSeeOther, consolePath+"/login")
}

// tenantRow is a tenant on the dashboard.
type tenantRow struct {
	Name        string
	Error       string
	Accounts    int
	Departed    int
	Late        int // account × workload behind the RPO
	LastRun     *record.RunFinished
	LastCapture time.Time // the newest successful capture of any account
	Running     []string
	Versions    int
	Bytes       int64
	Health      *app.Health
	Serious     int // high and critical findings
	Trouble     bool
}

func (s *Server) dashboardPage(c *echo.Context, p *access.Principal) error {
	ctx := c.Request().Context()
	mine, err := s.tenantsOf(p)
	if err != nil {
		return err
	}
	running := map[string][]string{}
	if s.state != nil {
		st := s.state.Status()
		for k, j := range st.Running {
			what := string(j.Kind)
			if pr, ok := st.Progress[k]; ok {
				what += fmt.Sprintf(" (%d items so far, %d of %d accounts done", pr.ItemsNew+pr.ItemsChanged, pr.AccountsDone, pr.Accounts)
				if pr.RemainingS > 0 {
					what += fmt.Sprintf(", about %s left", (time.Duration(pr.RemainingS) * time.Second).Round(time.Second))
				}
				what += ")"
			}
			running[j.Tenant] = append(running[j.Tenant], what)
		}
	}
	rows := []tenantRow{}
	for _, ts := range s.app.StatusAll(ctx, mine) {
		r := tenantRow{Name: ts.Tenant, Error: ts.Error, Running: running[ts.Tenant]}
		if ts.Status != nil {
			for _, a := range ts.Accounts {
				if a.Person() {
					r.Accounts++
				}
				if a.State != "" && a.State != holdfast.StateActive {
					r.Departed++
				}
				for _, t := range a.LastSuccess {
					if t.After(r.LastCapture) {
						r.LastCapture = t
					}
				}
			}
			for _, w := range ts.Workloads {
				r.Versions += w.Versions
				r.Bytes += w.Bytes
			}
			r.LastRun = ts.LastRun
		}
		if late, err := s.app.LateBackups(ctx, ts.Tenant); err == nil {
			r.Late = len(late)
		}
		if h, err := s.app.Health(ctx, ts.Tenant); err == nil {
			r.Health = h
			r.Serious = h.Findings["high"] + h.Findings["critical"]
		}
		r.Trouble = r.Error != "" || r.Late > 0 || r.LastRun == nil || r.LastRun.Status != "completed" || r.Serious > 0 ||
			(r.Health != nil && !r.Health.Verified.IsZero() && !r.Health.VerifyOK)
		rows = append(rows, r)
	}
	// A tenant in trouble first.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Trouble && !rows[j].Trouble })
	return s.render(c, http.StatusOK, "dashboard.html", p, "Dashboard", rows)
}

// cell is one account × workload on the tenant page.
type cell struct {
	Last time.Time
	Late bool
	None bool
}

type accountRow struct {
	UPN, State, Kind string
	Cells            []cell
}

func (s *Server) tenantPage(c *echo.Context, p *access.Principal) error {
	ctx := c.Request().Context()
	tenant := c.Param("tenant")
	st, err := s.app.KeptStatus(ctx, tenant)
	if err != nil {
		return err
	}
	late := map[string]bool{}
	if l, err := s.app.LateBackups(ctx, tenant); err == nil {
		for _, x := range l {
			late[x.Account+"|"+string(x.Workload)] = true
		}
	}
	workloads := []holdfast.Workload{}
	for _, w := range holdfast.Workloads {
		if _, ok := st.Workloads[w]; ok {
			workloads = append(workloads, w)
		}
	}
	var rows []accountRow
	for _, a := range st.Accounts {
		r := accountRow{UPN: a.UPN, State: a.State, Kind: a.Kind}
		for _, w := range workloads {
			t, ok := a.LastSuccess[w]
			r.Cells = append(r.Cells, cell{Last: t, None: !ok, Late: late[a.UPN+"|"+string(w)]})
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].UPN < rows[j].UPN })
	runs, err := s.newestRuns(ctx, tenant, 20)
	if err != nil {
		return err
	}
	sc, err := s.app.Schedule(ctx, tenant)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "tenant.html", p, "Tenant "+tenant, map[string]any{
		"Tenant": tenant, "Workloads": workloads, "Accounts": rows, "Runs": runs, "Schedule": sc, "Status": st,
	})
}

func (s *Server) runPage(c *echo.Context, p *access.Principal) error {
	d, err := s.app.Run(c.Request().Context(), c.Param("tenant"), c.Param("run"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "run.html", p, "Run "+d.Started.Run, map[string]any{"Tenant": c.Param("tenant"), "Run": d})
}

// queryProblem is a malformed query shown at its position.
type queryProblem struct {
	Before, At, After, Msg string
}

func (s *Server) searchPage(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	q := c.QueryParam("q")
	all := c.QueryParam("all") == "1"
	data := map[string]any{"Tenant": tenant, "Q": q, "All": all}
	if strings.TrimSpace(q) != "" {
		res, err := s.app.Search(c.Request().Context(), actor(c, p), tenant, app.SearchOptions{Query: q, Limit: 100, AllVersions: all})
		if se := (*kql.SyntaxError)(nil); errors.As(err, &se) {
			pos := min(max(se.Pos, 0), len(q))
			at := ""
			if pos < len(q) {
				at = q[pos : pos+1]
			}
			data["Problem"] = queryProblem{Before: q[:pos], At: at, After: q[min(pos+1, len(q)):], Msg: "expected " + se.Msg}
			return s.render(c, http.StatusBadRequest, "search.html", p, "Search", data)
		}
		if err != nil {
			return err
		}
		data["Result"] = res
		kinds := map[string]int{}
		months := map[string]int{}
		for _, h := range res.Hits {
			kinds[h.Kind]++
			if !h.Date.IsZero() {
				months[h.Date.UTC().Format("2006-01")]++
			}
		}
		data["Kinds"], data["Months"] = counted(kinds), counted(months)
	}
	return s.render(c, http.StatusOK, "search.html", p, "Search", data)
}

type count struct {
	Key string
	N   int
}

func counted(m map[string]int) []count {
	out := make([]count, 0, len(m))
	for k, n := range m {
		out = append(out, count{k, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (s *Server) itemPage(c *echo.Context, p *access.Principal) error {
	tenant, id := c.Param("tenant"), c.QueryParam("id")
	h, err := s.app.Item(c.Request().Context(), actor(c, p), tenant, id)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "item.html", p, "Item", map[string]any{"Tenant": tenant, "Item": h})
}

// mailPolicy is what of a captured message's HTML is shown: text and
// layout, links (never followed for you: no-referrer, a new context), and
// no script, event handler, form, style sheet or remote image — the page
// is also served under a CSP that forbids them, so a policy slip stays
// inert.
var mailPolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowURLSchemes("mailto", "https", "http")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowDataURIImages()
	// A remote image is a tracking pixel until proven otherwise: it is
	// not fetched (the frame's CSP blocks it too), only inline images show.
	p.RewriteSrc(func(u *url.URL) {
		if u.Scheme != "data" {
			*u = url.URL{Scheme: "data", Opaque: ","}
		}
	})
	return p
}()

// mailBodyCSP: the body frame runs nothing and fetches nothing.
const mailBodyCSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

// mailBodyPage is a message's body, sanitised, for the item viewer's
// sandboxed frame. Reading it is an access to content, logged like the
// download.
func (s *Server) mailBodyPage(c *echo.Context, p *access.Principal) error {
	b, _, err := s.readMail(c, p)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	out.WriteString(`<!doctype html><meta charset="utf-8"><style>body{font:14px/1.45 system-ui,sans-serif;margin:12px;color:#111;background:#fff;word-wrap:break-word}pre{white-space:pre-wrap}img{max-width:100%}</style>`)
	if strings.TrimSpace(b.HTML) != "" {
		out.Write(mailPolicy.SanitizeBytes([]byte(b.HTML)))
	} else {
		out.WriteString("<pre>")
		template.HTMLEscape(&out, []byte(b.Plain))
		out.WriteString("</pre>")
	}
	pageHeaders(c.Response().Header(), mailBodyCSP)
	return c.HTMLBlob(http.StatusOK, out.Bytes())
}

// readMail reads a captured message (the read logged, as every content
// read is) and its parts.
func (s *Server) readMail(c *echo.Context, p *access.Principal) (index.MailBody, uint64, error) {
	const op = "item"
	n, err := strconv.ParseUint(c.QueryParam("record"), 10, 64)
	if err != nil {
		return index.MailBody{}, 0, holdfast.Errorf(op, holdfast.Invalid, "record %q is not a record index", c.QueryParam("record"))
	}
	var raw bytes.Buffer
	err = s.app.ItemContent(c.Request().Context(), actor(c, p), c.Param("tenant"), app.ContentOptions{Item: c.QueryParam("id"), Record: n},
		func(app.ContentInfo) io.Writer { return &raw })
	if err != nil {
		return index.MailBody{}, 0, err
	}
	return index.ReadMailBody(raw.Bytes()), n, nil
}

// attachmentsPage lists a message's attached files.
func (s *Server) attachmentsPage(c *echo.Context, p *access.Principal) error {
	b, n, err := s.readMail(c, p)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "attachments.html", p, "Attachments", map[string]any{"Tenant": c.Param("tenant"), "Item": c.QueryParam("id"), "Record": n,
		"Attachments": b.Attachments, "Unparsed": b.Unparsed})
}

// attachment downloads one attached file of a message, always as an
// attachment, never to be rendered.
func (s *Server) attachment(c *echo.Context, p *access.Principal) error {
	const op = "attachment"
	b, _, err := s.readMail(c, p)
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(c.QueryParam("n"))
	if err != nil || i < 0 || i >= len(b.Attachments) {
		return holdfast.Errorf(op, holdfast.NotFound, "the message has %d attached files; no %q", len(b.Attachments), c.QueryParam("n"))
	}
	a := b.Attachments[i]
	if a.Cut {
		return holdfast.E(op, holdfast.Invalid, "the attachment is larger than 32 MiB: download the whole message (as captured) and open it in a mail program")
	}
	attachmentHeaders(c.Response().Header(), a.Name)
	return c.Blob(http.StatusOK, "application/octet-stream", a.Data)
}

// when shows a time in UTC; the page's script adds the reader's own zone
// beside it.
func when(t time.Time) template.HTML {
	if t.IsZero() {
		return "never"
	}
	u := t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s UTC</time>`, u.Format(time.RFC3339), u.Format("2006-01-02 15:04")))
}

// ago is how long ago t was, roughly.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
