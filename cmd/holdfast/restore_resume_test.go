package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast/holdfast/faketenant"
)

// childEnv makes the test binary run holdfast itself, with the arguments
// in the variable (JSON), so tests can SIGKILL a real holdfast process.
const childEnv = "HOLDFAST_CLI_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		var args []string
		if err := json.Unmarshal([]byte(spec), &args); err != nil {
			os.Exit(99)
		}
		os.Exit(run(context.Background(), args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// start runs holdfast with args as a child process.
func (c *cli) start(args ...string) (*exec.Cmd, *bytes.Buffer) {
	c.t.Helper()
	spec, _ := json.Marshal(append([]string{"--data", c.data}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	return cmd, &out
}

// A restore into the tenant SIGKILLed three times resumes each time into
// the same folder, and in the end every message is there exactly once.
func TestRestoreResumesAfterSIGKILL(t *testing.T) {
	ft, info, c := connectedFakeWith(t, faketenant.Options{Seed: 21, Users: 5, ItemsPerUser: 160, Latency: 4 * time.Millisecond})
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,calendar")
	user := info.Users[0]
	originals := map[string]int{} // MIME SHA-256 → copies in the mailbox
	events := map[string]int{}    // title|attachments → copies
	for _, it := range ft.Truth() {
		switch {
		case it.Account != user:
		case it.Workload == "mail":
			originals[it.SHA256]++
		case it.Workload == "calendar":
			events[it.Title+"|"+itoa(uint64(it.Attachments))]++
		}
	}
	total := 0
	for _, n := range originals {
		total += n
	}
	restored := func() (mail map[string]int, ev map[string]int, roots map[string]bool, n int) {
		mail, ev, roots = map[string]int{}, map[string]int{}, map[string]bool{}
		for _, it := range ft.Truth() {
			if it.Account != user || !strings.HasPrefix(it.Path, "Holdfast restore ") {
				continue
			}
			root, _, _ := strings.Cut(it.Path, "/")
			roots[it.Workload+"|"+root] = true
			if it.Workload == "mail" {
				mail[it.SHA256]++
				n++
			} else {
				ev[it.Title+"|"+itoa(uint64(it.Attachments))]++
			}
		}
		return
	}
	args := []string{"--json", "--tenant", "contoso", "restore", "--account", user, "--to-tenant"}
	kills := 0
	for _, at := range []int{total / 5, total / 2, 4 * total / 5} {
		cmd, out := c.start(args...)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, _, _, n := restored(); n >= at {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no progress to %d messages in 60s:\n%s", at, out)
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			kills++
		} else {
			t.Logf("restore ended before the kill at %d messages: %v\n%s", at, err, out)
		}
	}
	if kills == 0 {
		t.Fatal("no restore was killed mid-way; the test proved nothing")
	}
	var res struct {
		Status  string
		Items   int
		Resumed int
	}
	jsonDoc(t, c.ok(args...), &res)
	mail, ev, roots, n := restored()
	if res.Status != "completed" || n != total {
		t.Fatalf("after %d kills: %+v, %d messages in the tenant, want %d", kills, res, n, total)
	}
	if res.Resumed == 0 {
		t.Errorf("the final run says it resumed nothing: %+v", res)
	}
	for sum, want := range originals {
		if mail[sum] != want {
			t.Errorf("message %s: %d copies restored, want %d", sum[:12], mail[sum], want)
		}
	}
	for k, want := range events {
		if ev[k] != want {
			t.Errorf("event %s: %d copies restored, want %d", k, ev[k], want)
		}
	}
	if len(roots) != 2 {
		t.Errorf("restore roots %v: want one mail folder and one calendar, however often the restore was resumed", roots)
	}
	// Once finished, the same command is a new restore, not a resume.
	c.skew += time.Second // a later second: a new restore folder name
	res.Resumed = 0
	jsonDoc(t, c.ok(append(args, "--workload", "calendar")...), &res)
	if res.Resumed != 0 {
		t.Errorf("a new restore after a finished one resumed %d items", res.Resumed)
	}
}

// --target-account: one user's OneDrive folder and mail go into another
// user's drive and mailbox.
func TestRestoreToAnotherAccount(t *testing.T) {
	ft, info, c := connectedFake(t, 9)
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	from, to := info.Users[0], info.Users[1]
	files, msgs := map[string]int{}, map[string]int{}
	for _, it := range ft.Truth() {
		if it.Account != from {
			continue
		}
		if it.Workload == "onedrive" && strings.HasPrefix(it.Path, faketenant.ClientFolder) {
			files[it.SHA256]++
		}
		if it.Workload == "mail" {
			msgs[it.SHA256]++
		}
	}
	var res struct {
		Status string
		Items  int
		Target string
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", from, "--workload", "onedrive",
		"--path", faketenant.ClientFolder, "--to-tenant", "--target-account", to), &res)
	if res.Status != "completed" || !strings.Contains(res.Target, to) {
		t.Fatalf("restore: %+v", res)
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", from, "--workload", "mail", "--to-tenant", "--target-account", to), &res)
	for _, it := range ft.Truth() {
		if !strings.HasPrefix(it.Path, "Holdfast restore ") && !strings.Contains(it.Path, "/Holdfast restore ") {
			continue
		}
		if it.Account != to {
			t.Errorf("%s %s restored into %s, want %s", it.Workload, it.Path, it.Account, to)
			continue
		}
		switch it.Workload {
		case "onedrive":
			files[it.SHA256]--
		case "mail":
			msgs[it.SHA256]--
		}
	}
	for k, n := range files {
		if n != 0 {
			t.Errorf("file %s: %d more originals than copies in %s's OneDrive", k[:12], n, to)
		}
	}
	for k, n := range msgs {
		if n != 0 {
			t.Errorf("message %s: %d more originals than copies in %s's mailbox", k[:12], n, to)
		}
	}
	if code, _, errs := c.run("--tenant", "contoso", "restore", "--account", from, "--to-dir", t.TempDir()+"/x", "--target-account", to); code != exitUsage || !strings.Contains(errs, "--to-tenant") {
		t.Errorf("--target-account without --to-tenant: %d %s", code, errs)
	}
}
