package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/labstack/echo/v5"
)

// Files the API makes live under the data directory, one directory per
// tenant: reports/<tenant>/ and exports/<tenant>/. A download names a file
// by what the log recorded of it (a report's SHA-256, an export's id), is
// served only from its tenant's directory, and only when its bytes still
// hash to what was logged.

func (s *Server) tenantDir(kind, tenant string) string {
	return filepath.Join(s.app.Data().Dir, kind, tenant)
}

func newID() string {
	return time.Now().UTC().Format("20060102T150405Z") + "-" + holdfast.RandomHex(8)
}

func parseTime(field, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, holdfast.Errorf("api", holdfast.Invalid, "%s %q is not a date (YYYY-MM-DD) or an RFC 3339 time", field, v)
}

func (s *Server) issueReport(c *echo.Context, p *access.Principal) error {
	var b struct {
		Kind string `json:"kind"`
		From string `json:"from"`
		To   string `json:"to"`
		Case string `json:"case"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	rec, err := s.signReport(c, p, b.Kind, b.From, b.To, b.Case)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, rec)
}

// signReport issues a signed report of the request's tenant into the
// service's report directory (the API's and the console's one way); from
// and to are dates or RFC 3339 times, by default the last 30 days.
func (s *Server) signReport(c *echo.Context, p *access.Principal, kind, fromText, toText, caseName string) (*record.ReportIssued, error) {
	to, err := parseTime("to", toText, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	from, err := parseTime("from", fromText, to.AddDate(0, 0, -30))
	if err != nil {
		return nil, err
	}
	if !validReportKind(kind) {
		return nil, holdfast.Errorf("report", holdfast.Invalid, "kind %q: one of %s", kind, strings.Join(reports.Kinds, ", "))
	}
	signer, err := reports.LoadSigner(s.app.SignerDir())
	if err != nil {
		return nil, err
	}
	bundle, err := policy.LoadBundle("")
	if err != nil {
		return nil, err
	}
	tenant := c.Param("tenant")
	dir := s.tenantDir("reports", tenant)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, holdfast.E("report", holdfast.IO, err)
	}
	out := filepath.Join(dir, tenant+"-"+kind+"-"+newID()+".pdf")
	return s.app.IssueReport(c.Request().Context(), actor(c, p), tenant, app.ReportOptions{Kind: kind, Case: caseName, Out: out, From: from, To: to, Policies: bundle, Signer: signer})
}

func validReportKind(k string) bool {
	for _, x := range reports.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// issued are the tenant's report.issued records.
func (s *Server) issued(c *echo.Context) ([]record.ReportIssued, error) {
	var out []record.ReportIssued
	_, err := s.app.Records(c.Request().Context(), c.Param("tenant"), app.LogOptions{Type: record.TypeReportIssued}, func(_ []byte, r record.Record) error {
		var d record.ReportIssued
		if err := record.Unmarshal(r, r.Type, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	if out == nil {
		out = []record.ReportIssued{}
	}
	return out, err
}

func (s *Server) reports(c *echo.Context, p *access.Principal) error {
	list, err := s.issued(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reports": list})
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Server) downloadReport(c *echo.Context, p *access.Principal) error {
	sum := c.Param("sha256")
	if !hexSHA.MatchString(sum) {
		return holdfast.Errorf("report", holdfast.Invalid, "%q is not a SHA-256 (64 lower-case hex digits)", sum)
	}
	list, err := s.issued(c)
	if err != nil {
		return err
	}
	for _, r := range list {
		if r.SHA256 == sum {
			return s.serveLogged(c, "reports", r.File, sum, "application/pdf")
		}
	}
	return holdfast.Errorf("report", holdfast.NotFound, "no report with SHA-256 %s was issued for this tenant", sum)
}

// serveLogged serves a file the log names, if it lies in the tenant's
// directory of kind and still hashes to sum.
func (s *Server) serveLogged(c *echo.Context, kind, file, sum, contentType string) error {
	const op = "download"
	dir := s.tenantDir(kind, c.Param("tenant"))
	rel, err := filepath.Rel(dir, file)
	if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) || strings.ContainsRune(rel, filepath.Separator) {
		return holdfast.Errorf(op, holdfast.NotFound, "%s was written outside the service's %s directory (by the CLI?): fetch it where it was written", filepath.Base(file), kind)
	}
	f, err := os.Open(file)
	if err != nil {
		return holdfast.E(op, holdfast.NotFound, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); sum != "" && got != sum {
		return holdfast.Errorf(op, holdfast.Integrity, "%s: its SHA-256 is %s, the log recorded %s", file, got, sum)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+filepath.Base(file)+`"`)
	if sum != "" {
		c.Response().Header().Set("Digest", "sha-256="+sum)
	}
	return c.Stream(http.StatusOK, contentType, f)
}

func (s *Server) verifyReport(c *echo.Context, p *access.Principal) error {
	pdf, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<20+1))
	if err != nil {
		return holdfast.E("report verify", holdfast.Invalid, err)
	}
	if len(pdf) > 64<<20 {
		return holdfast.E("report verify", holdfast.Invalid, "the PDF is larger than 64 MB")
	}
	if len(pdf) == 0 {
		return holdfast.E("report verify", holdfast.Invalid, "send the report's PDF as the request body")
	}
	rv, err := s.app.VerifyReport(c.Request().Context(), c.Param("tenant"), pdf, nil)
	if holdfast.Is(holdfast.Integrity, err) {
		// The document does not verify: that is the answer, not a fault.
		return c.JSON(http.StatusOK, map[string]any{"valid": false, "problem": err.Error()})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"valid": true, "signature": rv.SignatureInfo, "checkpoint_size": rv.CheckpointSize, "checkpoint_root": hex.EncodeToString(rv.CheckpointRoot)})
}

