package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/s3/s3test"
)

// worker is a holdfast serve process of its own, logging to a file.
type worker struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// startWorker runs `holdfast serve` on data directory data as a child
// process (so that it can be SIGKILLed).
func startWorker(t *testing.T, name, data string, ttl time.Duration) *worker {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec, _ := json.Marshal([]string{"--data", data, "serve", "--listen", "127.0.0.1:0", "--worker", name,
		"--lease-ttl", ttl.String(), "--max-backups", "4", "--reload", "1h"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &worker{name: name, cmd: cmd, log: log}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	return w
}

// events returns the worker's log lines with msg, as maps.
func (w *worker) events(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b, _ := os.ReadFile(w.log)
	var out []map[string]any
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e map[string]any
		if json.Unmarshal(line, &e) == nil && e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// tenantRuns counts a tenant's backup runs in its log: started, and
// finished (completed).
func tenantRuns(t *testing.T, data, tenant string) (started, completed int) {
	t.Helper()
	ctx := context.Background()
	s, err := store.DataDir{Dir: data}.OpenTenant(ctx, tenant, store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	err = s.Scan(ctx, 0, []string{record.TypeRunStarted, record.TypeRunFinished}, func(raw []byte) error {
		var r struct {
			Type string
			Data struct{ Status string }
		}
		json.Unmarshal(raw, &r)
		switch {
		case r.Type == record.TypeRunStarted:
			started++
		case r.Data.Status == "completed":
			completed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return started, completed
}

// TestWorkersShareTenants: three `holdfast serve` workers, each with its own
// data directory holding the same keys and tenants, share twenty tenants
// whose repositories are in one versitygw bucket. Every tenant's backup,
// due at once on all three, is completed exactly once — one SIGKILLed
// worker's tenants included, which another worker takes over when their
// leases lapse and finishes from the log — and the others skip it.
func TestWorkersShareTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("three workers and twenty tenants")
	}
	g := s3test.Start(t)
	bucket := g.Bucket(t)
	// Twenty Holdfast tenants share one fake Graph tenant here, whose
	// tenant-wide limits (SharePoint's resource units) would throttle them
	// twenty times as hard as twenty real tenants: no limits.
	info := startFake(t, faketenant.Options{Seed: 41, Users: 2, ItemsPerUser: 30, Latency: 2 * time.Millisecond, NoLimits: true})
	c := newCLI(t)
	c.ok("init")
	t.Setenv("FAKE_SECRET", info.ClientSecret)
	var tenants []string
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("t%02d", i)
		tenants = append(tenants, name)
		c.ok(connectArgs(info, name, "--client-secret-env", "FAKE_SECRET", "--repository", "s3://"+bucket+"/tenants/"+name,
			"--s3-endpoint", g.Endpoint, "--s3-path-style")...)
		c.ok("--tenant", name, "schedule", "set", "--backup", "@every 24h", "--backup-jitter", "0s", "--verify", "", "--restore-test", "", "--report", "")
	}
	// The other machines: the same keys and tenants, their own state.
	datas := []string{c.data}
	for i := 2; i <= 3; i++ {
		d := filepath.Join(t.TempDir(), "data")
		if err := exec.Command("cp", "-a", c.data, d).Run(); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(d, "keys", "seen"))
		for _, tn := range tenants {
			os.RemoveAll(filepath.Join(d, "tenants", tn, "state"))
		}
		datas = append(datas, d)
	}
	const ttl = 3 * time.Second
	var ws []*worker
	for i, d := range datas {
		ws = append(ws, startWorker(t, fmt.Sprintf("w%d", i+1), d, ttl))
	}
	// SIGKILL the first worker in the middle of a backup: once the log of a
	// tenant it is backing up holds the run's start and not its end.
	deadline := time.Now().Add(60 * time.Second)
	midRun := ""
	for midRun == "" {
		if time.Now().After(deadline) {
			t.Fatalf("worker w1 logged no backup's start in 60s:\n%s", readFile(ws[0].log))
		}
		for _, e := range ws[0].events(t, "job started") {
			tn := fmt.Sprint(e["tenant"])
			if started, completed := tenantRuns(t, datas[2], tn); started > 0 && completed == 0 && leaseHolder(t, g, bucket, tn) == "w1" {
				midRun = tn
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	ws[0].cmd.Process.Signal(syscall.SIGKILL)
	ws[0].cmd.Wait()

	// Every tenant's backup completes; then a lease period more, for the
	// deferred tries to find it done and skip it.
	deadline = time.Now().Add(6 * time.Minute) // under -race, on two busy cores, it takes three
	for {
		done := 0
		for _, tn := range tenants {
			if _, completed := tenantRuns(t, datas[1], tn); completed > 0 {
				done++
			}
		}
		if done == len(tenants) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tenants backed up in 6 minutes\nw2:\n%s\nw3:\n%s", done, len(tenants), readFile(ws[1].log), readFile(ws[2].log))
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(ttl + 4*time.Second)
	for _, w := range ws[1:] {
		w.cmd.Process.Signal(syscall.SIGTERM)
		w.cmd.Wait()
	}

	for _, tn := range tenants {
		started, completed := tenantRuns(t, c.data, tn)
		if completed != 1 {
			t.Errorf("tenant %s: %d completed backups, want exactly 1 (%d started)", tn, completed, started)
		}
	}
	// The run w1 was killed in left its start in the log; another worker
	// took the tenant over and ran it again, to its end.
	if started, completed := tenantRuns(t, c.data, midRun); started < 2 || completed != 1 {
		t.Errorf("tenant %s, w1 killed mid-run: %d runs started and %d completed, want at least 2 and 1", midRun, started, completed)
	}
	skipped := len(ws[1].events(t, "job skipped")) + len(ws[2].events(t, "job skipped"))
	if skipped == 0 {
		t.Errorf("no worker skipped a backup another had done")
	}
	// The log of every tenant verifies, from a machine that wrote none.
	for _, tn := range tenants {
		if out := c.ok("--tenant", tn, "verify"); !strings.Contains(out, "OK: nothing stored was altered or removed") {
			t.Errorf("verify %s:\n%s", tn, out)
		}
	}
	t.Logf("w1 killed in the middle of %s's backup; %d tries skipped by w2 and w3", midRun, skipped)
}

// leaseHolder is the worker named in tenant's lease in the bucket.
func leaseHolder(t *testing.T, g *s3test.Gateway, bucket, tenant string) string {
	t.Helper()
	out, err := g.Client().GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("tenants/" + tenant + "/lease")})
	if err != nil {
		return ""
	}
	defer out.Body.Close()
	var l struct{ Worker string }
	json.NewDecoder(out.Body).Decode(&l)
	return l.Worker
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// leaseCutter is an S3 proxy that can cut a worker off from its leases
// alone: once cut, requests for a lease object fail (503) while every
// other request still goes through — the partition where a worker could
// go on writing after its lease lapsed. It notes when each write to the
// repository passed, and the expiry of the last lease it let through.
type leaseCutter struct {
	mu      sync.Mutex
	cut     bool
	expires time.Time   // of the last lease written through the proxy
	writes  []time.Time // PUTs of repository objects, when they reached the proxy
	proxy   *httputil.ReverseProxy
}

func (p *leaseCutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isLease := strings.HasSuffix(r.URL.Path, "/lease")
	p.mu.Lock()
	cut := p.cut
	if !isLease && r.Method == http.MethodPut {
		p.writes = append(p.writes, time.Now())
	}
	p.mu.Unlock()
	if isLease && cut {
		http.Error(w, "partitioned", http.StatusServiceUnavailable)
		return
	}
	if isLease && r.Method == http.MethodPut {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w}
		p.proxy.ServeHTTP(rec, r)
		var l struct{ Expires time.Time }
		if rec.status == http.StatusOK && json.Unmarshal(body, &l) == nil {
			p.mu.Lock()
			p.expires = l.Expires
			p.mu.Unlock()
		}
		return
	}
	p.proxy.ServeHTTP(w, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestPartitionedWorkerStopsWriting: a worker whose lease renewals fail
// while its writes would still go through stops writing the tenant before
// its lease can lapse — no write of its reaches the bucket after the
// expiry of the last lease it wrote — and says why; the log it leaves
// verifies, and the next holder goes on from it.
func TestPartitionedWorkerStopsWriting(t *testing.T) {
	if testing.Short() {
		t.Skip("a backup cut off from its lease")
	}
	g := s3test.Start(t)
	bucket := g.Bucket(t)
	target, _ := url.Parse(g.Endpoint)
	cutter := &leaseCutter{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(cutter)
	defer srv.Close()
	info := startFake(t, faketenant.Options{Seed: 43, Users: 2, ItemsPerUser: 60, Latency: 25 * time.Millisecond, NoLimits: true})
	c := newCLI(t)
	c.ok("init")
	t.Setenv("FAKE_SECRET", info.ClientSecret)
	c.ok(connectArgs(info, "contoso", "--client-secret-env", "FAKE_SECRET", "--repository", "s3://"+bucket+"/tenants/contoso",
		"--s3-endpoint", srv.URL, "--s3-path-style")...)
	c.ok("--tenant", "contoso", "schedule", "set", "--backup", "@every 24h", "--backup-jitter", "0s", "--verify", "", "--restore-test", "", "--report", "")

	const ttl = 3 * time.Second
	w := startWorker(t, "w1", c.data, ttl)
	deadline := time.Now().Add(60 * time.Second)
	for len(w.events(t, "job started")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the backup did not start in 60s:\n%s", readFile(w.log))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(ttl / 2) // renewed once, and writing
	cutter.mu.Lock()
	cutter.cut = true
	cutter.mu.Unlock()
	cutTime := time.Now()
	// The worker gives up within the lease's life.
	deadline = time.Now().Add(30 * time.Second)
	// It is told to try again later: another worker may hold the
	// tenant by then.
	for len(w.events(t, "job deferred")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the cut-off worker's job did not stop in 30s:\n%s", readFile(w.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := w.events(t, "job deferred")[0]
	if msg := fmt.Sprint(stopped["error"]); !strings.Contains(msg, "could not be renewed") || strings.Count(msg, "could not be renewed") != 1 {
		t.Errorf("the job stopped with %q, want the lease it could not renew named once", msg)
	}
	time.Sleep(ttl) // anything still in flight would have arrived
	cutter.mu.Lock()
	expires, writes := cutter.expires, append([]time.Time(nil), cutter.writes...)
	cutter.mu.Unlock()
	if expires.IsZero() || len(writes) == 0 {
		t.Fatalf("lease expiry %v, %d writes: the proxy saw no lease or no write", expires, len(writes))
	}
	for _, at := range writes {
		if !at.Before(expires) {
			t.Errorf("a write reached the bucket at %s, after the lease lapsed at %s", at.Format(time.RFC3339Nano), expires.Format(time.RFC3339Nano))
		}
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	w.cmd.Wait()
	// What it left verifies; reconnected, the next writer finishes the run.
	if out := c.ok("--tenant", "contoso", "verify"); !strings.Contains(out, "OK: nothing stored was altered or removed") {
		t.Errorf("verify after the partition:\n%s", out)
	}
	cutter.mu.Lock()
	cutter.cut = false
	cutter.mu.Unlock()
	c.ok("--tenant", "contoso", "backup")
	if _, completed := tenantRuns(t, c.data, "contoso"); completed != 1 {
		t.Errorf("%d completed runs after the partition ended, want 1", completed)
	}
	cutAt := 0
	for _, at := range writes {
		if at.After(cutTime) {
			cutAt++
		}
	}
	t.Logf("%d writes, %d of them after the cut; the last %s before the lease lapsed", len(writes), cutAt, expires.Sub(writes[len(writes)-1]))
}
