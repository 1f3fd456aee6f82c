package alert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/schedule"
)

func TestWebhookSignedRetriedAndRecorded(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var got []Event
	calls := 0
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first try fails: retried
			return
		}
		if r.Header.Get("X-Holdfast-Signature") != Signature(secret, body) {
			t.Errorf("signature %q does not match the body", r.Header.Get("X-Holdfast-Signature"))
		}
		var e Event
		json.Unmarshal(body, &e)
		got = append(got, e)
	}))
	defer srv.Close()
	c := &Config{}
	hookURL := srv.URL + "/hooks/T000/SECRETPATH?token=abc"
	w, err := c.AddWebhook(hookURL, nil, "high", nil)
	if err != nil {
		t.Fatal(err)
	}
	secret = w.Secret
	if err := Save(dir, c); err != nil {
		t.Fatal(err)
	}
	n := NewNotifier(dir, nil)
	n.Backoff = []time.Duration{time.Millisecond, time.Millisecond}
	n.Notify(context.Background(), Event{Event: BackupFailed, Tenant: "contoso", Summary: "backup run r1 failed"})
	n.Notify(context.Background(), Event{Event: Finding, Tenant: "contoso", Severity: "medium", Summary: "below the threshold"})
	n.Notify(context.Background(), Event{Event: Finding, Tenant: "contoso", Severity: "critical", Summary: "stale backup"})
	n.Wait()
	if len(got) != 2 {
		t.Fatalf("delivered %d events, want the failure and the critical finding: %+v", len(got), got)
	}
	attempts := n.Attempts()
	failed, ok := 0, 0
	for _, a := range attempts {
		switch {
		case a.OK:
			ok++
		case a.Status == 503:
			failed++
		}
	}
	if len(attempts) != 3 || failed != 1 || ok != 2 {
		t.Errorf("attempts: %+v, want one refused try and two deliveries", attempts)
	}
	for _, a := range attempts {
		if strings.Contains(a.Channel+a.Error, "SECRETPATH") || strings.Contains(a.Channel+a.Error, "token=abc") {
			t.Errorf("an attempt shows the receiver's secret: %+v", a)
		}
	}
}

func TestWebhookGivesUpAfterItsRetries(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	c := &Config{}
	c.AddWebhook(srv.URL, []string{VerifyFailed}, "", nil)
	Save(dir, c)
	n := NewNotifier(dir, nil)
	n.Backoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	n.Notify(context.Background(), Event{Event: VerifyFailed, Tenant: "contoso", Summary: "damage"})
	n.Notify(context.Background(), Event{Event: BackupFailed, Tenant: "contoso", Summary: "not subscribed"})
	n.Wait()
	if a := n.Attempts(); len(a) != 4 || a[3].OK {
		t.Errorf("attempts: %+v, want 4 failed tries of the one subscribed event", a)
	}
}

func TestRefusesBadWebhooks(t *testing.T) {
	c := &Config{}
	for _, u := range []string{"ftp://x/y", "not a url", "https://"} {
		if _, err := c.AddWebhook(u, nil, "", nil); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := c.AddWebhook("https://x.example/h", []string{"backup.exploded"}, "", nil); err == nil {
		t.Error("an unknown event accepted")
	}
}

// fakeSMTP is a listener that speaks just enough SMTP and keeps the
// messages it is given.
func fakeSMTP(t *testing.T) (string, func() []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var msgs []string
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(conn net.Conn) {
				defer conn.Close()
				r := bufio.NewReader(conn)
				say := func(s string) { io.WriteString(conn, s+"\r\n") }
				say("220 fake ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
						say("250 fake")
					case strings.HasPrefix(cmd, "DATA"):
						say("354 go on")
						var b strings.Builder
						for {
							l, err := r.ReadString('\n')
							if err != nil || l == ".\r\n" {
								break
							}
							b.WriteString(l)
						}
						mu.Lock()
						msgs = append(msgs, b.String())
						mu.Unlock()
						say("250 queued")
					case strings.HasPrefix(cmd, "QUIT"):
						say("221 bye")
						return
					default:
						say("250 ok")
					}
				}
			}(conn)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), msgs...) }
}

func TestEmail(t *testing.T) {
	dir := t.TempDir()
	addr, msgs := fakeSMTP(t)
	Save(dir, &Config{SMTP: &SMTP{Addr: addr, From: "holdfast@msp.example", To: []string{"noc@msp.example"}, MinSeverity: "high"}})
	n := NewNotifier(dir, nil)
	n.Notify(context.Background(), Event{Event: BackupPartial, Tenant: "contoso", Summary: "run r1 completed with 2 failed items\r\nBcc: evil@x.example"})
	n.Wait()
	m := msgs()
	if len(m) != 1 || !strings.Contains(m[0], "Subject: ") || !strings.Contains(m[0], "contoso") {
		t.Fatalf("messages: %q", m)
	}
	head, _, _ := strings.Cut(m[0], "\r\n\r\n")
	if strings.Contains(head, "\r\nBcc:") {
		t.Errorf("a tenant's text started a header: %q", head)
	}
	if a := n.Attempts(); len(a) != 1 || !a[0].OK {
		t.Errorf("attempts: %+v", a)
	}
}

