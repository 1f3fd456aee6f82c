package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/schedule"
)

// JobEvents are the events a scheduled job's outcome calls for.
func JobEvents(j schedule.Job, r app.JobResult, err error) []Event {
	var out []Event
	if _, ok := errors.AsType[*schedule.Deferred](err); ok {
		return nil // not a failure: it is tried again soon
	}
	ev := func(name, summary string, detail any) {
		out = append(out, Event{Event: name, Tenant: j.Tenant, Summary: summary, Detail: detail})
	}
	switch {
	case r.Backup != nil && r.Backup.Status == ingest.StatusFailed:
		ev(BackupFailed, fmt.Sprintf("backup run %s failed: %s", r.Backup.Run, r.Backup.Error), r.Backup.RunFinished)
	case r.Backup != nil && r.Backup.Status == ingest.StatusWithFailures:
		ev(BackupPartial, fmt.Sprintf("backup run %s completed with %d failed items", r.Backup.Run, len(r.Backup.FailedItems)), r.Backup.RunFinished)
	case r.Verified != nil && !r.Verified.OK:
		ev(VerifyFailed, fmt.Sprintf("verify found %d failure(s)", len(r.Verified.Failures)), r.Verified.Failures)
	case err != nil:
		ev(JobFailed, fmt.Sprintf("%s failed: %v", j.Kind, err), nil)
	}
	if r.Findings != nil {
		for _, f := range r.Findings.Findings {
			out = append(out, Event{Event: Finding, Tenant: j.Tenant, Severity: f.Severity, Summary: f.Rule + ": " + f.Message, Detail: f})
		}
	}
	return out
}

// LateChecker tells, once, when an account's workload falls behind its
// tenant's RPO, or a tenant's log stays unsigned (no signed checkpoint
// covers its newest records) longer than UnsignedAfter, or its newest
// checkpoint does not verify; and again only after it caught up and fell
// behind anew.
type LateChecker struct {
	// UnsignedAfter is how long records may wait for a signed checkpoint
	// (default DefaultUnsignedAfter).
	UnsignedAfter time.Duration

	app  *app.App
	n    *Notifier
	told map[string]bool // tenant|account|workload, tenant|checkpoint
}

// DefaultUnsignedAfter: every write signs a checkpoint when it ends and a
// long backup every 10 minutes, so an hour without one means signing
// failed or a writer died with its records unsigned.
const DefaultUnsignedAfter = time.Hour

// NewLateChecker returns a checker that notifies through n.
func NewLateChecker(a *app.App, n *Notifier) *LateChecker {
	return &LateChecker{UnsignedAfter: DefaultUnsignedAfter, app: a, n: n, told: map[string]bool{}}
}

// Check looks at every tenant once; it returns the first error, having
// checked the others.
func (l *LateChecker) Check(ctx context.Context) error {
	tenants, err := l.app.Tenants()
	if err != nil {
		return err
	}
	var first error
	now := map[string]bool{}
	for _, t := range tenants {
		late, err := l.app.LateBackups(ctx, t)
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		for _, x := range late {
			k := t + "|" + x.Account + "|" + string(x.Workload)
			now[k] = true
			if l.told[k] {
				continue
			}
			summary := fmt.Sprintf("%s of %s not captured for more than %g hours", x.Workload, x.Account, x.RPOHours)
			if !x.Last.IsZero() {
				summary += " (last " + x.Last.UTC().Format(time.RFC3339) + ")"
			}
			l.n.Notify(ctx, Event{Event: BackupLate, Tenant: t, Summary: summary, Detail: x})
		}
		var ev *Event
		switch u, err := l.app.UnsignedTail(ctx, t); {
		case holdfast.Is(holdfast.Integrity, err):
			ev = &Event{Event: CheckpointUnsigned, Tenant: t, Summary: "the tenant's log or its newest checkpoint does not verify: " + err.Error()}
		case err != nil:
			first = cmp.Or(first, err)
		case u != nil && l.app.Now().Sub(u.Since) > l.UnsignedAfter:
			ev = &Event{Event: CheckpointUnsigned, Tenant: t, Detail: u,
				Summary: fmt.Sprintf("records %d to %d have waited for a signed checkpoint since %s", u.Checkpoint, u.Size-1, u.Since.UTC().Format(time.RFC3339))}
		}
		if ev != nil {
			k := t + "|checkpoint"
			now[k] = true
			if !l.told[k] {
				l.n.Notify(ctx, *ev)
			}
		}
	}
	l.told = now
	return first
}
