// Package schedule decides when each tenant's procedures run under
// holdfast serve: backups (with a per-tenant jitter, so forty tenants do not
// start at once), verify runs, restore tests and reports. It holds no I/O:
// the service gives it the time, each tenant's schedule and when each
// procedure last ran, asks which jobs are due, and reports when they end.
//
// Rules: a slot missed while the service was down runs at start-up (once,
// not once per missed slot); a job still running when its next slot comes
// is not started twice; a tenant runs one job at a time (a backup and a
// verify of one tenant would contend for its store's writer lock); at most
// MaxBackups backups run at once across all tenants, and due jobs wait
// their turn in the order they fell due.
package schedule

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/robfig/cron/v3"
)

// Kind is a scheduled procedure.
type Kind string

const (
	Backup      Kind = "backup"
	Verify      Kind = "verify"
	RestoreTest Kind = "restore-test"
	Report      Kind = "report"
)

// Kinds lists the procedures in the order they are considered.
var Kinds = []Kind{Backup, Verify, RestoreTest, Report}

// Default is the schedule of a tenant nobody has set one for: what an MSP
// wants without thinking — a backup every four hours spread over half an
// hour, policies after each, a weekly verify re-reading a tenth of the
// packs, a monthly restore test of 20 items and a monthly procedures
// report.
func Default() record.Schedule {
	return record.Schedule{Backup: "@every 4h", BackupJitter: "30m", PolicyAfterBackup: true,
		Verify: "0 3 * * 0", VerifyReadPercent: 10, RestoreTest: "0 4 1 * *", RestoreSample: 20,
		Report: "0 6 1 * *", ReportKind: "procedures"}
}

// Job is a procedure of a tenant that is due.
type Job struct {
	Tenant string    `json:"tenant"`
	Kind   Kind      `json:"kind"`
	Due    time.Time `json:"due"` // when it fell due (a slot, plus the tenant's jitter for backups)
	// Asked: a person asked for it (RunNow), rather than a slot; Due is
	// when they asked.
	Asked bool `json:"asked,omitempty"`
}

// Plan is a tenant's schedule, parsed.
type Plan struct {
	Schedule record.Schedule
	specs    map[Kind]cron.Schedule
	offset   time.Duration // this tenant's share of the backup jitter
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse checks a tenant's schedule and parses its specs; an error names
// the field and what is wrong with it.
func Parse(tenant string, s record.Schedule) (*Plan, error) {
	const op = "schedule"
	p := &Plan{Schedule: s, specs: map[Kind]cron.Schedule{}}
	for k, spec := range map[Kind]string{Backup: s.Backup, Verify: s.Verify, RestoreTest: s.RestoreTest, Report: s.Report} {
		if spec == "" {
			continue
		}
		c, err := parser.Parse(spec)
		if err != nil {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "%s %q: %v (a cron expression such as \"0 3 * * 0\", or @every 4h, @daily, @weekly, @monthly)", k, spec, err)
		}
		if every, ok := c.(cron.ConstantDelaySchedule); ok && every.Delay < 5*time.Minute {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "%s %q: at most every 5 minutes", k, spec)
		}
		p.specs[k] = c
	}
	if s.BackupJitter != "" {
		j, err := time.ParseDuration(s.BackupJitter)
		if err != nil || j < 0 {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "backup jitter %q: want a duration such as 30m", s.BackupJitter)
		}
		if j > 0 {
			h := fnv.New64a()
			h.Write([]byte(tenant))
			p.offset = time.Duration(h.Sum64() % uint64(j))
		}
	}
	switch {
	case s.VerifyReadPercent < 0 || s.VerifyReadPercent > 100:
		return nil, holdfast.Errorf(op, holdfast.Invalid, "verify read percent %v: want 0 to 100", s.VerifyReadPercent)
	case s.RestoreTest != "" && s.RestoreSample < 1:
		return nil, holdfast.Errorf(op, holdfast.Invalid, "restore sample %d: want at least 1", s.RestoreSample)
	case s.Report != "" && s.ReportKind == "":
		return nil, holdfast.E(op, holdfast.Invalid, "a scheduled report needs a kind (procedures, coverage, restore-tests)")
	}
	return p, nil
}

// Next is when kind is next due after it last ran at last (zero: it never
// ran, and since is when the tenant was created); zero when kind is not
// scheduled or the schedule is paused.
func (p *Plan) Next(kind Kind, last, since time.Time) time.Time {
	spec := p.specs[kind]
	if spec == nil || p.Schedule.Paused {
		return time.Time{}
	}
	if last.IsZero() {
		if kind == Backup {
			return since // a tenant never backed up is due at once
		}
		last = since
	}
	if kind != Backup {
		return spec.Next(last.UTC())
	}
	// Backups run offset after their slot: schedule in unshifted time, so
	// that the offset does not accumulate from one run to the next.
	return spec.Next(last.UTC().Add(-p.offset)).Add(p.offset)
}

// Offset is this tenant's share of the backup jitter, in [0, jitter).
func (p *Plan) Offset() time.Duration { return p.offset }

type key struct {
	tenant string
	kind   Kind
}

// Scheduler holds every tenant's plan and what ran when. It is not safe
// for concurrent use: the service calls it from one goroutine.
type Scheduler struct {
	// MaxBackups is how many backups run at once across all tenants
	// (at least 1).
	MaxBackups int

	plans   map[string]*Plan
	since   map[string]time.Time // when each tenant was created
	last    map[key]time.Time    // when each procedure last started
	running map[key]bool
	now     map[key]time.Time // jobs asked for now (RunNow), with when
	retry   map[key]time.Time // deferred jobs (Retry), with when they are tried again
	asked   map[key]time.Time // deferred jobs a person asked for, with when they asked
	busy    map[string]bool   // tenants with a job running
	backups int               // running
}

