package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/schedule"
	"github.com/holdfast/holdfast/store"
)

// RetryLocked is how soon a job that found its tenant's store held by
// another process is tried again.
const RetryLocked = 5 * time.Minute

// Scheduler is the actor of everything the service runs on its own.
var Scheduler = Actor{Name: "scheduler"}

// Connector connects the service to a tenant (Graph, wired by the front
// door).
type Connector interface {
	Source(tenant string) (ingest.Source, error)
	Directory(tenant string) (Directory, error)
}

// ServeOptions configure the scheduling service.
type ServeOptions struct {
	MaxBackups int            // backups at once across all tenants (default 4)
	Clock      schedule.Clock // nil: the real one
	Connect    Connector
	// Reload is how often every tenant's schedule is read again (default
	// 5 minutes); a value on ReloadNow reloads at once (SIGHUP).
	Reload    time.Duration
	ReloadNow <-chan struct{}
	// Event receives what the scheduler does, for the log.
	Event func(schedule.Event)
	// Finished receives each job's outcome, for metrics and alerts.
	Finished func(j schedule.Job, r JobResult, err error)
}

// JobResult is what a scheduled job produced.
type JobResult struct {
	Backup   *ingest.Result           // a backup's run
	Findings *policy.Result           // the policies after it
	Verified *Verified                // a verify run
	Test     *record.RestorePerformed // a restore test
	Report   *record.ReportIssued
	// Skipped says why the job did not run: another worker sharing the
	// tenant served it.
	Skipped string
	Took    time.Duration
}

// ServiceState is what the running service is doing, kept up to date by
// Serve and read by /healthz and the API.
type ServiceState struct {
	mu     sync.Mutex
	s      ServiceStatus
	runNow func(tenant string, kind schedule.Kind) error
}

// ServiceStatus is a snapshot of a ServiceState.
type ServiceStatus struct {
	Tenants  int                        `json:"tenants"`
	Running  map[string]schedule.Job    `json:"running"`  // by tenant/kind
	Progress map[string]ingest.Progress `json:"progress"` // where running backups stand, by tenant/backup
	Last     map[string]JobOutcome      `json:"last"`     // by tenant/kind
}

// JobOutcome is how a job last ended.
type JobOutcome struct {
	Job      schedule.Job `json:"job"`
	Finished time.Time    `json:"finished"`
	Error    string       `json:"error,omitempty"`
}

func (st *ServiceState) init() {
	if st.s.Running == nil {
		st.s = ServiceStatus{Running: map[string]schedule.Job{}, Progress: map[string]ingest.Progress{}, Last: map[string]JobOutcome{}}
	}
}

// Status returns a copy of the state.
func (st *ServiceState) Status() ServiceStatus {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	return ServiceStatus{Tenants: st.s.Tenants, Running: maps.Clone(st.s.Running), Progress: maps.Clone(st.s.Progress), Last: maps.Clone(st.s.Last)}
}

// Started records that a job started.
func (st *ServiceState) Started(j schedule.Job) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	st.s.Running[jobKey(j)] = j
}

// Progressed records a running backup's totals so far.
func (st *ServiceState) Progressed(j schedule.Job, c ingest.Progress) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	if _, ok := st.s.Running[jobKey(j)]; ok {
		st.s.Progress[jobKey(j)] = c
	}
}

// Finished records that a job ended.
func (st *ServiceState) Finished(j schedule.Job, at time.Time, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	delete(st.s.Running, jobKey(j))
	delete(st.s.Progress, jobKey(j))
	out := JobOutcome{Job: j, Finished: at}
	if err != nil {
		out.Error = err.Error()
	}
	st.s.Last[jobKey(j)] = out
}

// ErrNoScheduler: the API was asked to run a job, and no scheduler runs.
var ErrNoScheduler = holdfast.E("run now", holdfast.Invalid, "no scheduler runs in this process: holdfast serve runs jobs")

// RunNow asks the running service for a tenant's procedure at the first
// chance, under the scheduler's rules.
func (st *ServiceState) RunNow(tenant string, kind schedule.Kind) error {
	st.mu.Lock()
	f := st.runNow
	st.mu.Unlock()
	if f == nil {
		return ErrNoScheduler
	}
	return f(tenant, kind)
}

func jobKey(j schedule.Job) string { return j.Tenant + "/" + string(j.Kind) }

