package web

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/schedule"
	"github.com/labstack/echo/v5"
)

// The technician's, the auditor's and the admin's pages: settings and
// jobs, restores, reports, findings, the audit log, users and tokens.

// back redirects to a console page with a sentence saying what was done.
func back(c *echo.Context, path, done string) error {
	return c.Redirect(http.StatusSeeOther, consolePath+path+"?done="+url.QueryEscape(done))
}

// reportRow is an issued report with its verification.
type reportRow struct {
	record.ReportIssued
	Valid   bool
	Problem string
	Signed  string
}

func (s *Server) reportsPage(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	list, err := s.issued(c)
	if err != nil {
		return err
	}
	slices.Reverse(list)
	var rows []reportRow
	for i, r := range list {
		rows = append(rows, reportRow{ReportIssued: r})
		row := &rows[i]
		if i >= 20 {
			row.Problem = "not checked on this page (older than the 20 newest): download it and verify it"
			continue
		}
		pdf, err := os.ReadFile(r.File)
		if err != nil {
			row.Problem = "the file is not on this machine: " + err.Error()
			continue
		}
		if sum := sha256.Sum256(pdf); hex.EncodeToString(sum[:]) != r.SHA256 {
			row.Problem = "the file's SHA-256 is " + hex.EncodeToString(sum[:]) + ", not the one logged"
			continue
		}
		v, err := s.app.VerifyReport(c.Request().Context(), tenant, pdf, nil)
		if err != nil {
			row.Problem = err.Error()
			continue
		}
		row.Valid, row.Signed = true, v.SignatureInfo.Signer
	}
	var cases []string
	if holds, err := s.app.Holds(c.Request().Context(), tenant); err == nil {
		for _, h := range holds {
			cases = append(cases, h.Case)
		}
	}
	return s.render(c, http.StatusOK, "reports.html", p, "Reports", map[string]any{"Tenant": tenant, "Reports": rows, "Kinds": reports.Kinds,
		"Cases": cases, "Done": c.QueryParam("done")})
}

func (s *Server) reportForm(c *echo.Context, p *access.Principal) error {
	rec, err := s.signReport(c, p, c.FormValue("kind"), c.FormValue("from"), c.FormValue("to"), c.FormValue("case"))
	if err != nil {
		return err
	}
	return back(c, "/tenants/"+c.Param("tenant")+"/reports", "Issued the "+rec.Kind+" report, SHA-256 "+rec.SHA256)
}

// fixAt is where a finding's rule is acted on, in the console.
func fixAt(rule string) (string, string) {
	switch {
	case strings.HasPrefix(rule, "retention"), strings.HasPrefix(rule, "departed-retention"), rule == "worm-required":
		return "settings", "retention settings"
	case strings.HasPrefix(rule, "hold-"):
		return "holds", "holds"
	case strings.HasPrefix(rule, "restore-test"):
		return "settings#jobs", "run a restore test"
	case strings.HasPrefix(rule, "verify"):
		return "settings#jobs", "run a verify"
	case rule == "failed-items":
		return "#runs", "the runs and their failed items"
	}
	return "#coverage", "coverage: connect, back up"
}

type findingRow struct {
	policy.Finding
	Fix, FixText string
}

func (s *Server) findingsPage(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	b, err := loadPolicies()
	if err != nil {
		return err
	}
	res, err := s.app.EvaluatePolicies(c.Request().Context(), actor(c, p), tenant, b, nil)
	if err != nil {
		return err
	}
	var rows []findingRow
	bySeverity := map[string]int{}
	for _, f := range res.Findings {
		fix, text := fixAt(f.Rule)
		rows = append(rows, findingRow{Finding: f, Fix: fix, FixText: text})
		bySeverity[f.Severity]++
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return policy.SeverityRank(rows[i].Severity) > policy.SeverityRank(rows[j].Severity)
	})
	var counts []count
	for i := len(policy.Severities) - 1; i >= 0; i-- {
		counts = append(counts, count{policy.Severities[i], bySeverity[policy.Severities[i]]})
	}
	return s.render(c, http.StatusOK, "findings.html", p, "Findings", map[string]any{"Tenant": tenant, "Findings": rows, "Counts": counts, "Result": res})
}

// auditRow is one record of the audit log, as the page shows it.
type auditRow struct {
	Index uint64
	Time  time.Time
	Type  string
	Actor string
	What  string
}

// auditPageSize is how many records a page of the audit log shows.
const auditPageSize = 50

