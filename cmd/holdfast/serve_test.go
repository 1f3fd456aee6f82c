package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/schedule"
	"github.com/holdfast/holdfast/schedule/scheduletest"
)

// TestServeRunsTheSchedules runs holdfast serve against the fake tenant on
// a clock the test moves: a week of a tenant's schedule, each job
// recorded by the scheduler as its CLI twin records it.
func TestServeRunsTheSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("a week of backups against the fake tenant")
	}
	_, info, c := connectedFakeWith(t, faketenant.Options{Seed: 31, Users: 3, ItemsPerUser: 10})
	// The week starts on the next hour after the tenant was created. The
	// daily and weekly slots are twelve hours from that hour, so that none
	// falls between the tenant's creation and the start (one would be due
	// at once, and the week would hold one more) whatever the time of day.
	start := time.Now().UTC().Add(time.Hour).Truncate(time.Hour).Add(time.Minute)
	slot := (start.Hour() + 12) % 24
	daily, weekly := fmt.Sprintf("0 %d * * *", slot), fmt.Sprintf("0 %d * * 0", slot)
	c.ok("--tenant", "contoso", "schedule", "set", "--backup", "@every 12h", "--backup-jitter", "0s",
		"--verify", daily, "--verify-read-percent", "100", "--restore-test", weekly, "--restore-sample", "3",
		"--report", weekly, "--report-kind", "procedures")
	var sc struct {
		Backup  string `json:"backup"`
		SetBy   string `json:"set_by"`
		Default bool   `json:"default"`
	}
	jsonDoc(t, c.ok("--tenant", "contoso", "schedule", "show", "--json"), &sc)
	if sc.Backup != "@every 12h" || sc.Default || !strings.Contains(sc.SetBy, "@") {
		t.Fatalf("schedule show: %+v", sc)
	}

	t.Setenv("HOLDFAST_PASSWORD", "a long enough password")
	c.ok("user", "add", "root", "--role", "admin")
	var tok struct{ Token string }
	jsonDoc(t, c.ok("token", "create", "--user", "root", "--name", "prometheus", "--json"), &tok)
	if out := c.ok("--tenant", "contoso", "log", "--type", "access.changed"); !strings.Contains(out, "user.added") || !strings.Contains(out, "token.created") || strings.Contains(out, tok.Token[len(tok.Token)-10:]) {
		t.Errorf("the tenant's log of access changes (the admin reaches every tenant):\n%s", out)
	}

	clock := scheduletest.NewClock(start)
	var mu sync.Mutex
	started, finished := 0, 0
	var failures []string
	addr := make(chan string, 1)
	var stdout, stderr bytes.Buffer
	g := &globalOptions{Data: c.data, stdout: &stdout, stderr: &lockedWriter{w: &stderr}, now: clock.Now}
	o := serveOptions{Listen: "127.0.0.1:0", MaxBackups: 2, Reload: time.Hour, clock: clock,
		ready: func(a string) { addr <- a },
		onEvent: func(e schedule.Event) {
			mu.Lock()
			if e.Started {
				started++
			} else {
				finished++
				if e.Err != nil {
					failures = append(failures, e.Job.String()+": "+e.Err.Error())
				}
			}
			mu.Unlock()
			clock.Reported()
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- runServe(ctx, g, o) }()
	var listen string
	select {
	case listen = <-addr:
	case err := <-served:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	running := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return started != finished
	}
	settle := func(mark int) { clock.Settle(t, mark, running, 60*time.Second) }
	settle(0) // the first backup: a tenant never backed up is due at once

	// The CLI works beside the running service: a read, and a write.
	if out := c.ok("--tenant", "contoso", "search", "kind:email", "--limit", "1"); !strings.Contains(out, "matching items") {
		t.Errorf("search beside the service: %q", out)
	}
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Beside", "--custodian", "x@contoso.example", "--reason", "a hold placed while the service runs")

	// /healthz over HTTPS, pinned to the certificate the service created.
	pem, err := os.ReadFile(filepath.Join(c.data, "keys", "serve-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + listen + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Status  string
		Service struct {
			Tenants int
			Last    map[string]struct{ Error string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if _, ok := health.Service.Last["contoso/backup"]; health.Status != "ok" || health.Service.Tenants != 1 || !ok {
		t.Errorf("healthz: %+v", health)
	}

	for h := 0; h < 7*24; h++ { // a week: seven daily slots and one weekly one
		if woke, mark := clock.Advance(time.Hour); woke {
			settle(mark)
		}
	}
	req, _ := http.NewRequest("GET", "https://"+listen+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`holdfast_jobs_total{kind="backup",outcome="ok"} 15`, `holdfast_jobs_total{kind="verify",outcome="ok"} 7`,
		`holdfast_verify_ok{tenant="contoso"} 1`, `holdfast_last_capture_timestamp_seconds{tenant="contoso",workload="mail"}`, `holdfast_backup_items_total{tenant="contoso"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// "Verify now" through the API: queued, run by the scheduler, recorded.
	_, mark := clock.Advance(0)
	req, _ = http.NewRequest("POST", "https://"+listen+"/api/v1/tenants/contoso/runs", strings.NewReader(`{"kind":"verify"}`))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("run now: %v, %v", resp, err)
	}
	settle(mark)
	// The tenant's connection through the API: a secret by value, stored
	// beside it, then tested against the fake tenant through Graph.
	api := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://"+listen+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	conn, _ := json.Marshal(map[string]string{"tenant_id": info.TenantID, "client_id": info.ClientID, "client_secret": info.ClientSecret,
		"graph_endpoint": info.GraphEndpoint, "login_endpoint": info.LoginEndpoint, "ca_file": info.CAFile})
	if code, body := api("PUT", "/api/v1/tenants/contoso/connection", string(conn)); code != http.StatusOK || strings.Contains(body, info.ClientSecret) {
		t.Errorf("connect through the API: %d %s", code, body)
	}
	t.Setenv("FAKE_SECRET", "") // the connection now names its own secret file
	if code, body := api("POST", "/api/v1/tenants/contoso/test", ""); code != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Errorf("tenant test through the API: %d %s", code, body)
	}
	req, _ = http.NewRequest("GET", "https://"+listen+"/api/v1/alerts/deliveries", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("deliveries: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if len(failures) > 0 {
		t.Fatalf("jobs failed: %v\n%s", failures, stderr.String())
	}
	count := func(typ string) (n int, byScheduler bool) {
		var out struct {
			Records []struct {
				Data map[string]any `json:"data"`
			} `json:"records"`
		}
		jsonDoc(t, c.ok("--tenant", "contoso", "log", "--type", typ, "--json"), &out)
		byScheduler = true
		for _, r := range out.Records {
			byScheduler = byScheduler && r.Data["actor"] == "scheduler"
		}
		return len(out.Records), byScheduler
	}
	for _, tt := range []struct {
		typ  string
		want int
	}{
		{"run.started", 15}, // at start, then every 12 hours for 7 days
		{"run.finished", 15},
		{"policy.evaluated", 15}, // after each backup
		{"verify.run", 8},        // the daily slot, and one asked for through the API
		{"restore.performed", 1}, // the weekly slot
		{"report.issued", 1},
	} {
		n, sched := count(tt.typ)
		if n != tt.want || !sched && tt.typ != "run.finished" {
			t.Errorf("%s: %d records (all by the scheduler: %v), want %d", tt.typ, n, sched, tt.want)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(c.data, "reports", "contoso", "contoso-procedures-*.pdf"))
	if len(reports) != 1 {
		t.Errorf("scheduled reports written: %v", reports)
	}
	if !strings.Contains(stdout.String(), "certificate SHA-256") || !strings.Contains(stderr.String(), `"msg":"job finished"`) {
		t.Errorf("output:\n%s\nlog:\n%s", stdout.String(), stderr.String())
	}
}

// lockedWriter serialises writes from the service's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestServeStopsGracefully: a stop while a backup runs ends the run with
// its books closed (run.finished, the captured items' delta positions),
// and the next backup goes on from there.
func TestServeStopsGracefully(t *testing.T) {
	if testing.Short() {
		t.Skip("a backup against the fake tenant")
	}
	_, _, c := connectedFakeWith(t, faketenant.Options{Seed: 32, Users: 4, ItemsPerUser: 60, Latency: 15 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	g := &globalOptions{Data: c.data, stdout: io.Discard, stderr: &lockedWriter{w: &stderr}, now: time.Now}
	o := serveOptions{Listen: "127.0.0.1:0", MaxBackups: 1, Reload: time.Hour,
		onEvent: func(e schedule.Event) {
			if e.Started && e.Job.Kind == schedule.Backup {
				go func() { time.Sleep(300 * time.Millisecond); cancel() }() // mid-backup
			}
		}}
	served := make(chan error, 1)
	go func() { served <- runServe(ctx, g, o) }()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
	var runs struct {
		Records []struct {
			Data struct {
				Status   string `json:"status"`
				ItemsNew int    `json:"items_new"`
			} `json:"data"`
		} `json:"records"`
	}
	jsonDoc(t, c.ok("--tenant", "contoso", "log", "--type", "run.finished", "--json"), &runs)
	if len(runs.Records) != 1 || runs.Records[0].Data.Status == "completed" {
		t.Fatalf("the interrupted run: %+v\n%s", runs.Records, stderr.String())
	}
	first := runs.Records[0].Data.ItemsNew
	var res struct {
		Status   string `json:"status"`
		ItemsNew int    `json:"items_new"`
	}
	jsonDoc(t, c.ok("--tenant", "contoso", "backup", "--json"), &res)
	if res.Status != "completed" || first+res.ItemsNew == 0 {
		t.Errorf("the next backup: %+v (the interrupted one captured %d)", res, first)
	}
	var st struct {
		Workloads map[string]struct{ Versions int } `json:"workloads"`
	}
	jsonDoc(t, c.ok("--tenant", "contoso", "status", "--json"), &st)
	var total int
	for _, w := range st.Workloads {
		total += w.Versions
	}
	if total != first+res.ItemsNew {
		t.Errorf("versions in the store: %d, want %d captured by the two runs (none twice)", total, first+res.ItemsNew)
	}
}