var exportID = regexp.MustCompile(`^[0-9TZ]{16}-[0-9a-f]{16}$`)

// job is an export the API runs: answered at once when it ends
// within exportWait, else in the background, its progress at
// GET /exports/{id}/status.
type job struct {
	ID       string        `json:"id"`
	Tenant   string        `json:"-"`
	Kind     string        `json:"-"`      // export, restore
	Status   string        `json:"status"` // running, done, failed
	Done     int64         `json:"done"`   // versions read, items restored so far
	Total    int64         `json:"total"`
	Error    string        `json:"error,omitempty"`
	Case     string        `json:"case,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"` // the package's, once written
	Export   *app.Exported `json:"export,omitempty"`
	Restore  *app.Restored `json:"-"`
	Zip      bool          `json:"-"` // a restore to a zip, kept under the job's id
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished,omitzero"`
}

// exportWait is how long a request waits for its export before it is
// answered 202 and the export goes on in the background (0: at once).
const exportWait = 2 * time.Second

// jobs keeps the exports and restores the service ran since it started.
type jobs struct {
	mu   sync.Mutex
	jobs map[string]*job
}

func (j *jobs) get(tenant, id string) (job, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	x, ok := j.jobs[id]
	if !ok || x.Tenant != tenant {
		return job{}, false
	}
	return *x, true
}

func (j *jobs) update(id string, f func(*job)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jobs == nil {
		j.jobs = map[string]*job{}
	}
	x := j.jobs[id]
	if x == nil {
		x = &job{ID: id}
		j.jobs[id] = x
	}
	f(x)
}

