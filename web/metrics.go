package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/schedule"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's Prometheus metrics: jobs by outcome and
// duration, what backups captured, throttling, failed items, verify
// outcomes, and the age of each tenant's last capture per workload (the
// RPO, for alerting rules).
type Metrics struct {
	reg         *prometheus.Registry
	jobs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	items       *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	failed      *prometheus.CounterVec
	throttled   *prometheus.CounterVec
	lastCapture *prometheus.GaugeVec
	verifyOK    *prometheus.GaugeVec
}

// NewMetrics returns the service's metrics, with Go's and the process's.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "holdfast_jobs_total",
			Help: "Scheduled jobs by kind and outcome (ok, failed)."}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "holdfast_job_duration_seconds",
			Help: "How long scheduled jobs took.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}, []string{"kind"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "holdfast_backup_items_total",
			Help: "Item versions captured by scheduled backups (new and changed)."}, []string{"tenant"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "holdfast_backup_bytes_total",
			Help: "Bytes captured by scheduled backups."}, []string{"tenant"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "holdfast_backup_failed_items_total",
			Help: "Items scheduled backups could not capture."}, []string{"tenant"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "holdfast_backup_throttled_seconds_total",
			Help: "Time scheduled backups waited on Graph throttling."}, []string{"tenant"}),
		lastCapture: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "holdfast_last_capture_timestamp_seconds",
			Help: "The oldest of the accounts' last successful captures, per tenant and workload: time() minus it is the worst RPO."}, []string{"tenant", "workload"}),
		verifyOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "holdfast_verify_ok",
			Help: "1 when the tenant's last scheduled verify found nothing wrong, 0 when it found damage."}, []string{"tenant"}),
	}
	m.reg.MustRegister(m.jobs, m.duration, m.items, m.bytes, m.failed, m.throttled, m.lastCapture, m.verifyOK,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Job records a scheduled job's outcome.
func (m *Metrics) Job(j schedule.Job, r app.JobResult, err error) {
	outcome := "ok"
	if _, ok := errors.AsType[*schedule.Deferred](err); ok {
		outcome = "deferred"
	} else if err != nil {
		outcome = "failed"
	}
	m.jobs.WithLabelValues(string(j.Kind), outcome).Inc()
	m.duration.WithLabelValues(string(j.Kind)).Observe(r.Took.Seconds())
	if b := r.Backup; b != nil {
		m.items.WithLabelValues(j.Tenant).Add(float64(b.ItemsNew + b.ItemsChanged))
		m.bytes.WithLabelValues(j.Tenant).Add(float64(b.Bytes))
		m.failed.WithLabelValues(j.Tenant).Add(float64(len(b.FailedItems)))
		m.throttled.WithLabelValues(j.Tenant).Add(b.ThrottledS)
	}
	if v := r.Verified; v != nil {
		ok := 0.0
		if v.OK {
			ok = 1
		}
		m.verifyOK.WithLabelValues(j.Tenant).Set(ok)
	}
}

// Captures sets the tenant's last-capture gauges from its status (read
// through a's status cache, which it so keeps warm for the dashboard).
func (m *Metrics) Captures(ctx context.Context, a *app.App, tenant string) error {
	ts := a.StatusAll(ctx, []string{tenant})[0]
	if ts.Error != "" {
		return errors.New(ts.Error)
	}
	st := ts.Status
	oldest := map[string]time.Time{}
	for _, acct := range st.Accounts {
		for w, t := range acct.LastSuccess {
			if o, ok := oldest[string(w)]; !ok || t.Before(o) {
				oldest[string(w)] = t
			}
		}
	}
	for w, t := range oldest {
		m.lastCapture.WithLabelValues(tenant, w).Set(float64(t.Unix()))
	}
	return nil
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