func TestLateBackupsAreToldOnce(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := tenantApp(t, dir, &now)
	ctx := context.Background()
	capture := func() {
		s, err := a.Open(ctx, "contoso", app.Write)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		if _, err := s.Append(ctx, record.TypeDeltaPosition, record.DeltaPosition{Stream: "s", Account: "ann@contoso.example", Workload: holdfast.Mail, Link: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	check, told := lateChecks(t, a, dir, BackupLate)
	capture()
	check()
	now = now.Add(25 * time.Hour) // past the default RPO of 24 hours
	check()
	check() // still late: not told again
	capture()
	check() // caught up
	now = now.Add(25 * time.Hour)
	check() // late again: told again
	if got := told(); len(got) != 2 || got[0].Event != BackupLate || !strings.Contains(got[0].Summary, "ann@contoso.example") {
		t.Errorf("told %d times: %+v, want twice", len(got), got)
	}
}

// TestDeferredJobIsNoAlert: a job deferred because another process held
// the tenant's store is tried again soon; it is not a failure to alert on.
func TestDeferredJobIsNoAlert(t *testing.T) {
	j := schedule.Job{Tenant: "contoso", Kind: schedule.Backup}
	locked := holdfast.E("open", holdfast.Locked, "held by another process")
	if ev := JobEvents(j, app.JobResult{}, &schedule.Deferred{Err: locked, After: time.Minute}); len(ev) != 0 {
		t.Errorf("a deferred job: %+v, want no event", ev)
	}
	if ev := JobEvents(j, app.JobResult{}, locked); len(ev) != 1 || ev[0].Event != JobFailed {
		t.Errorf("a failed job: %+v, want job failed", ev)
	}
}

// TestUnsignedCheckpointIsTold: records that wait longer than
// UnsignedAfter for a signed checkpoint are told once; signing them
// resolves it; a newest checkpoint that no longer verifies is told too.
func TestUnsignedCheckpointIsTold(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	a := tenantApp(t, dir, &now)
	ctx := context.Background()
	// A writer that died after its flush and before its checkpoint: the
	// records are durable and unsigned.
	s, err := a.Open(ctx, "contoso", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, record.TypeAudit, record.Audit{Action: "search", Actor: "x", Time: now, Tenant: "contoso"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check, told := lateChecks(t, a, dir, CheckpointUnsigned)
	check() // unsigned, but not for long
	now = now.Add(61 * time.Minute)
	check()
	check() // still unsigned: not told again
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	check() // signed
	if got := told(); len(got) != 1 || got[0].Event != CheckpointUnsigned || !strings.Contains(got[0].Summary, "waited for a signed checkpoint") {
		t.Errorf("told %+v, want once that records wait for a checkpoint", got)
	}

	// The newest checkpoint altered on disk.
	ckpts, _ := filepath.Glob(filepath.Join(a.TenantDir("contoso"), "checkpoints", "*"))
	if len(ckpts) == 0 {
		t.Fatal("no checkpoint files")
	}
	newest := ckpts[len(ckpts)-1]
	b, _ := os.ReadFile(newest)
	os.Chmod(newest, 0o600)
	if err := os.WriteFile(newest, bytes.Replace(b, []byte("\n\n"), []byte("\n\nx"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	check()
	if got := told(); len(got) != 2 || !strings.Contains(got[1].Summary, "does not verify") {
		t.Errorf("after the newest checkpoint was altered: told %+v, want that it does not verify", got)
	}
}

// lateChecks is a LateChecker over a's data directory whose notices of
// event go to a webhook the test runs: check is one round of it, waited
// out; told is what arrived so far.
func lateChecks(t *testing.T, a *app.App, dir, event string) (check func(), told func() []Event) {
	t.Helper()
	var mu sync.Mutex
	var got []Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e Event
		json.NewDecoder(r.Body).Decode(&e)
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c := &Config{}
	c.AddWebhook(srv.URL, []string{event}, "", nil)
	if err := Save(dir, c); err != nil {
		t.Fatal(err)
	}
	n := NewNotifier(dir, nil)
	l := NewLateChecker(a, n)
	check = func() {
		t.Helper()
		if err := l.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		n.Wait()
	}
	told = func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), got...)
	}
	return check, told
}

// tenantApp is the application layer over a new data directory dir with
// tenant contoso, on a clock that reads *now.
func tenantApp(t *testing.T, dir string, now *time.Time) *app.App {
	t.Helper()
	a := app.New(dir, app.Options{Now: func() time.Time { return *now }})
	if _, err := a.Init("test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddTenant(context.Background(), app.Actor{Name: "t"}, "contoso"); err != nil {
		t.Fatal(err)
	}
	return a
}