// New returns a scheduler that runs at most maxBackups backups at once.
func New(maxBackups int) *Scheduler {
	return &Scheduler{MaxBackups: max(1, maxBackups), plans: map[string]*Plan{}, since: map[string]time.Time{},
		last: map[key]time.Time{}, running: map[key]bool{}, now: map[key]time.Time{}, retry: map[key]time.Time{}, asked: map[key]time.Time{}, busy: map[string]bool{}}
}

// SetPlan gives a tenant its plan; since is when the tenant was created
// (the base of procedures that never ran).
func (s *Scheduler) SetPlan(tenant string, p *Plan, since time.Time) {
	s.plans[tenant] = p
	s.since[tenant] = since
}

// Ran records that a procedure last started at t (read from the log at
// start-up).
func (s *Scheduler) Ran(tenant string, kind Kind, t time.Time) {
	if k := (key{tenant, kind}); t.After(s.last[k]) {
		s.last[k] = t
	}
}

// RunNow asks for a tenant's procedure to run at the first chance (a
// person's "back up now"), under the same rules as a scheduled one: not
// twice at once, one job per tenant, at most MaxBackups backups. It is an
// error for a tenant without a plan.
func (s *Scheduler) RunNow(tenant string, kind Kind, at time.Time) error {
	if s.plans[tenant] == nil {
		return fmt.Errorf("tenant %s is not scheduled", tenant)
	}
	if !slices.Contains(Kinds, kind) {
		return fmt.Errorf("no procedure %q", kind)
	}
	s.now[key{tenant, kind}] = at
	return nil
}

// Retry tries a job that could not start (see Deferred) again at at,
// unless its next slot comes first.
func (s *Scheduler) Retry(j Job, at time.Time) {
	k := key{j.Tenant, j.Kind}
	p := s.plans[j.Tenant]
	if p == nil {
		return
	}
	if j.Asked {
		s.asked[k] = j.Due
	} else if next := p.Next(j.Kind, s.last[k], s.since[j.Tenant]); !next.IsZero() && !next.After(at) {
		return
	}
	s.retry[k] = at
}

// due lists every job due at now that is not running, oldest first.
func (s *Scheduler) due(now time.Time) []Job {
	var out []Job
	for tenant, p := range s.plans {
		for _, kind := range Kinds {
			k := key{tenant, kind}
			if s.running[k] {
				continue
			}
			if asked, ok := s.now[k]; ok {
				out = append(out, Job{Tenant: tenant, Kind: kind, Due: asked, Asked: true})
				continue
			}
			if at, ok := s.retry[k]; ok && !at.After(now) {
				j := Job{Tenant: tenant, Kind: kind, Due: at}
				if asked, ok := s.asked[k]; ok {
					j.Due, j.Asked = asked, true
				}
				out = append(out, j)
				continue
			}
			if next := p.Next(kind, s.last[k], s.since[tenant]); !next.IsZero() && !next.After(now) {
				out = append(out, Job{Tenant: tenant, Kind: kind, Due: next})
			}
		}
	}
	slices.SortFunc(out, func(a, b Job) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		if a.Tenant != b.Tenant {
			if a.Tenant < b.Tenant {
				return -1
			}
			return 1
		}
		return slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind)
	})
	return out
}

// Start returns the jobs to start at now and marks them running: every
// due job but those of a tenant with a job running and backups beyond
// MaxBackups, which wait, the longest-waiting first. A job's start is what
// its next slot counts from.
func (s *Scheduler) Start(now time.Time) []Job {
	var out []Job
	for _, j := range s.due(now) {
		if s.busy[j.Tenant] {
			continue
		}
		if j.Kind == Backup {
			if s.backups >= s.MaxBackups {
				continue
			}
			s.backups++
		}
		k := key{j.Tenant, j.Kind}
		s.running[k] = true
		delete(s.now, k)
		delete(s.retry, k)
		delete(s.asked, k)
		s.busy[j.Tenant] = true
		s.last[k] = now
		out = append(out, j)
	}
	return out
}

// Done records that a job ended.
func (s *Scheduler) Done(j Job) {
	k := key{j.Tenant, j.Kind}
	if !s.running[k] {
		return
	}
	delete(s.running, k)
	delete(s.busy, j.Tenant)
	if j.Kind == Backup {
		s.backups--
	}
}

// Wake is when the next job falls due after now (zero: nothing is
// scheduled). Jobs already due but waiting for a slot do not count: the
// end of a running job wakes the service for them.
func (s *Scheduler) Wake(now time.Time) time.Time {
	var wake time.Time
	for tenant, p := range s.plans {
		for _, kind := range Kinds {
			k := key{tenant, kind}
			if s.running[k] {
				continue
			}
			for _, next := range []time.Time{p.Next(kind, s.last[k], s.since[tenant]), s.retry[k]} {
				if next.IsZero() || !next.After(now) {
					continue
				}
				if wake.IsZero() || next.Before(wake) {
					wake = next
				}
			}
		}
	}
	return wake
}

// String describes a job for logs and messages.
func (j Job) String() string {
	return fmt.Sprintf("%s of %s due %s", j.Kind, j.Tenant, j.Due.UTC().Format(time.RFC3339))
}