// Serve runs every tenant's schedule until ctx is done, then waits for
// the running jobs: a backup stopped this way flushes what it captured and
// resumes at the next start. State, if not nil, is kept up to date.
func (a *App) Serve(ctx context.Context, o ServeOptions, state *ServiceState) error {
	if o.Connect == nil {
		return holdfast.E("serve", holdfast.Invalid, "no connection to the tenants")
	}
	if o.Clock == nil {
		o.Clock = schedule.RealClock{}
	}
	if o.Reload <= 0 {
		o.Reload = 5 * time.Minute
	}
	if state == nil {
		state = &ServiceState{}
	}
	state.mu.Lock()
	state.s = ServiceStatus{}
	state.init()
	state.mu.Unlock()
	if o.MaxBackups <= 0 {
		o.MaxBackups = 4
	}
	s := schedule.New(o.MaxBackups)
	plans := map[string]*TenantSchedule{}
	var plansMu sync.Mutex
	type loaded struct {
		ts    *TenantSchedule
		plan  *schedule.Plan
		since time.Time
		last  map[schedule.Kind]time.Time
	}
	// What each tenant's log said, read again only when the log grew: a
	// reload of hundreds of tenants costs a small file each.
	var kept byMark[loaded]
	load := func() (func(*schedule.Scheduler), error) {
		tenants, err := a.Tenants()
		if err != nil {
			return nil, err
		}
		got := map[string]loaded{}
		for _, t := range tenants {
			l, err := kept.get(a, t, func() (loaded, error) {
				ts, since, last, err := a.scheduleState(ctx, t)
				if err != nil {
					return loaded{}, err
				}
				p, err := schedule.Parse(t, ts.Schedule)
				return loaded{ts, p, since, last}, err
			})
			if err != nil {
				a.note("tenant %s is not scheduled: %v", t, err)
				continue
			}
			got[t] = l
		}
		plansMu.Lock()
		for t, l := range got {
			plans[t] = l.ts
		}
		plansMu.Unlock()
		state.mu.Lock()
		state.s.Tenants = len(got)
		state.mu.Unlock()
		return func(s *schedule.Scheduler) {
			for t, l := range got {
				s.SetPlan(t, l.plan, l.since)
				for k, at := range l.last {
					s.Ran(t, k, at)
				}
			}
		}, nil
	}
	apply, err := load()
	if err != nil {
		return err
	}
	apply(s)
	changes := make(chan func(*schedule.Scheduler))
	// Checkpoints a witness has not cosigned yet (it was down) are
	// submitted again every reload.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.Reload):
			}
			a.RetryWitnesses(ctx)
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.Reload): // real time: reloading is housekeeping, not a schedule
			case <-o.ReloadNow:
			}
			f, err := load()
			if err != nil {
				a.note("reloading the schedules: %v", err)
				continue
			}
			select {
			case changes <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	run := func(ctx context.Context, j schedule.Job) error {
		plansMu.Lock()
		ts := plans[j.Tenant]
		plansMu.Unlock()
		start := time.Now()
		r, err := a.runLeased(ctx, j, o, func(ctx context.Context) (JobResult, error) {
			return a.RunJob(ctx, j, ts.Schedule, o.Connect, func(c ingest.Progress) { state.Progressed(j, c) })
		})
		r.Took = time.Since(start)
		var held *store.LeaseHeldError
		var deferred *schedule.Deferred
		if errors.As(err, &deferred) {
			// runLeased said when.
		} else if errors.As(err, &held) && ctx.Err() == nil {
			// Another worker is on the tenant: ask again when its lease
			// would lapse; by then it has run the job, or died.
			err = &schedule.Deferred{Err: err, After: max(time.Until(held.Holder.Expires), time.Second) + leaseSlack}
		} else if holdfast.Is(holdfast.Locked, err) && ctx.Err() == nil {
			// Another process holds the tenant's store (an operator's
			// backup from the shell): try again soon, not at the next slot.
			err = &schedule.Deferred{Err: err, After: RetryLocked}
		}
		if o.Finished != nil {
			o.Finished(j, r, err)
		}
		return err
	}
	report := func(e schedule.Event) {
		if e.Started {
			state.Started(e.Job)
		} else {
			state.Finished(e.Job, e.At, e.Err)
		}
		if o.Event != nil {
			o.Event(e)
		}
	}
	state.mu.Lock()
	state.runNow = func(tenant string, kind schedule.Kind) error {
		reply := make(chan error, 1)
		select {
		case changes <- func(s *schedule.Scheduler) { reply <- s.RunNow(tenant, kind, o.Clock.Now()) }:
		case <-ctx.Done():
			return holdfast.E("run now", holdfast.Invalid, "the service is stopping")
		}
		if err := <-reply; err != nil {
			return holdfast.E("run now", holdfast.NotFound, err)
		}
		return nil
	}
	state.mu.Unlock()
	schedule.Loop(ctx, s, o.Clock, run, changes, report)
	state.mu.Lock()
	state.runNow = nil
	state.mu.Unlock()
	return nil
}

