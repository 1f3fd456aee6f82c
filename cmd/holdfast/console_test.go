package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/internal/browsertest"
)

// TestConsoleTechnicianJourney: in a real browser against holdfast serve
// and the fake tenant, a technician tests the tenant's connection, sets a
// schedule, runs a backup and watches it, and after the client folder is
// overwritten restores it into the tenant as it was — new folders, the
// original bytes, nothing overwritten.
func TestConsoleTechnicianJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser against the service and the fake tenant")
	}
	ft, info, c := connectedFakeWith(t, faketenant.Options{Seed: 41, Users: 5, ItemsPerUser: 40, Latency: 20 * time.Millisecond})
	c.ok("--tenant", "contoso", "schedule", "set", "--pause") // nothing runs unless asked
	t.Setenv("HOLDFAST_PASSWORD", "a long enough password")
	c.ok("user", "add", "tech1", "--role", "technician", "--tenant", "contoso")
	// The admin names the fake tenant's endpoints; the technician picks them by name.
	c.ok("cloud", "add", "fake", "--graph-endpoint", info.GraphEndpoint, "--login-endpoint", info.LoginEndpoint, "--ca-file", info.CAFile)

	addr := make(chan string, 1)
	var stderr bytes.Buffer
	g := &globalOptions{Data: c.data, stdout: &bytes.Buffer{}, stderr: &lockedWriter{w: &stderr}, now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- runServe(ctx, g, serveOptions{Listen: "127.0.0.1:0", MaxBackups: 2, Reload: time.Hour, ready: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "https://" + a
	case err := <-served:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\nservice log:\n%s", err, stderr.String())
		}
	}
	b := browsertest.Start(t)
	must(browsertest.SignIn(b, base, "tech1", "a long enough password", ""))

	// The technician connects the tenant (its secret by value, never shown
	// again), then tests the connection; the schedule, set.
	must(chromedp.Do(b,
		chromedp.Navigate(base+"/console/tenants/contoso/settings"),
		chromedp.WaitVisible(css(`#ctenant`)),
		chromedp.SendKeys(css(`#ctenant`), info.TenantID),
		chromedp.SendKeys(css(`#cclient`), info.ClientID),
		chromedp.SendKeys(css(`#csecret`), info.ClientSecret),
		chromedp.SetValue(css(`#ccloud`), "fake"),
		chromedp.Submit(css(`#csecret`)),
		chromedp.WaitVisible(css(`.done`)),
	))
	if page := browsertest.Text(t, b, `main`); strings.Contains(page, info.ClientSecret) {
		t.Error("the settings page shows the client secret")
	}
	t.Setenv("FAKE_SECRET", "") // the connection the CLI made is replaced: the console's secret is used
	must(chromedp.Do(b,
		chromedp.Navigate(base+"/console/tenants/contoso/settings?test=1"),
		chromedp.WaitVisible(css(`#connection-test`)),
		browsertest.Shot("settings"),
	))
	if got := browsertest.Text(t, b, `#connection-test`); !strings.Contains(got, "Connected") || !strings.Contains(got, "accounts") {
		t.Errorf("connection test: %q", got)
	}
	must(chromedp.Do(b,
		chromedp.SetValue(css(`#backup`), "@every 6h"),
		chromedp.Submit(css(`#backup`)),
		chromedp.WaitVisible(css(`.done`)),
	))
	if out := c.ok("--tenant", "contoso", "schedule", "show"); !strings.Contains(out, "@every 6h") || !strings.Contains(out, "tech1") {
		t.Errorf("the schedule after the console set it:\n%s", out)
	}

	// Back up now, and watch it run.
	backupNow := func() {
		t.Helper()
		must(chromedp.Do(b,
			chromedp.Navigate(base+"/console/tenants/contoso/settings"),
			chromedp.WaitVisible(css(`#jobs`)),
			chromedp.Click(css(`form[action$="/run"] input[value=backup] ~ button`)),
			chromedp.WaitVisible(css(`#live`)),
		))
	}
	waitRuns := func(n int) string {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			must(chromedp.Do(b, chromedp.Navigate(base+"/console/tenants/contoso"), chromedp.WaitVisible(css(`#coverage`))))
			got, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll('#runlist tbody tr').length`))
			must(err)
			live := browsertest.Text(t, b, `#live`)
			if got >= n && strings.Contains(live, "Nothing runs") {
				return browsertest.Text(t, b, `#runlist tbody tr`)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d runs after two minutes, want %d\n%s", got, n, stderr.String())
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	backupNow()
	// The live region names the running backup while it runs.
	var sawRunning bool
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !sawRunning; time.Sleep(100 * time.Millisecond) {
		live := browsertest.Text(t, b, `#live`)
		sawRunning = strings.Contains(live, "backup running")
		if sawRunning {
			must(chromedp.Do(b, browsertest.Shot("backup-running")))
		}
	}
	if !sawRunning {
		t.Error("the tenant page never showed the backup running")
	}
	first := waitRuns(1)
	if !strings.Contains(first, "completed") {
		t.Fatalf("first run: %q", first)
	}
	must(chromedp.Do(b, browsertest.Shot("tenant-after-backup")))
	run1 := strings.Fields(first)[0]

	// The disaster, captured by the next backup.
	originals := map[string]bool{} // the client folder's files, by content
	for _, it := range ft.Truth() {
		if it.Workload == "onedrive" && it.Path == faketenant.ClientFolder && it.Account == info.Users[0] {
			originals[it.SHA256] = true
		}
	}
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "overwrite-folder"}); err != nil {
		t.Fatal(err)
	}
	before := truthBy(ft)
	backupNow()
	waitRuns(2)

	// Restore the client folder as it was after the first run, into the tenant.
	must(chromedp.Do(b,
		chromedp.Navigate(base+"/console/tenants/contoso/restore"),
		chromedp.WaitVisible(css(`#raccount`)),
		chromedp.SetValue(css(`#raccount`), info.Users[0]),
		chromedp.SetValue(css(`#rworkload`), "onedrive"),
		chromedp.SendKeys(css(`#rpath`), faketenant.ClientFolder),
		chromedp.SetValue(css(`#rrun`), run1),
		browsertest.Shot("restore"),
		chromedp.Submit(css(`#rpath`)),
		chromedp.WaitVisible(css(`#restore-result`)),
		browsertest.Shot("restored"),
	))
	result := browsertest.Text(t, b, `#restore-result`)
	if !strings.Contains(result, "completed") || !strings.Contains(result, "Holdfast restore ") {
		t.Fatalf("restore result: %q", result)
	}
	restored := restoredClientFolder(t, ft, before, info.Users[0], originals)
	if restored == 0 {
		t.Error("nothing was restored into the tenant")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
