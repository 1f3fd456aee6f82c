package graph_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/graphlimit"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/holdfast/holdfast/store"
	_ "github.com/holdfast/holdfast/store/s3" // s3:// repositories
	"github.com/holdfast/holdfast/store/s3/s3test"
)

// The throughput benchmarks of issue 18 run what a user runs: app.Backup
// (the search index brought up to date in the same call), the Graph client
// metered within Microsoft's limits, the fake tenant enforcing them, every
// default as shipped. With HOLDFAST_BASELINE_BIN naming a holdfast binary
// built before issue 18 (make bench builds one), each also times that
// binary's `backup` against the same tenant, so the gain is a ratio on one
// machine.

// fakeChild serves a fake tenant from this test binary in its own process
// (so that memory figures are Holdfast's alone) and returns its Info and a
// function that stops it.
func fakeChild(b *testing.B, o faketenant.Options) (faketenant.Info, func()) {
	b.Helper()
	spec, _ := json.Marshal(struct {
		faketenant.Options
		State string
	}{o, b.TempDir()})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fakeChildEnv+"="+string(spec))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var info faketenant.Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		b.Fatal(err)
	}
	return info, func() { stdin.Close(); cmd.Wait() }
}

// fakeStats reads a running fake tenant's counters through its admin API.
func fakeStats(b *testing.B, info faketenant.Info) faketenant.Stats {
	b.Helper()
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	req, _ := http.NewRequest("GET", info.AdminURL+"/stats", nil)
	req.Header.Set("Authorization", "Bearer "+info.ClientSecret)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var st faketenant.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		b.Fatal(err)
	}
	return st
}

// backupApp backs up the tenant behind info as `holdfast backup` does,
// with the defaults a user gets, into a new data directory.
func backupApp(b *testing.B, info faketenant.Info, dir string, ws ...holdfast.Workload) (*ingest.Result, time.Duration) {
	b.Helper()
	c, err := graph.New(connOf(info, false))
	if err != nil {
		b.Fatal(err)
	}
	a := app.New(dir, app.Options{})
	start := time.Now()
	res, err := a.Backup(context.Background(), app.Actor{Name: "bench"}, "bench", c, app.BackupOptions{Workloads: ws, Throttled: c.Throttled})
	took := time.Since(start)
	if err != nil || res.Status != ingest.StatusCompleted {
		b.Fatalf("backup: %v %+v", err, res)
	}
	return res, took
}

// baseline times the binary HOLDFAST_BASELINE_BIN backing up the tenant
// behind info with its defaults (mail only); 0 when there is none.
func baseline(b *testing.B, info faketenant.Info) time.Duration {
	bin := os.Getenv("HOLDFAST_BASELINE_BIN")
	if bin == "" {
		b.Log("HOLDFAST_BASELINE_BIN not set: no comparison with the defaults before issue 18")
		return 0
	}
	data := filepath.Join(b.TempDir(), "baseline")
	run := func(args ...string) []byte {
		cmd := exec.Command(bin, append([]string{"--data", data}, args...)...)
		cmd.Env = append(os.Environ(), "BENCH_SECRET="+info.ClientSecret)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("baseline %v: %v\n%s", args, err, out)
		}
		return out
	}
	run("init")
	run(connectArgs(info, "bench", "--client-secret-env", "BENCH_SECRET")...)
	start := time.Now()
	run("--tenant", "bench", "backup", "--workloads", "mail", "--json")
	return time.Since(start)
}

func connectArgs(info faketenant.Info, name string, extra ...string) []string {
	return append([]string{"tenant", "add", name, "--tenant-id", info.TenantID, "--client-id", info.ClientID,
		"--graph-endpoint", info.GraphEndpoint, "--login-endpoint", info.LoginEndpoint, "--ca-file", info.CAFile}, extra...)
}

func newAppData(b *testing.B) string {
	b.Helper()
	d := newDataDir(b, "bench")
	return d.Dir
}

// BenchmarkBackupCPUBound: 40 mailboxes × 500 messages, limits not
// binding; target 1,500 items/s and at most 1.1 Graph requests per message;
// then a run with no changes, which downloads nothing.
func BenchmarkBackupCPUBound(b *testing.B) {
	benchFull(b, envInt("HOLDFAST_BENCH_USERS", 40), envInt("HOLDFAST_BENCH_ITEMS", 500), true)
}

// BenchmarkBackupManyMailboxes: 1,000 mailboxes × 50 messages completes
// with peak RSS under 300 MB.
func BenchmarkBackupManyMailboxes(b *testing.B) {
	benchFull(b, envInt("HOLDFAST_BENCH_USERS", 1000), envInt("HOLDFAST_BENCH_ITEMS", 50), false)
}