// scheduleState reads what scheduling a tenant needs from its log: its
// schedule, when it was created, and when each procedure last started.
func (a *App) scheduleState(ctx context.Context, tenant string) (*TenantSchedule, time.Time, map[schedule.Kind]time.Time, error) {
	st, err := a.runState(ctx, tenant)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	return st.ts, st.since, maps.Clone(st.last), nil
}

// runState is what a tenant's log says about its schedule, as of size.
type runState struct {
	size  uint64
	ts    *TenantSchedule
	since time.Time
	last  map[schedule.Kind]time.Time
	// served is when the newest procedure of each kind that ended started:
	// a backup whose worker died before run.finished is not served.
	served map[schedule.Kind]time.Time
	open   map[string]time.Time // backup runs started and not yet finished, by run id
}

// runStates keeps each tenant's runState, so that a read again (at every
// job a worker starts under a lease: another worker may have run it) reads
// only what was logged since.
type runStates struct {
	mu sync.Mutex
	by map[string]*runState
}

// runState reads the tenant's log from where it was last read.
func (a *App) runState(ctx context.Context, tenant string) (*runState, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	a.runs.mu.Lock()
	prev := a.runs.by[tenant]
	a.runs.mu.Unlock()
	st := &runState{ts: &TenantSchedule{Schedule: schedule.Default(), Default: true}, last: map[schedule.Kind]time.Time{},
		served: map[schedule.Kind]time.Time{}, open: map[string]time.Time{}}
	if prev != nil && prev.size <= s.Size() {
		ts := *prev.ts
		st.size, st.ts, st.since = prev.size, &ts, prev.since
		st.last, st.served, st.open = maps.Clone(prev.last), maps.Clone(prev.served), maps.Clone(prev.open)
	}
	if st.size == 0 {
		if r, _, err := s.Record(ctx, 0); err == nil {
			st.since = r.Time
		}
	}
	size := s.Size()
	// One pass over the log: the schedule, and when each procedure last ran.
	types := []string{record.TypeScheduleSet, record.TypeRunStarted, record.TypeRunFinished, record.TypeVerifyRun, record.TypeRestorePerformed, record.TypeReportIssued}
	err = s.Scan(ctx, st.size, types, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("read schedule state", holdfast.Integrity, err)
		}
		var k schedule.Kind
		switch r.Type {
		case record.TypeScheduleSet:
			return st.ts.set(r)
		case record.TypeRunStarted, record.TypeRunFinished:
			var d struct {
				Run string `json:"run"`
			}
			if err := json.Unmarshal(r.Data, &d); err != nil {
				return holdfast.E("read schedule state", holdfast.Integrity, err)
			}
			if r.Type == record.TypeRunFinished {
				if at, ok := st.open[d.Run]; ok {
					delete(st.open, d.Run)
					if at.After(st.served[schedule.Backup]) {
						st.served[schedule.Backup] = at
					}
				}
				return nil
			}
			st.open[d.Run] = r.Time
			if r.Time.After(st.last[schedule.Backup]) {
				st.last[schedule.Backup] = r.Time
			}
			return nil
		case record.TypeVerifyRun:
			k = schedule.Verify
		case record.TypeRestorePerformed:
			var d record.RestorePerformed
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if !d.Test {
				return nil
			}
			k = schedule.RestoreTest
		case record.TypeReportIssued:
			k = schedule.Report
		}
		if r.Time.After(st.last[k]) {
			st.last[k] = r.Time
		}
		if r.Time.After(st.served[k]) {
			st.served[k] = r.Time
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.size = size
	a.runs.mu.Lock()
	if a.runs.by == nil {
		a.runs.by = map[string]*runState{}
	}
	a.runs.by[tenant] = st
	a.runs.mu.Unlock()
	return st, nil
}

// ranElsewhere says, under the tenant's lease, whether job j has been
// served since it fell due — by another worker sharing the tenant — and
// so must not run again: a job a person asked for, when a procedure of
// the kind that ended started since they asked; a scheduled one, when the
// start of the last that ended puts the next slot after now. A backup
// whose worker died before it ended serves nothing: it is run again, and
// resumes from the log.
func (a *App) ranElsewhere(ctx context.Context, j schedule.Job, now time.Time) (string, error) {
	st, err := a.runState(ctx, j.Tenant)
	if err != nil {
		return "", err
	}
	last := st.served[j.Kind]
	if last.IsZero() {
		return "", nil
	}
	served := !last.Before(j.Due)
	if !j.Asked {
		p, err := schedule.Parse(j.Tenant, st.ts.Schedule)
		if err != nil {
			return "", err
		}
		next := p.Next(j.Kind, last, st.since)
		served = next.IsZero() || next.After(now)
	}
	if !served {
		return "", nil
	}
	return fmt.Sprintf("%s of %s started at %s on another worker; not run again", j.Kind, j.Tenant, last.UTC().Format(time.RFC3339)), nil
}

// leaseSlack is added to a holder's lease expiry before asking again.
const leaseSlack = 2 * time.Second

// runLeased runs a job under the tenant's lease (for a tenant in a bucket,
// which other workers may share), and not at all when another worker has
// served it since it fell due. The job's context is cancelled when the
// lease is about to lapse.
func (a *App) runLeased(ctx context.Context, j schedule.Job, o ServeOptions, run func(context.Context) (JobResult, error)) (JobResult, error) {
	lctx, _, release, err := a.holdTenant(ctx, j.Tenant)
	if err != nil {
		return JobResult{}, err
	}
	defer release()
	why, err := a.ranElsewhere(lctx, j, o.Clock.Now())
	if err != nil || why != "" {
		return JobResult{Skipped: why}, err
	}
	r, err := run(lctx)
	if c := context.Cause(lctx); err != nil && c != nil && lctx.Err() != nil && ctx.Err() == nil {
		// The lease, not the service, stopped it: ask again once the
		// lease would have lapsed — another worker holds the tenant by
		// then, or this one takes it again.
		if !errors.Is(err, c) {
			err = errors.Join(err, c)
		}
		ttl := a.opts.LeaseTTL
		if ttl <= 0 {
			ttl = DefaultLeaseTTL
		}
		err = &schedule.Deferred{Err: err, After: ttl + leaseSlack}
	}
	return r, err
}

// RunJob runs one scheduled job as the scheduler: a backup (and the
// policies after it when the schedule says so), a verify run, a restore
// test or a report. Each writes the same records as its CLI twin.
func (a *App) RunJob(ctx context.Context, j schedule.Job, sc record.Schedule, conn Connector, progress func(ingest.Progress)) (JobResult, error) {
	who := Scheduler
	var out JobResult
	switch j.Kind {
	case schedule.Backup:
		src, err := conn.Source(j.Tenant)
		if err != nil {
			return out, err
		}
		res, err := a.Backup(ctx, who, j.Tenant, src, BackupOptions{Workloads: holdfast.Workloads, Progress: progress})
		out.Backup = res
		if res == nil {
			return out, err
		}
		if sc.PolicyAfterBackup && ctx.Err() == nil {
			b, perr := policy.LoadBundle("")
			if perr == nil {
				dir := func(tenant string) (Directory, error) { return conn.Directory(tenant) }
				out.Findings, perr = a.EvaluatePolicies(ctx, who, j.Tenant, b, dir)
			}
			if perr != nil {
				err = errors.Join(err, fmt.Errorf("policies after the backup: %w", perr))
			}
		}
		if err == nil && res.Status != ingest.StatusCompleted {
			err = holdfast.Errorf("backup", holdfast.Other, "run %s %s with %d failed items", res.Run, res.Status, len(res.FailedItems))
		}
		return out, err
	case schedule.Verify:
		v, err := a.Verify(ctx, who, j.Tenant, VerifyOptions{ReadDataPercent: sc.VerifyReadPercent})
		out.Verified = v
		return out, err
	case schedule.RestoreTest:
		t, err := a.RestoreTest(ctx, who, j.Tenant, sc.RestoreSample)
		out.Test = t
		return out, err
	case schedule.Report:
		signer, err := reports.LoadSigner(a.SignerDir())
		if err != nil {
			return out, err
		}
		b, err := policy.LoadBundle("")
		if err != nil {
			return out, err
		}
		dir := sc.ReportDir
		if dir == "" {
			dir = filepath.Join(a.data.Dir, "reports", j.Tenant)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return out, holdfast.E("report", holdfast.IO, err)
		}
		to := a.now().UTC().Truncate(time.Second)
		path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.pdf", j.Tenant, sc.ReportKind, to.Format("20060102T150405Z")))
		out.Report, err = a.IssueReport(ctx, who, j.Tenant, ReportOptions{Kind: sc.ReportKind, Out: path, From: to.AddDate(0, -1, 0), To: to, Policies: b, Signer: signer})
		return out, err
	}
	return out, holdfast.Errorf("run job", holdfast.Invalid, "unknown job kind %q", j.Kind)
}
