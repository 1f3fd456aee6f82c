package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/alert"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/holdfast/holdfast/schedule"
	"github.com/holdfast/holdfast/web"
	"github.com/spf13/cobra"
)

// scheduleReload is how often a running service reads the schedules again.
const scheduleReload = 5 * time.Minute

type serveOptions struct {
	Listen          string
	TLSCert, TLSKey string
	MaxBackups      int
	Reload          time.Duration
	UnsignedAfter   time.Duration
	Worker          string
	LeaseTTL        time.Duration

	clock   schedule.Clock       // nil: the real one; tests pass theirs
	onEvent func(schedule.Event) // tests: told of every job's start and end
	ready   func(addr string)    // tests: told the address once it listens
}

func newServeCommand(g *globalOptions) *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8443] [--tls-cert F --tls-key F] [--max-backups K]",
		Short: "Run every tenant's schedule: backups, verify runs, restore tests, reports",
		Long: `Run as a service for every tenant of the data directory: backups on each
tenant's schedule (holdfast schedule show|set), policies after each backup,
verify runs, restore tests and signed reports, each recorded in the tenant's
log as its CLI twin is, by the actor "scheduler". Slots missed while the
service was down run at start-up; a job still running when its next slot
comes is not started twice; at most --max-backups backups run at once,
served in the order they fell due.

It listens on HTTPS only: without --tls-cert and --tls-key it creates a
self-signed certificate under the data directory on first start and prints
its SHA-256 fingerprint. GET /healthz reports the tenants and the running
and last jobs; the JSON API is under /api/v1 (docs/API.md; holdfast user add
and holdfast token create give access). SIGTERM or Ctrl-C stops it gracefully: running backups
flush what they captured and resume at the next start. SIGHUP reloads the
schedules at once (they are reloaded every 5 minutes anyway). The CLI keeps
working beside it. Logs are JSON lines on stderr.

Several workers — serve on several machines, each data directory holding the
same keys and tenants — share tenants whose repositories are in one bucket:
a worker runs a tenant's job only while it holds the tenant's lease, an
object in the bucket, and not at all when another worker already ran it.
A dead worker's tenants are taken over once its leases lapse (--lease-ttl);
a worker that cannot renew a lease stops writing that tenant before the
lease can lapse (docs/DEPLOY.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8443", "address to listen on (HTTPS)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "certificate PEM file (default: a self-signed one under the data directory)")
	f.StringVar(&o.TLSKey, "tls-key", "", "private key PEM file")
	f.IntVar(&o.MaxBackups, "max-backups", 4, "backups at once across all tenants")
	f.DurationVar(&o.Reload, "reload", scheduleReload, "how often the schedules are read again")
	f.StringVar(&o.Worker, "worker", "", "this worker's name to the others sharing a bucket (default host:pid)")
	f.DurationVar(&o.LeaseTTL, "lease-ttl", app.DefaultLeaseTTL, "how long a tenant's lease lasts unless renewed: a dead worker's tenants are taken over after it")
	f.DurationVar(&o.UnsignedAfter, "unsigned-after", alert.DefaultUnsignedAfter, "alert (checkpoint.unsigned) when a tenant's newest records wait longer than this for a signed checkpoint")
	return cmd
}

// serveConnector connects the service to tenants through their saved
// Graph connections.
type serveConnector struct{ g *globalOptions }

func (c serveConnector) Source(tenant string) (ingest.Source, error) { return c.g.graphClient(tenant) }
func (c serveConnector) Directory(tenant string) (app.Directory, error) {
	return c.g.graphClient(tenant)
}

func runServe(ctx context.Context, g *globalOptions, o serveOptions) error {
	const op = "serve"
	if o.MaxBackups < 1 {
		return holdfast.Errorf(op, holdfast.Invalid, "--max-backups %d: give at least 1", o.MaxBackups)
	}
	if o.clock == nil {
		o.clock = schedule.RealClock{}
	}
	log := slog.New(slog.NewJSONHandler(g.stderr, &slog.HandlerOptions{ReplaceAttr: visibleAttr}))
	mk, err := masterKey()
	if err != nil {
		return err
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = app.DefaultLeaseTTL
	}
	if o.LeaseTTL < time.Second {
		return holdfast.Errorf(op, holdfast.Invalid, "--lease-ttl %s: give at least 1s", o.LeaseTTL)
	}
	a := app.New(g.Data, app.Options{MasterKey: mk, Now: o.clock.Now, Note: func(n string) { log.Info("note", "msg", n) },
		Worker: o.Worker, LeaseTTL: o.LeaseTTL})
	if _, err := a.Data().LogKey(); err != nil {
		return err // not initialised: say so before listening
	}
	cert, fingerprint, created, err := serveCertificate(g.Data, o.TLSCert, o.TLSKey, time.Now())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return holdfast.E(op, holdfast.Invalid, err, "--listen "+o.Listen)
	}
	addr := ln.Addr().String()
	state := &app.ServiceState{}
	metrics := web.NewMetrics()
	alerts := alert.NewNotifier(g.Data, nil)
	api := web.New(a, web.Options{Access: a.Access(), State: state, Metrics: metrics, Alerts: alerts, Log: log,
		Into:    func(tenant string) (app.TenantWriter, error) { return g.graphClient(tenant) },
		Connect: g.resolveConnection,
		Probe: func(tenant string) (app.TenantProbe, map[string][][]string, error) {
			c, err := g.graphClient(tenant)
			return c, graph.Permissions, err
		}})
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}()
	if created {
		g.say("Created a self-signed certificate for the service under %s/keys\n", g.Data)
	}
	g.say("Serving on https://%s (certificate SHA-256 %s); Ctrl-C stops\n", addr, fingerprint)
	log.Info("serving", "addr", addr, "certificate_sha256", fingerprint, "max_backups", o.MaxBackups)
	if o.ready != nil {
		o.ready(addr)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	event := func(e schedule.Event) {
		switch {
		case e.Started:
			log.Info("job started", "tenant", e.Job.Tenant, "kind", e.Job.Kind, "due", e.Job.Due)
		case !e.Retry.IsZero():
			log.Warn("job deferred", "tenant", e.Job.Tenant, "kind", e.Job.Kind, "error", e.Err.Error(), "retry_at", e.Retry)
		case e.Err != nil:
			log.Error("job failed", "tenant", e.Job.Tenant, "kind", e.Job.Kind, "error", e.Err.Error())
		default:
			log.Info("job finished", "tenant", e.Job.Tenant, "kind", e.Job.Kind)
		}
		if o.onEvent != nil {
			o.onEvent(e)
		}
	}
	// Every tenant's capture metrics, read in the background: this also
	// warms the status cache the dashboard's GET /api/v1/status reads.
	go func() {
		tenants, err := a.Tenants()
		if err != nil {
			return
		}
		for _, t := range tenants {
			if ctx.Err() != nil {
				return
			}
			if err := metrics.Captures(ctx, a, t); err != nil {
				log.Warn("metrics", "tenant", t, "error", err.Error())
			}
		}
	}()
	finished := func(j schedule.Job, r app.JobResult, err error) {
		if r.Skipped != "" {
			log.Info("job skipped", "tenant", j.Tenant, "kind", j.Kind, "why", r.Skipped)
			return
		}
		metrics.Job(j, r, err)
		for _, e := range alert.JobEvents(j, r, err) {
			alerts.Notify(ctx, e)
		}
		if j.Kind == schedule.Backup {
			if err := metrics.Captures(context.WithoutCancel(ctx), a, j.Tenant); err != nil {
				log.Warn("metrics", "tenant", j.Tenant, "error", err.Error())
			}
		}
	}
	// Late backups are looked for on the reload's rhythm, in real time.
	late := alert.NewLateChecker(a, alerts)
	if o.UnsignedAfter > 0 {
		late.UnsignedAfter = o.UnsignedAfter
	}
	go func() {
		tick := time.NewTicker(o.Reload)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := late.Check(ctx); err != nil {
					log.Warn("late backups", "error", err.Error())
				}
			}
		}
	}()
	err = a.Serve(ctx, app.ServeOptions{MaxBackups: o.MaxBackups, Clock: o.clock, Connect: serveConnector{g}, Reload: o.Reload, ReloadNow: reload, Event: event, Finished: finished}, state)
	alerts.Wait()
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = holdfast.E(op, holdfast.IO, serr)
	}
	log.Info("stopped")
	return err
}

// visibleAttr makes a log line's text visible (see visible): JSON escapes
// C0 controls but passes C1 and bidirectional controls raw, and a job's
// error or a finding can quote a tenant's subject or file name, which must
// not reorder or drive what a log viewer shows.
func visibleAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(holdfast.Visible(v.String(), true))
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(holdfast.Visible(x.Error(), true))
		case fmt.Stringer:
			a.Value = slog.StringValue(holdfast.Visible(x.String(), true))
		}
	}
	return a
}