// benchFull times a full backup of users × items from a fake tenant in a
// child process; again, a second run with no changes, and the baseline.
func benchFull(b *testing.B, users, items int, again bool) {
	for i := 0; i < b.N; i++ {
		info, stop := fakeChild(b, faketenant.Options{Seed: 1, Users: users, ItemsPerUser: items})
		dir := newAppData(b)
		b.ResetTimer()
		res, full := backupApp(b, info, dir, holdfast.Mail)
		b.StopTimer()
		st := fakeStats(b, info)
		b.ReportMetric(float64(res.ItemsNew)/full.Seconds(), "items/s")
		b.ReportMetric(float64(res.ItemsNew), "items")
		b.ReportMetric(full.Seconds(), "full-s")
		b.ReportMetric(res.DurationS, "capture-s")
		b.ReportMetric(float64(st.Requests)/float64(res.ItemsNew), "requests/item")
		if again {
			_, incr := backupApp(b, info, dir, holdfast.Mail)
			st2 := fakeStats(b, info)
			if d := st2.Requests - st.Requests; d > 3*(users+2)*8 {
				b.Errorf("a run with no changes made %d requests", d)
			}
			b.ReportMetric(incr.Seconds(), "incremental-s")
			b.ReportMetric(float64(st2.Requests-st.Requests), "incremental-requests")
			if i == 0 {
				if base := baseline(b, info); base > 0 {
					b.ReportMetric(base.Seconds(), "baseline-full-s")
					b.ReportMetric(base.Seconds()/full.Seconds(), "speedup")
				}
			}
		}
		stop()
		b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	}
}

// BenchmarkBackupThrottleBound: 19 mailboxes of 200 messages and one 15 ×
// larger, Exchange's limit scaled to 500 requests per mailbox in any 10 s
// (10 minutes / 60): the full backup against the lower bound the limits
// set — for each mailbox its requests over the window's rate; the run
// cannot end before its largest mailbox can. Target: at most 1.2 × that.
func BenchmarkBackupThrottleBound(b *testing.B) {
	users, items := envInt("HOLDFAST_BENCH_USERS", 20), envInt("HOLDFAST_BENCH_ITEMS", 200)
	lim := graphlimit.Limits{MailboxRequests: 500, Scale: 60}
	for i := 0; i < b.N; i++ {
		ft, err := faketenant.New(faketenant.Options{Seed: 1, Users: users, ItemsPerUser: items, LargeMailbox: 15, Limits: lim}, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		info, err := ft.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		dir := newAppData(b)
		b.ResetTimer()
		res, full := backupApp(b, info, dir, holdfast.Mail)
		b.StopTimer()
		// The bound, from what each mailbox needed.
		l := info.Limits
		window := l.Span(graphlimit.MailboxWindow)
		rate := float64(l.MailboxRequests) / window.Seconds()
		var bound, strict float64
		for _, n := range ft.MailboxRequests() {
			bound = max(bound, n/rate)
			strict = max(strict, math.Floor((n-1)/float64(l.MailboxRequests))*window.Seconds())
		}
		st := ft.Stats()
		var base time.Duration
		if i == 0 {
			base = baseline(b, info)
		}
		ft.Close()
		b.Logf("full backup %.1fs; lower bound %.1fs (requests over the window's rate; %.1fs as the sliding window allows); %.2f × the bound; %d answers 429",
			full.Seconds(), bound, strict, full.Seconds()/bound, st.LimitedMailbox+st.LimitedConcurrency)
		b.ReportMetric(full.Seconds(), "full-s")
		b.ReportMetric(bound, "bound-s")
		b.ReportMetric(full.Seconds()/bound, "x-bound")
		b.ReportMetric(float64(res.ItemsNew), "items")
		b.ReportMetric(float64(st.LimitedMailbox+st.LimitedConcurrency), "throttled-answers")
		if base > 0 {
			b.ReportMetric(base.Seconds(), "baseline-full-s")
			b.ReportMetric(base.Seconds()/full.Seconds(), "speedup")
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkBackupIntoS3: issue 20's target — a full backup of the fake
// tenant (20 mailboxes × 200 messages, limits not binding, defaults
// otherwise) into a versitygw bucket with Object Lock, against the same
// backup into the local store, in one run: at least 70 % of the local
// speed.
func BenchmarkBackupIntoS3(b *testing.B) {
	users, items := envInt("HOLDFAST_BENCH_USERS", 20), envInt("HOLDFAST_BENCH_ITEMS", 200)
	g := s3test.Start(b)
	for i := 0; i < b.N; i++ {
		info, stop := fakeChild(b, faketenant.Options{Seed: 1, Users: users, ItemsPerUser: items})
		var took [2]time.Duration
		for k, remote := range []*store.Remote{nil, {URL: "s3://" + g.Bucket(b) + "/bench", Endpoint: g.Endpoint, PathStyle: true, LockMode: "GOVERNANCE", LockDays: 1}} {
			d := store.DataDir{Dir: filepath.Join(b.TempDir(), "data")}
			if _, err := d.Init(); err != nil {
				b.Fatal(err)
			}
			if _, err := d.AddTenant(context.Background(), "bench", store.AddTenantOptions{Remote: remote}); err != nil {
				b.Fatal(err)
			}
			res, t := backupApp(b, info, d.Dir, holdfast.Mail)
			took[k] = t
			b.ReportMetric(float64(res.ItemsNew)/t.Seconds(), []string{"local", "s3"}[k]+"-items/s")
		}
		stop()
		b.ReportMetric(100*took[0].Seconds()/took[1].Seconds(), "s3-%-of-local")
	}
}
