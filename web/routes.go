package web

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/alert"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
	"github.com/labstack/echo/v5"
)

const api = "/api/v1"

// table is every API route with its permission: the route test walks it
// against the router, and the OpenAPI document against both.
func (s *Server) table() []route {
	t := api + "/tenants/:tenant"
	return []route{
		{"GET", api + "/openapi.json", "", false, s.openapi},
		{"GET", api + "/me", "", false, s.me},
		{"GET", api + "/session", "", false, s.session},
		{"POST", api + "/logout", "", false, s.logout},
		{"GET", api + "/tenants", access.ReadTenants, false, s.tenants},
		{"POST", api + "/tenants", access.AddTenants, false, s.addTenant},
		{"GET", api + "/roles", "", false, s.roles},
		{"GET", api + "/status", access.ReadTenants, false, s.statusAll},
		{"GET", "/metrics", access.ReadMetrics, false, s.metricsPage},
		{"GET", api + "/alerts/deliveries", access.ReadAlerts, false, s.deliveries},
		{"GET", api + "/users", access.ManageUsers, false, s.users},
		{"POST", api + "/users", access.ManageUsers, false, s.addUser},
		{"PATCH", api + "/users/:name", access.ManageUsers, false, s.setUser},
		{"GET", api + "/tokens", access.ManageUsers, false, s.tokens},
		{"POST", api + "/tokens", access.ManageUsers, false, s.createToken},
		{"DELETE", api + "/tokens/:id", access.ManageUsers, false, s.revokeToken},
		{"GET", t + "/status", access.ReadTenants, true, s.status},
		{"PUT", t + "/connection", access.ConnectTenant, true, s.setConnection},
		{"POST", t + "/test", access.ConnectTenant, true, s.testTenant},
		{"GET", t + "/schedule", access.ReadSchedule, true, s.schedule},
		{"PUT", t + "/schedule", access.WriteSchedule, true, s.setSchedule},
		{"POST", t + "/verify", access.RunJobs, true, s.verify},
		{"POST", t + "/runs", access.RunJobs, true, s.runNow},
		{"GET", t + "/runs", access.ReadTenants, true, s.runs},
		{"GET", t + "/runs/live", access.ReadTenants, true, s.live},
		{"GET", t + "/search", access.ReadContent, true, s.search},
		{"GET", t + "/item", access.ReadContent, true, s.item},
		{"GET", t + "/item/content", access.ReadContent, true, s.itemContent},
		{"GET", t + "/runs/:run", access.ReadTenants, true, s.run},
		{"GET", t + "/holds", access.ReadHolds, true, s.holds},
		{"POST", t + "/holds", access.WriteHolds, true, s.placeHold},
		{"POST", t + "/holds/:case/release", access.WriteHolds, true, s.releaseHold},
		{"GET", t + "/disposals", access.ReadDisposals, true, s.disposals},
		{"GET", t + "/disposals/plan", access.ProposeDisposal, true, s.disposalPlan},
		{"POST", t + "/disposals", access.ProposeDisposal, true, s.proposeDisposal},
		{"POST", t + "/disposals/:proposal/review", access.ReviewDisposal, true, s.reviewDisposal},
		{"POST", t + "/disposals/:proposal/execute", access.ExecuteDisposal, true, s.executeDisposal},
		{"GET", t + "/checkpoint", access.ReadProofs, true, s.checkpoint},
		{"GET", t + "/proofs/records/:index", access.ReadProofs, true, s.proof},
		{"GET", t + "/witnesses", access.ReadProofs, true, s.witnesses},
		{"POST", t + "/witnesses", access.WriteWitness, true, s.addWitness},
		{"DELETE", t + "/witnesses", access.WriteWitness, true, s.removeWitness},
		{"GET", t + "/findings", access.ReadFindings, true, s.findings},
		{"GET", api + "/policies", access.ReadFindings, false, s.policies},
		{"POST", api + "/policies/test", access.ReadFindings, false, s.testPolicies},
		{"GET", t + "/policy", access.ReadFindings, true, s.policySettings},
		{"PUT", t + "/policy", access.WritePolicy, true, s.setPolicySettings},
		{"GET", t + "/accounts", access.ReadTenants, true, s.accounts},
		{"GET", t + "/audit", access.ReadAudit, true, s.audit},
		{"POST", t + "/reports", access.Reports, true, s.issueReport},
		{"GET", t + "/reports", access.Reports, true, s.reports},
		{"GET", t + "/reports/:sha256", access.Reports, true, s.downloadReport},
		{"POST", t + "/reports/verify", access.Reports, true, s.verifyReport},
		{"POST", t + "/exports", access.Export, true, s.export},
		{"GET", t + "/exports", access.Export, true, s.exports},
		{"GET", t + "/exports/:id", access.Export, true, s.downloadExport},
		{"GET", t + "/exports/:id/status", access.Export, true, s.exportStatus},
		{"POST", t + "/restores", access.Restore, true, s.restoreToTenant},
		{"POST", t + "/restores/zip", access.RestoreZip, true, s.restoreToZip},
		{"GET", t + "/restores/:id", access.RestoreZip, true, s.downloadRestore},
	}
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// decode reads a JSON request body of at most 1 MB into v, refusing
// members v does not have.
func decode(c *echo.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return holdfast.E("api", holdfast.Invalid, err, "request body")
	}
	return nil
}

