package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/schedule"
	"github.com/holdfast/holdfast/schedule/scheduletest"
	"github.com/holdfast/holdfast/store"
)

var fixed = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// newApp returns an App on a fresh data directory with tenant "contoso",
// on a clock that stands still at fixed.
func newApp(t *testing.T) *App {
	t.Helper()
	dir := t.TempDir()
	d := store.DataDir{Dir: dir}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(context.Background(), "contoso", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	return New(dir, Options{Now: func() time.Time { return fixed }})
}

// records returns contoso's records of type typ.
func records(t *testing.T, a *App, typ string) []record.Record {
	t.Helper()
	return recordsOf(t, a, "contoso", typ)
}

// recordsOf returns a tenant's records of type typ.
func recordsOf(t *testing.T, a *App, tenant, typ string) []record.Record {
	t.Helper()
	s, err := a.Open(context.Background(), tenant, ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var out []record.Record
	err = s.Records(context.Background(), 0, func(_ []byte, r store.Record) error {
		if r.Type == typ {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHoldIsRecordedWithActorAndClock(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	who := Actor{Name: "alice@contoso.example", From: "10.0.0.5"}
	res, err := a.PlaceHold(ctx, who, "contoso", HoldOptions{Case: "Smith", Custodians: []string{" Ann@Contoso.example "}, Reason: "litigation"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Unknown, []string{"ann@contoso.example"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("unknown custodians: got %v, want %v", got, want)
	}
	recs := records(t, a, record.TypeHoldPlaced)
	if len(recs) != 1 {
		t.Fatalf("got %d hold.placed records, want 1", len(recs))
	}
	var p record.HoldPlaced
	if err := json.Unmarshal(recs[0].Data, &p); err != nil {
		t.Fatal(err)
	}
	if p.Actor != "alice@contoso.example (10.0.0.5)" || !recs[0].Time.Equal(fixed) || p.Custodians[0] != "ann@contoso.example" {
		t.Errorf("hold.placed: got actor %q at %v, custodians %v; want the console user from her address, at %v", p.Actor, recs[0].Time, p.Custodians, fixed)
	}
	if _, err := a.PlaceHold(ctx, who, "contoso", HoldOptions{Case: "smith", Custodians: []string{"x@y"}, Reason: "again"}); !holdfast.Is(holdfast.Exist, err) {
		t.Errorf("second active hold on the case: got %v, want an Exist error", err)
	}
	if _, err := a.ReleaseHold(ctx, Actor{Name: "scheduler"}, "contoso", "SMITH", "settled"); err != nil {
		t.Fatal(err)
	}
	rel := records(t, a, record.TypeHoldReleased)
	if len(rel) != 1 || !strings.Contains(string(rel[0].Data), `"actor":"scheduler"`) {
		t.Errorf("hold.released: got %v", rel)
	}
}

func TestActorIsRequiredAndVisible(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	for _, who := range []Actor{{}, {Name: "  "}, {Name: "eve\x1b[2J", From: "h"}, {Name: "bob", From: "h\u202e"}} {
		_, err := a.PlaceHold(ctx, who, "contoso", HoldOptions{Case: "C", Custodians: []string{"a@b"}, Reason: "r"})
		if !holdfast.Is(holdfast.Invalid, err) {
			t.Errorf("actor %q: got %v, want an Invalid error", who.String(), err)
		}
	}
	if n := len(records(t, a, record.TypeHoldPlaced)); n != 0 {
		t.Errorf("%d holds placed by refused actors", n)
	}
}

func TestActorString(t *testing.T) {
	tests := []struct {
		who  Actor
		want string
	}{
		{Actor{Name: "alice", From: "ws12"}, "alice@ws12"},
		{Actor{Name: "alice@contoso.example", From: "10.0.0.5"}, "alice@contoso.example (10.0.0.5)"},
		{Actor{Name: "scheduler"}, "scheduler"},
	}
	for _, tt := range tests {
		if got := tt.who.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.who, got, tt.want)
		}
	}
}

func TestSearchIsAuditedOnTheAppsClock(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	if _, err := a.Search(ctx, Actor{Name: "legal@contoso.example", From: "10.0.0.9"}, "contoso", SearchOptions{Query: "budget", Limit: 10}); err != nil {
		t.Fatal(err)
	}
	recs := records(t, a, record.TypeAudit)
	if len(recs) != 1 {
		t.Fatalf("got %d audit records, want 1", len(recs))
	}
	var ev record.Audit
	if err := json.Unmarshal(recs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	want := record.Audit{Action: "search", Actor: "legal@contoso.example (10.0.0.9)", Time: fixed, Tenant: "contoso", Query: "budget"}
	if ev != want {
		t.Errorf("audit: got %+v, want %+v", ev, want)
	}
	if _, err := a.Search(ctx, Actor{Name: "x"}, "contoso", SearchOptions{Query: "subject:(", Limit: 1}); !holdfast.Is(holdfast.Invalid, err) || !strings.Contains(err.Error(), "position") {
		t.Errorf("malformed query: got %v, want an Invalid error naming the position", err)
	}
}

func TestSetPolicyLogsTheSettings(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	days, ws := 2555, "mail,onedrive"
	st, err := a.SetPolicy(ctx, Actor{Name: "tech", From: "h"}, "contoso", SettingsChange{RetentionDays: &days, Workloads: &ws})
	if err != nil {
		t.Fatal(err)
	}
	if st.RetentionDays != days || strings.Join(st.Workloads, ",") != ws || st.Profile != "none" {
		t.Errorf("settings: got %+v", st)
	}
	recs := records(t, a, record.TypePolicySettings)
	if len(recs) != 1 || !recs[0].Time.Equal(fixed) {
		t.Fatalf("policy.settings records: %v", recs)
	}
	var set record.PolicySettingsSet
	if err := record.Unmarshal(recs[0], record.TypePolicySettings, &set); err != nil || set.Actor != "tech@h" || set.RetentionDays != days {
		t.Errorf("policy.settings: got %+v, %v; want the settings set by tech@h", set, err)
	}
	bad := "mail,fax"
	if _, err := a.SetPolicy(ctx, Actor{Name: "tech"}, "contoso", SettingsChange{Workloads: &bad}); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("unknown workload: got %v, want Invalid", err)
	}
}

// fakeProbe is a tenant as a connection test sees it.
type fakeProbe struct {
	roles    []string
	accounts []holdfast.Account
}

func (p fakeProbe) Roles(context.Context) ([]string, error) { return p.roles, nil }
func (p fakeProbe) Accounts(context.Context) ([]holdfast.Account, error) {
	return p.accounts, nil
}

func TestTestTenantNamesMissingPermissions(t *testing.T) {
	required := map[string][][]string{
		"directory": {{"User.Read.All", "Directory.Read.All"}},
		"mail":      {{"Mail.Read", "Mail.ReadWrite"}},
		"teams":     {{"ChannelMessage.Read.All"}, {"Chat.Read.All", "Chat.ReadWrite.All"}},
	}
	a := newApp(t)
	probe := fakeProbe{roles: []string{"Mail.ReadWrite", "Directory.Read.All", "Chat.Read.All"},
		accounts: []holdfast.Account{{UPN: "a@x", Enabled: true, Licensed: true}, {UPN: "b@x", Enabled: false, Licensed: true}}}
	res, err := a.TestTenant(context.Background(), "contoso", probe, required)
	if !holdfast.Is(holdfast.Permission, err) || !strings.Contains(err.Error(), "teams") {
		t.Fatalf("got %v, want a Permission error naming teams", err)
	}
	if got := res.Missing["teams"]; len(got) != 1 || got[0] != "ChannelMessage.Read.All" {
		t.Errorf("missing for teams: got %v", got)
	}
	if !res.Workloads["mail"] || res.Workloads["teams"] || res.Accounts != 2 || res.Departed != 1 || res.OK {
		t.Errorf("result: got %+v", res)
	}
	probe.roles = append(probe.roles, "ChannelMessage.Read.All")
	if res, err := a.TestTenant(context.Background(), "contoso", probe, required); err != nil || !res.OK {
		t.Errorf("every permission granted: got %+v, %v", res, err)
	}
}

func TestItemHistoryIsAudited(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	s, err := a.Open(ctx, "contoso", Write)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.PutBytes(ctx, []byte("Subject: hi\r\n\r\nbody"))
	if err != nil {
		t.Fatal(err)
	}
	v := record.ItemVersion{Account: "ann@x", AccountID: "u1", Workload: holdfast.Mail, Item: "AAMk\"1", Path: "Inbox", Stream: "s", Run: "r", Change: "c1",
		Mail: &record.MessageMeta{Subject: "hi"}}
	if _, err := s.Append(ctx, record.TypeItemVersion, v, ref); err != nil {
		t.Fatal(err)
	}
	other := v
	other.Item = "AAMk2"
	if _, err := s.Append(ctx, record.TypeItemVersion, other, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, record.TypeTombstone, record.Tombstone{Account: "ann@x", AccountID: "u1", Workload: holdfast.Mail, Item: "AAMk\"1", Reason: "deleted"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := a.Item(ctx, Actor{Name: "legal@x", From: "10.0.0.9"}, "contoso", "AAMk\"1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 2 || h.Versions[0].Version == nil || h.Versions[0].Version.Mail.Subject != "hi" || h.Versions[1].Type != record.TypeTombstone {
		t.Errorf("history: got %+v", h.Versions)
	}
	audits := records(t, a, record.TypeAudit)
	if len(audits) != 1 || !strings.Contains(string(audits[0].Data), `"action":"read"`) {
		t.Errorf("audit of the read: got %v", audits)
	}
	if _, err := a.Item(ctx, Actor{Name: "legal@x"}, "contoso", "never"); !holdfast.Is(holdfast.NotFound, err) {
		t.Errorf("unknown item: got %v, want NotFound", err)
	}
}

func TestScheduleChangesAreLogged(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	sc, err := a.Schedule(ctx, "contoso")
	if err != nil || !sc.Default || sc.Backup != "@every 4h" {
		t.Fatalf("before any change: %+v, %v; want the default", sc, err)
	}
	every, verify := "@every 6h", ""
	got, err := a.SetSchedule(ctx, Actor{Name: "tech", From: "ws1"}, "contoso", ScheduleChange{Backup: &every, Verify: &verify})
	if err != nil {
		t.Fatal(err)
	}
	if got.Backup != every || got.Verify != "" || got.RestoreTest != "0 4 1 * *" {
		t.Errorf("after the change: %+v", got.Schedule)
	}
	recs := records(t, a, record.TypeScheduleSet)
	var set record.ScheduleSet
	if len(recs) != 1 || record.Unmarshal(recs[0], record.TypeScheduleSet, &set) != nil || set.Actor != "tech@ws1" || set.Backup != every || !recs[0].Time.Equal(fixed) {
		t.Fatalf("schedule.set records: %v (%+v)", recs, set)
	}
	again, err := a.Schedule(ctx, "contoso")
	if err != nil || again.Default || again.Backup != every || again.SetBy != "tech@ws1" {
		t.Errorf("read back: %+v, %v", again, err)
	}
	for name, ch := range map[string]ScheduleChange{
		"bad spec":    {Backup: ptr("every day")},
		"too often":   {Backup: ptr("@every 1m")},
		"report kind": {ReportKind: ptr("hold")},
	} {
		if _, err := a.SetSchedule(ctx, Actor{Name: "tech"}, "contoso", ch); !holdfast.Is(holdfast.Invalid, err) {
			t.Errorf("%s: got %v, want Invalid", name, err)
		}
	}
	if n := len(records(t, a, record.TypeScheduleSet)); n != 1 {
		t.Errorf("refused changes were logged: %d schedule.set records", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestLateBackups(t *testing.T) {
	ctx := context.Background()
	base := newApp(t)
	now := fixed
	a := New(base.Data().Dir, Options{Now: func() time.Time { return now }})
	s, err := a.Open(ctx, "contoso", Write)
	if err != nil {
		t.Fatal(err)
	}
	for _, upn := range []string{"ann@contoso.example", "carl@contoso.example"} {
		if _, err := s.Append(ctx, record.TypeDeltaPosition, record.DeltaPosition{Stream: "mail/" + upn, Account: upn, Workload: holdfast.Mail, Folder: "f", Path: "Inbox", Link: "x", Run: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	// A departure, as ingest records it: the new state, and the departure.
	for _, typ := range []string{record.TypeAccountState, record.TypeAccountDeparted} {
		if _, err := s.Append(ctx, typ, record.AccountState{Account: "carl@contoso.example", AccountID: "u3", State: "disabled"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(ctx)
	if late, err := a.LateBackups(ctx, "contoso"); err != nil || len(late) != 0 {
		t.Fatalf("right after a capture: %v, %v", late, err)
	}
	now = fixed.Add(25 * time.Hour)
	late, err := a.LateBackups(ctx, "contoso")
	if err != nil || len(late) != 1 || late[0].Account != "ann@contoso.example" || late[0].Workload != holdfast.Mail || late[0].RPOHours != 24 {
		t.Fatalf("25 hours on, RPO 24 h: %+v, %v (the departed account is never late)", late, err)
	}
	rpo := 48.0
	if _, err := a.SetPolicy(ctx, Actor{Name: "tech"}, "contoso", SettingsChange{RPOHours: &rpo}); err != nil {
		t.Fatal(err)
	}
	if late, _ := a.LateBackups(ctx, "contoso"); len(late) != 0 {
		t.Errorf("with an RPO of 48 h: %+v", late)
	}
}

func TestStatusAllIsKeptUntilTheLogGrows(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	// A write through the store raises the tenant's high-water mark,
	// which the cache keys on (a tenant without one is read every time).
	if _, err := a.SetSchedule(ctx, Actor{Name: "t"}, "contoso", ScheduleChange{}); err != nil {
		t.Fatal(err)
	}
	first := a.StatusAll(ctx, []string{"contoso", "nosuch"})
	if first[0].Status == nil || first[1].Error == "" {
		t.Fatalf("first: %+v", first)
	}
	again := a.StatusAll(ctx, []string{"contoso"})
	if again[0].Status != first[0].Status {
		t.Error("an unchanged tenant's status was read again")
	}
	s, err := a.Open(ctx, "contoso", Write)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, record.TypeDeltaPosition, record.DeltaPosition{Stream: "s", Account: "ann@contoso.example", Workload: holdfast.Mail, Link: "x"}); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	grown := a.StatusAll(ctx, []string{"contoso"})
	// The record appended, and the checkpoint Close signed over it.
	if grown[0].Status == first[0].Status || grown[0].Records != first[0].Records+2 || len(grown[0].Accounts) != 1 {
		t.Errorf("after the log grew: %d records, %d accounts; want %d and 1", grown[0].Records, len(grown[0].Accounts), first[0].Records+2)
	}
}

type noConnector struct{}

func (noConnector) Source(string) (ingest.Source, error) {
	return nil, holdfast.E("connect", holdfast.Invalid, "no tenant in this test")
}
func (noConnector) Directory(string) (Directory, error) {
	return nil, holdfast.E("connect", holdfast.Invalid, "no tenant in this test")
}

// TestServeReloadsAChangedSchedule: a reload (SIGHUP) picks up a schedule
// changed beside the running service — what the service keeps of a
// tenant's log is read again once the log grew.
func TestServeReloadsAChangedSchedule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newApp(t)
	who := Actor{Name: "tech1", From: "ws1"}
	if _, err := a.SetSchedule(ctx, who, "contoso", ScheduleChange{Paused: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	clock := scheduletest.NewClock(time.Now().Add(2 * time.Hour)) // after the tenant was created
	reload := make(chan struct{})
	started := make(chan schedule.Job, 10)
	state := &ServiceState{}
	served := make(chan error, 1)
	go func() {
		served <- a.Serve(ctx, ServeOptions{Clock: clock, Connect: noConnector{}, Reload: time.Hour, ReloadNow: reload,
			Event: func(e schedule.Event) {
				if e.Started {
					started <- e.Job
				}
			}}, state)
	}()
	for deadline := time.Now().Add(10 * time.Second); state.Status().Tenants != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the service did not load the tenant")
		}
	}
	reload <- struct{}{} // nothing changed: still paused
	select {
	case j := <-started:
		t.Fatalf("a paused tenant ran %s", j)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := a.SetSchedule(ctx, who, "contoso", ScheduleChange{Paused: ptr(false), Backup: ptr(""), Verify: ptr("@every 1h"), RestoreTest: ptr(""), Report: ptr("")}); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	select {
	case j := <-started:
		if j.Kind != schedule.Verify || j.Tenant != "contoso" {
			t.Errorf("after the change: %s started, want contoso's verify", j)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the changed schedule was not picked up at the reload")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// onceConnector hands out a source once (a backup that finds the store
// held never reads it), then refuses.
type onceConnector struct{ n *int }

func (c onceConnector) Source(string) (ingest.Source, error) {
	if *c.n++; *c.n == 1 {
		return nil, nil
	}
	return nil, holdfast.E("connect", holdfast.Invalid, "no tenant in this test")
}
func (c onceConnector) Directory(string) (Directory, error) { return noConnector{}.Directory("") }

// TestServeDefersABackupWhileTheStoreIsHeld: a scheduled backup that finds
// the tenant's store held by another process (an operator's backup from
// the shell) is deferred, not failed, and tried again RetryLocked later
// rather than at its next slot.
func TestServeDefersABackupWhileTheStoreIsHeld(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newApp(t)
	who := Actor{Name: "tech1", From: "ws1"}
	if _, err := a.SetSchedule(ctx, who, "contoso", ScheduleChange{Backup: ptr("@every 4h"), BackupJitter: ptr("0s"), Verify: ptr(""), RestoreTest: ptr(""), Report: ptr("")}); err != nil {
		t.Fatal(err)
	}
	held, err := a.Open(ctx, "contoso", Write)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	clock := scheduletest.NewClock(start)
	events := make(chan schedule.Event, 10)
	served := make(chan error, 1)
	n := 0
	go func() {
		served <- a.Serve(ctx, ServeOptions{Clock: clock, Connect: onceConnector{&n}, Reload: time.Hour,
			Event: func(e schedule.Event) { events <- e }}, nil)
	}()
	next := func() schedule.Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event from the service")
		}
		return schedule.Event{}
	}
	if e := next(); !e.Started || e.Job.Kind != schedule.Backup {
		t.Fatalf("first event %+v, want the backup started", e)
	}
	e := next()
	if !holdfast.Is(holdfast.Locked, e.Err) || !e.Retry.Equal(start.Add(RetryLocked)) {
		t.Fatalf("the backup beside a held store: %+v, want deferred to %v", e, start.Add(RetryLocked))
	}
	held.Close(ctx)
	clock.Advance(RetryLocked)
	if e := next(); !e.Started || e.Job.Kind != schedule.Backup || !e.At.Equal(start.Add(RetryLocked)) {
		t.Fatalf("after the deferral: %+v, want the backup tried again at %v", e, start.Add(RetryLocked))
	}
	if e := next(); e.Err == nil || !e.Retry.IsZero() || holdfast.Is(holdfast.Locked, e.Err) {
		t.Errorf("the second attempt: %+v, want it run (and fail on this test's connector), not deferred", e)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
