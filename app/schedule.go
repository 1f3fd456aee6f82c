package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/schedule"
	"github.com/holdfast/holdfast/store"
)

// TenantSchedule is a tenant's schedule as the log holds it.
type TenantSchedule struct {
	record.Schedule
	Default bool      `json:"default"`          // nobody set one: the default applies
	Record  uint64    `json:"record,omitempty"` // the schedule.set record
	SetBy   string    `json:"set_by,omitempty"`
	SetAt   time.Time `json:"set_at,omitzero"`
}

// Schedule returns the tenant's schedule: the latest schedule.set record,
// or the default.
func (a *App) Schedule(ctx context.Context, tenant string) (*TenantSchedule, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	return readSchedule(ctx, s)
}

func readSchedule(ctx context.Context, s *store.Store) (*TenantSchedule, error) {
	out := &TenantSchedule{Schedule: schedule.Default(), Default: true}
	err := s.Scan(ctx, 0, []string{record.TypeScheduleSet}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("read schedule", holdfast.Integrity, err)
		}
		return out.set(r)
	})
	return out, err
}

// set makes ts the schedule a schedule.set record holds.
func (ts *TenantSchedule) set(r record.Record) error {
	var d record.ScheduleSet
	if err := record.Unmarshal(r, r.Type, &d); err != nil {
		return err
	}
	*ts = TenantSchedule{Schedule: d.Schedule, Record: r.Index, SetBy: d.Actor, SetAt: r.Time}
	return nil
}

// ScheduleChange names the parts of a schedule to change; nil fields stay.
type ScheduleChange struct {
	Backup            *string
	BackupJitter      *string
	PolicyAfterBackup *bool
	Verify            *string
	VerifyReadPercent *float64
	RestoreTest       *string
	RestoreSample     *int
	Report            *string
	ReportKind        *string
	ReportDir         *string
	Paused            *bool
}

// SetSchedule changes a tenant's schedule and logs the whole new schedule
// as a schedule.set record (a schedule is evidence of a procedure). A
// running service picks it up at its next reload.
func (a *App) SetSchedule(ctx context.Context, who Actor, tenant string, ch ScheduleChange) (*TenantSchedule, error) {
	const op = "schedule set"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	cur, err := readSchedule(ctx, s)
	if err != nil {
		return nil, err
	}
	sc := cur.Schedule
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&sc.Backup, ch.Backup)
	set(&sc.BackupJitter, ch.BackupJitter)
	set(&sc.Verify, ch.Verify)
	set(&sc.RestoreTest, ch.RestoreTest)
	set(&sc.Report, ch.Report)
	set(&sc.ReportKind, ch.ReportKind)
	set(&sc.ReportDir, ch.ReportDir)
	if ch.PolicyAfterBackup != nil {
		sc.PolicyAfterBackup = *ch.PolicyAfterBackup
	}
	if ch.VerifyReadPercent != nil {
		sc.VerifyReadPercent = *ch.VerifyReadPercent
	}
	if ch.RestoreSample != nil {
		sc.RestoreSample = *ch.RestoreSample
	}
	if ch.Paused != nil {
		sc.Paused = *ch.Paused
	}
	if _, err := schedule.Parse(tenant, sc); err != nil {
		return nil, holdfast.E(op, err)
	}
	if sc.Report != "" && !validReportKind(sc.ReportKind) {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "report kind %q: want procedures, coverage or restore-tests", sc.ReportKind)
	}
	idx, err := s.Append(ctx, record.TypeScheduleSet, record.ScheduleSet{Schedule: sc, Actor: who.String()})
	if err != nil {
		return nil, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return nil, err
	}
	return &TenantSchedule{Schedule: sc, Record: idx, SetBy: who.String(), SetAt: a.now().UTC()}, nil
}

// validReportKind: the kinds a schedule can issue (a hold report needs a
// case, so it is issued by hand).
func validReportKind(k string) bool {
	switch k {
	case "procedures", "coverage", "restore-tests":
		return true
	}
	return false
}
