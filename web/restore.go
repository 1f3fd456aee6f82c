package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
	"github.com/labstack/echo/v5"
)

// restoreRequest is the body of POST …/restores.
type restoreRequest struct {
	Account        string `json:"account"`
	Workload       string `json:"workload"`
	Path           string `json:"path"`
	Item           string `json:"item"`
	At             string `json:"at"`
	Run            string `json:"run"`
	IncludeDeleted bool   `json:"include_deleted"`
	TargetAccount  string `json:"target_account"` // into the tenant: another account than the items' own
}

// restoreToTenant restores into the tenant: new folders, nothing
// overwritten, resumable (the same request after an interruption goes on).
func (s *Server) restoreToTenant(c *echo.Context, p *access.Principal) error {
	return s.restore(c, p, false)
}

// restoreToZip restores to a zip kept for download: the items' content,
// which only roles that may read it get (restore:zip).
func (s *Server) restoreToZip(c *echo.Context, p *access.Principal) error {
	return s.restore(c, p, true)
}

func (s *Server) restore(c *echo.Context, p *access.Principal, zip bool) error {
	var b restoreRequest
	if err := decode(c, &b); err != nil {
		return err
	}
	id := newID()
	res, err := s.runRestore(c.Request().Context(), c.Param("tenant"), actor(c, p), b, zip, id, nil)
	if res == nil {
		return err
	}
	out := map[string]any{"restore": res}
	if zip {
		out["id"] = id
	}
	if err != nil {
		out["error"] = err.Error()
	}
	return c.JSON(http.StatusCreated, out)
}

// runRestore restores into the tenant, or to a zip kept for download
// under id (the API's and the console's one way), on ctx. A result with an
// error is a restore that ran with failures. It takes no request: Echo
// reuses a request's context once it is answered, and a background
// restore outlives its request.
func (s *Server) runRestore(ctx context.Context, tenant string, who app.Actor, b restoreRequest, zip bool, id string, progress func(done, total int64)) (*app.Restored, error) {
	sc := restore.Scope{Account: b.Account, Path: b.Path, Item: b.Item, Run: b.Run, IncludeDeleted: b.IncludeDeleted}
	if b.Workload != "" {
		ws, err := holdfast.ParseWorkloads(b.Workload)
		if err != nil || len(ws) != 1 {
			return nil, holdfast.Errorf("restore", holdfast.Invalid, "workload %q: one workload", b.Workload)
		}
		sc.Workload = ws[0]
	}
	if b.At != "" {
		t, err := parseTime("at", b.At, sc.At)
		if err != nil {
			return nil, err
		}
		sc.At = t
	}
	o := app.RestoreOptions{Scope: sc, TargetAccount: b.TargetAccount, Progress: progress}
	switch {
	case !zip:
		if s.into == nil {
			return nil, holdfast.E("restore", holdfast.Invalid, "this service has no connection to tenants to restore into")
		}
		o.ToTenant, o.Into = true, s.into
		key, _ := json.Marshal(b)
		sum := sha256.Sum256(key)
		o.ResumeKey = "api-" + hex.EncodeToString(sum[:])
	default:
		if b.TargetAccount != "" {
			return nil, holdfast.E("restore", holdfast.Invalid, "target_account goes with a restore into the tenant")
		}
		dir := s.tenantDir("restores", tenant)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, holdfast.E("restore", holdfast.IO, err)
		}
		o.ToZip = filepath.Join(dir, id+".zip")
	}
	return s.app.Restore(ctx, who, tenant, o)
}

// startRestore runs a restore in the background (the console's): its
// progress and outcome are the job's.
func (s *Server) startRestore(c *echo.Context, p *access.Principal, b restoreRequest, zip bool) string {
	tenant, id := c.Param("tenant"), newID()
	s.jobs.update(id, func(j *job) {
		j.Tenant, j.Kind, j.Status, j.Started, j.Zip = tenant, "restore", "running", time.Now().UTC(), zip
	})
	// The restore outlives the request: a context its end does not cancel.
	ctx := context.WithoutCancel(c.Request().Context())
	progress := func(done, total int64) { s.jobs.update(id, func(j *job) { j.Done, j.Total = done, total }) }
	who := actor(c, p)
	go func() {
		res, err := s.runRestore(ctx, tenant, who, b, zip, id, progress)
		s.jobs.update(id, func(j *job) {
			j.Finished, j.Restore, j.Status = time.Now().UTC(), res, "done"
			switch {
			case err != nil && res == nil:
				j.Status, j.Error = "failed", err.Error()
			case err != nil:
				j.Error = err.Error() // it ran, with failures: the result says which
			}
		})
		if err != nil {
			s.log.Warn("restore failed", "tenant", tenant, "restore", id, "error", err.Error())
		}
	}()
	return id
}

func (s *Server) downloadRestore(c *echo.Context, p *access.Principal) error {
	id := c.Param("id")
	if !exportID.MatchString(id) {
		return holdfast.Errorf("restore", holdfast.Invalid, "%q is not a restore id", id)
	}
	file := filepath.Join(s.tenantDir("restores", c.Param("tenant")), id+".zip")
	logged := false
	_, err := s.app.Records(c.Request().Context(), c.Param("tenant"), app.LogOptions{Type: record.TypeRestorePerformed}, func(_ []byte, r record.Record) error {
		var d record.RestorePerformed
		if err := record.Unmarshal(r, r.Type, &d); err != nil {
			return err
		}
		logged = logged || d.Target == file
		return nil
	})
	if err != nil {
		return err
	}
	if !logged {
		return holdfast.Errorf("restore", holdfast.NotFound, "no restore %s was logged for this tenant", id)
	}
	return s.serveLogged(c, "restores", file, "", "application/zip")
}
