package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/schedule"
	"github.com/labstack/echo/v5"
)

// runNow asks the scheduler for a procedure of the tenant at the first
// chance: 202, and the job shows in runs and runs/live.
func (s *Server) runNow(c *echo.Context, p *access.Principal) error {
	var b struct {
		Kind string `json:"kind"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	kind, err := s.askRun(c, p, b.Kind)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"tenant": c.Param("tenant"), "kind": kind, "status": "queued"})
}

// askRun asks the scheduler for the request's tenant's procedure of kind
// now (the API's and the console's one way).
func (s *Server) askRun(c *echo.Context, p *access.Principal, kindText string) (schedule.Kind, error) {
	kind := schedule.Kind(kindText)
	if !slices.Contains(schedule.Kinds, kind) {
		return "", holdfast.Errorf("run now", holdfast.Invalid, "kind %q: one of backup, verify, restore-test, report", kindText)
	}
	if s.state == nil {
		return "", app.ErrNoScheduler
	}
	if err := s.state.RunNow(c.Param("tenant"), kind); err != nil {
		return "", err
	}
	s.log.Info("run asked", "tenant", c.Param("tenant"), "kind", kind, "by", actor(c, p).String())
	return kind, nil
}

// runs lists the tenant's finished backup runs (newest first, at most 50)
// and what runs now.
func (s *Server) runs(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	finished, err := s.newestRuns(c.Request().Context(), tenant, 50)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"finished": finished, "running": s.running(tenant)})
}

// newestRuns are the tenant's n newest finished runs, newest first (a copy:
// the App keeps the list until the log grows).
func (s *Server) newestRuns(ctx context.Context, tenant string, n int) ([]record.RunFinished, error) {
	all, err := s.app.Runs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(all[max(0, len(all)-n):])
	slices.Reverse(out)
	return out, nil
}

// run is one backup run: its start, its end, every failed item, and its
// progress while it runs.
func (s *Server) run(c *echo.Context, p *access.Principal) error {
	d, err := s.app.Run(c.Request().Context(), c.Param("tenant"), c.Param("run"))
	if err != nil {
		return err
	}
	out := map[string]any{"started": d.Started, "finished": d.Finished, "failed_items": d.Failed}
	if d.Finished == nil {
		out["running"] = s.running(c.Param("tenant"))
	}
	return c.JSON(http.StatusOK, out)
}

// running is what runs for tenant now, with the backups' progress.
func (s *Server) running(tenant string) map[string]any {
	out := map[string]any{}
	if s.state == nil {
		return out
	}
	st := s.state.Status()
	for k, j := range st.Running {
		if j.Tenant == tenant {
			out[string(j.Kind)] = map[string]any{"job": j, "progress": st.Progress[k]}
		}
	}
	return out
}

// liveInterval is how often runs/live reports.
const liveInterval = time.Second

// live streams what runs for the tenant as server-sent events: "running"
// every second while anything runs (the backups' totals so far), and
// "finished" for each job that ends, until the client goes.
func (s *Server) live(c *echo.Context, p *access.Principal) error {
	tenant := c.Param("tenant")
	w := c.Response()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	send := func(event string, v any) error {
		b, _ := json.Marshal(v)
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		flush()
		return err
	}
	seen := map[string]time.Time{}
	if s.state != nil {
		for k, o := range s.state.Status().Last {
			seen[k] = o.Finished
		}
	}
	tick := time.NewTicker(liveInterval)
	defer tick.Stop()
	if err := send("running", s.running(tenant)); err != nil {
		return nil
	}
	for {
		select {
		case <-c.Request().Context().Done():
			return nil
		case <-tick.C:
		}
		if s.state == nil {
			continue
		}
		for k, o := range s.state.Status().Last {
			if strings.HasPrefix(k, tenant+"/") && o.Finished.After(seen[k]) {
				seen[k] = o.Finished
				if send("finished", o) != nil {
					return nil
				}
			}
		}
		if send("running", s.running(tenant)) != nil {
			return nil
		}
	}
}