func (s *Server) auditPage(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	who := strings.ToLower(strings.TrimSpace(c.QueryParam("who")))
	what := c.QueryParam("what")
	from, err := parseTime("from", c.QueryParam("from"), time.Time{})
	if err != nil {
		return err
	}
	to, err := parseTime("to", c.QueryParam("to"), time.Time{})
	if err != nil {
		return err
	}
	if !to.IsZero() && len(c.QueryParam("to")) == len("2006-01-02") {
		to = to.Add(24*time.Hour - time.Nanosecond) // the whole day
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(page, 0)
	var rows []auditRow
	types := auditTypes
	if what != "" {
		if !slices.Contains(auditTypes, what) {
			// Only procedures and accesses: never the items themselves.
			return holdfast.Errorf("audit", holdfast.Invalid, "%q is not a kind of audit record", what)
		}
		types = []string{what}
	}
	_, err = s.app.Records(c.Request().Context(), tenant, app.LogOptions{Types: types}, func(raw []byte, r record.Record) error {
		if (!from.IsZero() && r.Time.Before(from)) || (!to.IsZero() && r.Time.After(to)) {
			return nil
		}
		var d struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
			Case   string `json:"case"`
			Query  string `json:"query"`
			Change string `json:"change"`
			User   string `json:"user"`
			Run    string `json:"run"`
			Kind   string `json:"kind"`
			Status string `json:"status"`
			Detail string `json:"detail"`
		}
		json.Unmarshal(r.Data, &d)
		if who != "" && !strings.Contains(strings.ToLower(d.Actor), who) {
			return nil
		}
		parts := []string{}
		for _, x := range []string{d.Action, d.Change, d.User, d.Case, d.Kind, d.Run, d.Status, d.Query, d.Detail} {
			if x != "" {
				parts = append(parts, x)
			}
		}
		rows = append(rows, auditRow{Index: r.Index, Time: r.Time, Type: r.Type, Actor: d.Actor, What: strings.Join(parts, " · ")})
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(rows) // newest first
	total := len(rows)
	lo := min(page*auditPageSize, total)
	hi := min(lo+auditPageSize, total)
	q := c.QueryParams()
	pageURL := func(n int) string {
		q.Set("page", strconv.Itoa(n))
		return "?" + q.Encode()
	}
	data := map[string]any{"Tenant": tenant, "Rows": rows[lo:hi], "Total": total, "From": lo + 1, "To": hi, "Types": auditTypes,
		"Who": c.QueryParam("who"), "What": what, "FromDate": c.QueryParam("from"), "ToDate": c.QueryParam("to")}
	if lo > 0 {
		data["Prev"] = pageURL(page - 1)
	}
	if hi < total {
		data["Next"] = pageURL(page + 1)
	}
	return s.render(c, http.StatusOK, "audit.html", p, "Audit log", data)
}

func (s *Server) settingsPage(c *echo.Context, p *access.Principal) error {
	ctx := c.Request().Context()
	tenant := c.Param("tenant")
	sc, err := s.app.Schedule(ctx, tenant)
	if err != nil {
		return err
	}
	ps, err := s.app.PolicySettings(ctx, tenant)
	if err != nil {
		return err
	}
	clouds, err := s.app.Clouds()
	if err != nil {
		return err
	}
	data := map[string]any{"Tenant": tenant, "Schedule": sc, "Policy": ps, "Done": c.QueryParam("done"), "Kinds": schedule.Kinds,
		"Scheduler": s.state != nil, "Connectable": s.probe != nil, "Clouds": clouds}
	if c.QueryParam("test") == "1" && s.probe != nil {
		probe, required, err := s.probe(tenant)
		if err != nil {
			data["TestError"] = err.Error()
		} else if res, err := s.app.TestTenant(ctx, tenant, probe, required); res != nil {
			data["Test"] = res
		} else {
			data["TestError"] = err.Error()
		}
	}
	return s.render(c, http.StatusOK, "settings.html", p, "Settings", data)
}

// formText is a form field to change, or nil when the form left it out.
func formText(c *echo.Context, name string) *string {
	if _, ok := c.Request().PostForm[name]; !ok {
		return nil
	}
	v := strings.TrimSpace(c.FormValue(name))
	return &v
}

func formBool(c *echo.Context, name string) *bool {
	v := c.FormValue(name) == "on"
	return &v
}

func formNumber[T int | float64](c *echo.Context, name string) (*T, error) {
	t := formText(c, name)
	if t == nil || *t == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(*t, 64)
	if err != nil {
		return nil, holdfast.Errorf("settings", holdfast.Invalid, "%s %q is not a number", name, *t)
	}
	v := T(f)
	return &v, nil
}

func (s *Server) scheduleForm(c *echo.Context, p *access.Principal) error {
	if _, err := c.FormValues(); err != nil {
		return holdfast.E("schedule", holdfast.Invalid, err)
	}
	ch := app.ScheduleChange{Backup: formText(c, "backup"), BackupJitter: formText(c, "backup_jitter"), PolicyAfterBackup: formBool(c, "policy_after_backup"),
		Verify: formText(c, "verify"), RestoreTest: formText(c, "restore_test"), Report: formText(c, "report"), ReportKind: formText(c, "report_kind"),
		Paused: formBool(c, "paused")}
	var err error
	if ch.VerifyReadPercent, err = formNumber[float64](c, "verify_read_percent"); err != nil {
		return err
	}
	if ch.RestoreSample, err = formNumber[int](c, "restore_sample"); err != nil {
		return err
	}
	if _, err := s.app.SetSchedule(c.Request().Context(), actor(c, p), c.Param("tenant"), ch); err != nil {
		return err
	}
	return back(c, "/tenants/"+c.Param("tenant")+"/settings", "Schedule saved (a schedule.set record); the service picks it up within 5 minutes")
}

func (s *Server) policyForm(c *echo.Context, p *access.Principal) error {
	if _, err := c.FormValues(); err != nil {
		return holdfast.E("policy", holdfast.Invalid, err)
	}
	ch := app.SettingsChange{Profile: formText(c, "profile"), Workloads: formText(c, "workloads"), RequireWORM: formBool(c, "require_worm")}
	var err error
	if ch.RetentionDays, err = formNumber[int](c, "retention_days"); err != nil {
		return err
	}
	if ch.RPOHours, err = formNumber[float64](c, "rpo_hours"); err != nil {
		return err
	}
	if ch.RequiredYears, err = formNumber[int](c, "required_years"); err != nil {
		return err
	}
	if _, err := s.app.SetPolicy(c.Request().Context(), actor(c, p), c.Param("tenant"), ch); err != nil {
		return err
	}
	return back(c, "/tenants/"+c.Param("tenant")+"/settings", "Retention settings saved (a policy.settings record)")
}

func (s *Server) connectForm(c *echo.Context, p *access.Principal) error {
	b := connectionBody{TenantID: c.FormValue("tenant_id"), ClientID: c.FormValue("client_id"), ClientSecret: c.FormValue("client_secret"),
		Cloud: c.FormValue("cloud"), GraphEndpoint: c.FormValue("graph_endpoint"), LoginEndpoint: c.FormValue("login_endpoint"), CAFile: c.FormValue("ca_file")}
	if _, err := s.connectTenant(p, c.Param("tenant"), b); err != nil {
		return err
	}
	s.log.Info("tenant connected", "tenant", c.Param("tenant"), "by", p.User, "address", c.RealIP())
	return back(c, "/tenants/"+c.Param("tenant")+"/settings", "Connected; test the connection to see what the app may read")
}

func (s *Server) runNowForm(c *echo.Context, p *access.Principal) error {
	kind, err := s.askRun(c, p, c.FormValue("kind"))
	if err != nil {
		return err
	}
	return back(c, "/tenants/"+c.Param("tenant"), "The "+string(kind)+" is queued; it shows under Running now when it starts")
}

func (s *Server) restorePage(c *echo.Context, p *access.Principal) error {
	ctx := c.Request().Context()
	tenant := c.Param("tenant")
	st, err := s.app.KeptStatus(ctx, tenant)
	if err != nil {
		return err
	}
	var accounts []string
	for _, a := range st.Accounts {
		accounts = append(accounts, a.UPN)
	}
	sort.Strings(accounts)
	// The moments to restore to: the captured runs, newest first.
	runs, err := s.newestRuns(ctx, tenant, 50)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "restore.html", p, "Restore", map[string]any{"Tenant": tenant, "Accounts": accounts, "Runs": runs,
		"Workloads": holdfast.Workloads, "Zip": access.Allowed(p.Role, access.RestoreZip), "Into": s.into != nil})
}

func (s *Server) restoreForm(c *echo.Context, p *access.Principal) error {
	b := restoreRequest{Account: c.FormValue("account"), Workload: c.FormValue("workload"), Path: c.FormValue("path"), Item: c.FormValue("item"),
		Run: c.FormValue("run"), At: c.FormValue("at"), IncludeDeleted: c.FormValue("include_deleted") == "on", TargetAccount: c.FormValue("target_account")}
	zip := c.FormValue("target") == "zip"
	if zip && !access.Allowed(p.Role, access.RestoreZip) {
		return holdfast.Errorf("restore", holdfast.Permission, "a %s may not %s: restore into the tenant", p.Role, access.RestoreZip)
	}
	id := s.startRestore(c, p, b, zip)
	return c.Redirect(http.StatusSeeOther, consolePath+"/tenants/"+c.Param("tenant")+"/restores/"+id)
}

// restoreJobPage is a restore's progress, then its outcome.
func (s *Server) restoreJobPage(c *echo.Context, p *access.Principal) error {
	j, ok := s.jobs.get(c.Param("tenant"), c.Param("id"))
	if !ok || j.Kind != "restore" {
		return holdfast.Errorf("restore", holdfast.NotFound, "no restore %q ran in this service since it started (its record is in the audit log)", c.Param("id"))
	}
	return s.render(c, http.StatusOK, "restored.html", p, "Restore", map[string]any{"Tenant": c.Param("tenant"), "Job": j, "Result": j.Restore})
}

func (s *Server) adminPage(c *echo.Context, p *access.Principal) error {
	users, err := s.access.Users()
	if err != nil {
		return err
	}
	tokens, err := s.access.Tokens()
	if err != nil {
		return err
	}
	sort.Slice(tokens, func(i, j int) bool { return cmp.Compare(tokens[i].User, tokens[j].User) < 0 })
	tenants, err := s.app.Tenants()
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "admin.html", p, "Users and tokens", map[string]any{"Users": users, "Tokens": tokens, "Roles": access.Roles,
		"Tenants": tenants, "Done": c.QueryParam("done"), "Secret": c.Get("secret")})
}

