package alert

import (
	"fmt"

	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/schedule"
)

// JobEvents are the events a scheduled job's outcome calls for.
func JobEvents(j schedule.Job, r app.JobResult, err error) []Event {
	var out []Event
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