func (s *Server) healthz(c *echo.Context) error {
	out := map[string]any{"status": "ok"}
	if s.state != nil {
		out["service"] = s.state.Status()
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) metricsPage(c *echo.Context, p *access.Principal) error {
	s.metrics.handler().ServeHTTP(c.Response(), c.Request())
	return nil
}

// deliveries are the alert delivery attempts since the service started,
// those of the principal's tenants.
func (s *Server) deliveries(c *echo.Context, p *access.Principal) error {
	out := []alert.Attempt{}
	if s.alerts != nil {
		for _, a := range s.alerts.Attempts() {
			if p.Tenant(a.Tenant) {
				out = append(out, a)
			}
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"attempts": out})
}

func (s *Server) openapi(c *echo.Context, p *access.Principal) error {
	return c.Blob(http.StatusOK, "application/json", openAPI)
}

func (s *Server) me(c *echo.Context, p *access.Principal) error {
	return c.JSON(http.StatusOK, p)
}

func (s *Server) tenants(c *echo.Context, p *access.Principal) error {
	out, err := s.tenantsOf(p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tenants": out})
}

// tenantsOf lists the tenants p may see.
func (s *Server) tenantsOf(p *access.Principal) ([]string, error) {
	all, err := s.app.Tenants()
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, t := range all {
		if p.Tenant(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// statusAll is the status of every tenant the principal may see: the
// dashboard's one request.
func (s *Server) statusAll(c *echo.Context, p *access.Principal) error {
	mine, err := s.tenantsOf(p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tenants": s.app.StatusAll(c.Request().Context(), mine)})
}

func (s *Server) status(c *echo.Context, p *access.Principal) error {
	st, err := s.app.KeptStatus(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) schedule(c *echo.Context, p *access.Principal) error {
	sc, err := s.app.Schedule(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sc)
}

// scheduleChange is the body of PUT …/schedule: the members to change.
type scheduleChange struct {
	Backup            *string  `json:"backup"`
	BackupJitter      *string  `json:"backup_jitter"`
	PolicyAfterBackup *bool    `json:"policy_after_backup"`
	Verify            *string  `json:"verify"`
	VerifyReadPercent *float64 `json:"verify_read_percent"`
	RestoreTest       *string  `json:"restore_test"`
	RestoreSample     *int     `json:"restore_sample"`
	Report            *string  `json:"report"`
	ReportKind        *string  `json:"report_kind"`
	Paused            *bool    `json:"paused"`
}

func (s *Server) setSchedule(c *echo.Context, p *access.Principal) error {
	var b scheduleChange
	if err := decode(c, &b); err != nil {
		return err
	}
	sc, err := s.app.SetSchedule(c.Request().Context(), actor(c, p), c.Param("tenant"), app.ScheduleChange{
		Backup: b.Backup, BackupJitter: b.BackupJitter, PolicyAfterBackup: b.PolicyAfterBackup, Verify: b.Verify,
		VerifyReadPercent: b.VerifyReadPercent, RestoreTest: b.RestoreTest, RestoreSample: b.RestoreSample,
		Report: b.Report, ReportKind: b.ReportKind, Paused: b.Paused})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sc)
}

func (s *Server) verify(c *echo.Context, p *access.Principal) error {
	var b struct {
		ReadDataPercent float64 `json:"read_data_percent"`
	}
	if c.Request().ContentLength != 0 {
		if err := decode(c, &b); err != nil {
			return err
		}
	}
	if b.ReadDataPercent < 0 || b.ReadDataPercent > 100 {
		return holdfast.Errorf("verify", holdfast.Invalid, "read_data_percent %v: want 0 to 100", b.ReadDataPercent)
	}
	rep, err := s.app.Verify(c.Request().Context(), actor(c, p), c.Param("tenant"), app.VerifyOptions{ReadDataPercent: b.ReadDataPercent})
	if rep == nil {
		return err
	}
	// A failed verify is an answer, not a server error: the report says what.
	return c.JSON(http.StatusOK, rep)
}

func (s *Server) search(c *echo.Context, p *access.Principal) error {
	limit := 50
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return holdfast.Errorf("search", holdfast.Invalid, "limit %q is not a number", v)
		}
		limit = n
	}
	res, err := s.app.Search(c.Request().Context(), actor(c, p), c.Param("tenant"), app.SearchOptions{Query: c.QueryParam("q"), Limit: limit, AllVersions: c.QueryParam("all_versions") == "true"})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) item(c *echo.Context, p *access.Principal) error {
	h, err := s.app.Item(c.Request().Context(), actor(c, p), c.Param("tenant"), c.QueryParam("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// itemContent downloads one captured part of an item version, always as
// an attachment and never to be rendered: captured bytes are hostile (an
// HTML file served inline from this origin would run in it).
func (s *Server) itemContent(c *echo.Context, p *access.Principal) error {
	const op = "item content"
	o := app.ContentOptions{Item: c.QueryParam("id")}
	n, err := strconv.ParseUint(c.QueryParam("record"), 10, 64)
	if err != nil {
		return holdfast.Errorf(op, holdfast.Invalid, "record %q: give the version's record index, as item lists it", c.QueryParam("record"))
	}
	o.Record = n
	if v := c.QueryParam("part"); v != "" {
		if o.Part, err = strconv.Atoi(v); err != nil {
			return holdfast.Errorf(op, holdfast.Invalid, "part %q: give 0 for the item, n for its n-th attachment", v)
		}
	}
	started := false
	err = s.app.ItemContent(c.Request().Context(), actor(c, p), c.Param("tenant"), o, func(info app.ContentInfo) io.Writer {
		started = true
		h := c.Response().Header()
		h.Set("Content-Type", info.ContentType)
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		attachmentHeaders(h, info.Name)
		if sum, err := hex.DecodeString(info.SHA256); err == nil {
			h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":") // RFC 9530
		}
		c.Response().WriteHeader(http.StatusOK)
		return c.Response()
	})
	if err != nil && started {
		// The body is cut short of its Content-Length: the client sees it.
		s.log.Error("item content cut short", "tenant", c.Param("tenant"), "item", strconv.QuoteToASCII(o.Item), "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return err
}

func (s *Server) holds(c *echo.Context, p *access.Principal) error {
	list, err := s.app.Holds(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"holds": list})
}

func (s *Server) placeHold(c *echo.Context, p *access.Principal) error {
	var b struct {
		Case       string   `json:"case"`
		Custodians []string `json:"custodians"`
		Query      string   `json:"query"`
		Reason     string   `json:"reason"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	res, err := s.app.PlaceHold(c.Request().Context(), actor(c, p), c.Param("tenant"), app.HoldOptions{Case: b.Case, Custodians: b.Custodians, Query: b.Query, Reason: b.Reason})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

func (s *Server) releaseHold(c *echo.Context, p *access.Principal) error {
	var b struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	name, err := s.app.ReleaseHold(c.Request().Context(), actor(c, p), c.Param("tenant"), c.Param("case"), b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"case": name, "status": "released"})
}

func (s *Server) checkpoint(c *echo.Context, p *access.Principal) error {
	ck, err := s.app.LatestCheckpoint(c.Request().Context(), c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"origin": ck.Origin, "size": ck.Size, "root": ck.Root, "note": string(ck.Note)})
}

func (s *Server) proof(c *echo.Context, p *access.Principal) error {
	i, err := strconv.ParseUint(c.Param("index"), 10, 64)
	if err != nil {
		return holdfast.Errorf("proof", holdfast.Invalid, "record %q is not an index", c.Param("index"))
	}
	b, err := s.app.Proof(c.Request().Context(), c.Param("tenant"), app.ProofOptions{Inclusion: true, Record: i})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

func (s *Server) findings(c *echo.Context, p *access.Principal) error {
	b, err := loadPolicies()
	if err != nil {
		return err
	}
	// The store's knowledge: refreshing the directory from Graph is the
	// scheduler's job after each backup.
	res, err := s.app.EvaluatePolicies(c.Request().Context(), actor(c, p), c.Param("tenant"), b, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// auditTypes are the records of procedures and accesses: what an auditor
// reads, without the items themselves.
var auditTypes = []string{record.TypeTenantCreated, record.TypeAudit, record.TypeHoldPlaced, record.TypeHoldReleased, record.TypeRestorePerformed,
	record.TypeVerifyRun, record.TypeReportIssued, record.TypePolicySettings, record.TypePolicyEvaluated, record.TypeScheduleSet,
	record.TypeRunStarted, record.TypeRunFinished, record.TypeRepair, record.TypeCheckpoint, record.TypeAccessChanged}

func (s *Server) audit(c *echo.Context, p *access.Principal) error {
	from, limit := uint64(0), 100
	if v := c.QueryParam("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return holdfast.Errorf("audit", holdfast.Invalid, "from %q is not a record index", v)
		}
		from = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return holdfast.Errorf("audit", holdfast.Invalid, "limit %q: want 1 to 1000", v)
		}
		limit = n
	}
	out := []json.RawMessage{}
	next := from
	_, err := s.app.Records(c.Request().Context(), c.Param("tenant"), app.LogOptions{From: from, Types: auditTypes}, func(raw []byte, r record.Record) error {
		if len(out) >= limit {
			return errStop
		}
		next = r.Index + 1
		out = append(out, append(json.RawMessage(nil), raw...))
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	// next is where the following page starts (from=next); records are the
	// log's own bytes, verifiable against its checkpoints.
	return c.JSON(http.StatusOK, map[string]any{"records": out, "next": next})
}

var errStop = holdfast.E("audit", holdfast.Other, "enough")

// witnesses lists the tenant's witnesses and where each stands with its
// log (as the last submission found).
func (s *Server) witnesses(c *echo.Context, p *access.Principal) error {
	ctx, tenant := c.Request().Context(), c.Param("tenant")
	ws, err := s.app.Witnesses(ctx, tenant)
	if err != nil {
		return err
	}
	sts, err := s.app.WitnessStatuses(tenant)
	if err != nil {
		return err
	}
	out := make([]app.WitnessStatus, 0, len(ws))
	for _, w := range ws {
		st := app.WitnessStatus{Name: w.Name, URL: w.URL, Error: "not submitted to yet"}
		for _, x := range sts {
			if x.Name == w.Name {
				st = x
			}
		}
		out = append(out, st)
	}
	return c.JSON(http.StatusOK, map[string]any{"witnesses": out})
}

// addWitness adds a witness ({"url", "vkey"}) and submits the newest
// checkpoint to it at once.
func (s *Server) addWitness(c *echo.Context, p *access.Principal) error {
	var b struct {
		URL  string `json:"url"`
		VKey string `json:"vkey"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	st, err := s.app.AddWitness(c.Request().Context(), actor(c, p), c.Param("tenant"), b.URL, b.VKey)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"witnesses": st})
}

// removeWitness drops the witness named by ?name= (witness names hold
// slashes, so they are not a path segment).
func (s *Server) removeWitness(c *echo.Context, p *access.Principal) error {
	name := c.QueryParam("name")
	if name == "" {
		return holdfast.E("witness remove", holdfast.Invalid, "?name= names the witness")
	}
	if err := s.app.RemoveWitness(c.Request().Context(), actor(c, p), c.Param("tenant"), name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