func (s *Server) addUserForm(c *echo.Context, p *access.Principal) error {
	form, err := c.FormValues()
	if err != nil {
		return holdfast.E("user add", holdfast.Invalid, err)
	}
	role, err := access.ParseRole(c.FormValue("role"))
	if err != nil {
		return err
	}
	var tenants []string
	if role != access.Admin {
		tenants = form["tenant"]
	}
	name := c.FormValue("name")
	if err := s.app.AddUser(c.Request().Context(), actor(c, p), name, role, tenants, c.FormValue("password")); err != nil {
		return err
	}
	return back(c, "/admin", "Added "+string(role)+" "+name+" (an access.changed record in every tenant the user reaches)")
}

func (s *Server) setUserForm(c *echo.Context, p *access.Principal) error {
	disabled := c.FormValue("disabled") == "true"
	name := c.Param("name")
	if err := s.app.SetUserDisabled(c.Request().Context(), actor(c, p), name, disabled); err != nil {
		return err
	}
	verb := "Enabled"
	if disabled {
		verb = "Disabled"
	}
	return back(c, "/admin", verb+" "+name)
}

func (s *Server) createTokenForm(c *echo.Context, p *access.Principal) error {
	days, err := strconv.Atoi(cmp.Or(c.FormValue("days"), "90"))
	if err != nil {
		return holdfast.Errorf("token create", holdfast.Invalid, "days %q is not a number", c.FormValue("days"))
	}
	secret, tok, err := s.app.CreateToken(c.Request().Context(), actor(c, p), c.FormValue("user"), c.FormValue("name"), "", nil, time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	// The secret is shown once, on this answer, never in a URL.
	c.Set("secret", map[string]string{"Token": secret, "ID": tok.ID, "User": tok.User})
	return s.adminPage(c, p)
}

func (s *Server) revokeTokenForm(c *echo.Context, p *access.Principal) error {
	if err := s.app.RevokeToken(c.Request().Context(), actor(c, p), c.Param("id")); err != nil {
		return err
	}
	return back(c, "/admin", "Revoked token "+c.Param("id"))
}

func (s *Server) passwordPage(c *echo.Context, p *access.Principal) error {
	return s.render(c, http.StatusOK, "password.html", p, "Change your password", map[string]string{"Done": c.QueryParam("done")})
}

func (s *Server) passwordForm(c *echo.Context, p *access.Principal) error {
	if c.FormValue("password") != c.FormValue("again") {
		return s.render(c, http.StatusBadRequest, "password.html", p, "Change your password", map[string]string{"Error": "The two new passwords differ."})
	}
	err := s.app.ChangePassword(c.Request().Context(), actor(c, p), p.User, c.FormValue("current"), c.FormValue("password"))
	switch {
	case errors.Is(err, access.ErrUnauthenticated):
		return s.render(c, http.StatusForbidden, "password.html", p, "Change your password", map[string]string{"Error": "The current password is wrong."})
	case err != nil:
		return err
	}
	return back(c, "/password", "Your password is changed (an access.changed record in every tenant you reach)")
}