func (s *Server) export(c *echo.Context, p *access.Principal) error {
	var b struct {
		Case     string `json:"case"`
		Query    string `json:"query"`
		LoadFile string `json:"load_file"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	tenant := c.Param("tenant")
	id, ended, err := s.startExport(c, p, app.ExportOptions{Case: b.Case, Query: b.Query, LoadFile: b.LoadFile})
	if err != nil {
		return err
	}
	if s.exportWait > 0 {
		select {
		case err := <-ended:
			if err != nil {
				return err
			}
			j, _ := s.jobs.get(tenant, id)
			return c.JSON(http.StatusCreated, map[string]any{"id": id, "export": j.Export})
		case <-time.After(s.exportWait):
		}
	}
	j, _ := s.jobs.get(tenant, id)
	c.Response().Header().Set("Location", api+"/tenants/"+tenant+"/exports/"+id+"/status")
	return c.JSON(http.StatusAccepted, j)
}

// startExport starts an export of the request's tenant in the background
// (the API's and the console's one way); ended receives how it ended.
func (s *Server) startExport(c *echo.Context, p *access.Principal, o app.ExportOptions) (string, <-chan error, error) {
	if o.LoadFile == "" {
		o.LoadFile = "csv"
	}
	tenant := c.Param("tenant")
	dir := s.tenantDir("exports", tenant)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, holdfast.E("export", holdfast.IO, err)
	}
	id := newID()
	o.Out = filepath.Join(dir, id+".zip")
	o.Progress = func(done, total int64) { s.jobs.update(id, func(j *job) { j.Done, j.Total = done, total }) }
	s.jobs.update(id, func(j *job) {
		j.Tenant, j.Kind, j.Status, j.Started, j.Case = tenant, "export", "running", time.Now().UTC(), o.Case
	})
	who := actor(c, p)
	// The export outlives the request when it takes long: it runs on a
	// context the request's end does not cancel.
	ctx := context.WithoutCancel(c.Request().Context())
	ended := make(chan error, 1)
	go func() {
		res, err := s.app.Export(ctx, who, tenant, o)
		s.jobs.update(id, func(j *job) {
			j.Finished, j.Export, j.Status = time.Now().UTC(), res, "done"
			if err != nil {
				j.Status, j.Error = "failed", err.Error()
			}
		})
		if err != nil {
			s.log.Warn("export failed", "tenant", tenant, "export", id, "error", err.Error())
		}
		ended <- err
	}()
	return id, ended, nil
}

// exportStatus is an export's progress, or how it ended.
func (s *Server) exportStatus(c *echo.Context, p *access.Principal) error {
	id := c.Param("id")
	if j, ok := s.jobs.get(c.Param("tenant"), id); ok && j.Kind == "export" {
		return c.JSON(http.StatusOK, j)
	}
	if exportID.MatchString(id) {
		// Written before this process started: done, if its record says so.
		if _, _, err := s.loggedExport(c, id); err == nil {
			return c.JSON(http.StatusOK, job{ID: id, Status: "done"})
		}
	}
	return holdfast.Errorf("export", holdfast.NotFound, "no export %q in this tenant", id)
}

// exports lists the export packages of the tenant's directory, and the
// exports running or failed since this process started.
func (s *Server) exports(c *echo.Context, p *access.Principal) error {
	list, err := s.listExports(c.Param("tenant"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"exports": list})
}

func (s *Server) listExports(tenant string) ([]job, error) {
	ents, err := os.ReadDir(s.tenantDir("exports", tenant))
	out := []job{}
	if err != nil && !os.IsNotExist(err) {
		return nil, holdfast.E("exports", holdfast.IO, err)
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".zip")
		if !ok || !exportID.MatchString(id) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		j, ok := s.jobs.get(tenant, id)
		if !ok {
			j = job{ID: id, Status: "done", Started: info.ModTime().UTC()}
		}
		j.Bytes = info.Size()
		out = append(out, j)
	}
	s.jobs.mu.Lock()
	for _, j := range s.jobs.jobs {
		if j.Tenant == tenant && j.Kind == "export" && j.Status != "done" {
			out = append(out, *j)
		}
	}
	s.jobs.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

func (s *Server) downloadExport(c *echo.Context, p *access.Principal) error {
	id := c.Param("id")
	if !exportID.MatchString(id) {
		return holdfast.Errorf("export", holdfast.Invalid, "%q is not an export id", id)
	}
	if j, ok := s.jobs.get(c.Param("tenant"), id); ok && j.Status == "running" {
		return holdfast.Errorf("export", holdfast.Locked, "export %s is still running (%d of %d versions read): see its status", id, j.Done, j.Total)
	}
	file, sum, err := s.loggedExport(c, id)
	if err != nil {
		return err
	}
	return s.serveLogged(c, "exports", file, sum, "application/zip")
}

// loggedExport is the file of an export the tenant's log records, with
// the SHA-256 its audit record names.
func (s *Server) loggedExport(c *echo.Context, id string) (file, sum string, err error) {
	file = filepath.Join(s.tenantDir("exports", c.Param("tenant")), id+".zip")
	_, err = s.app.Records(c.Request().Context(), c.Param("tenant"), app.LogOptions{Type: record.TypeAudit}, func(_ []byte, r record.Record) error {
		var d record.Audit
		if err := record.Unmarshal(r, r.Type, &d); err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(d.Detail, "package sha256 "); ok && d.Action == "export" {
			if h, path, ok := strings.Cut(rest, " "); ok && path == file {
				sum = h
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if sum == "" {
		return "", "", holdfast.Errorf("export", holdfast.NotFound, "no export %s was logged for this tenant", id)
	}
	return file, sum, nil
}
