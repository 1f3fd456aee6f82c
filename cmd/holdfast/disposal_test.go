package main

import (
	zipfile "archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/store"
)

type planDoc struct {
	Eligible int
	Groups   []struct {
		Rule     string
		Versions []struct {
			Record  uint64
			Account string
		}
	}
	Held []struct {
		Record  uint64
		Account string
		Cases   []string
	}
}

// The whole disposal, through the CLI: a plan never holds a held version;
// the proposer cannot approve, nor anyone without the legal role; a hold
// placed between approval and execution stops it; the execution disposes
// of what was approved, and verify, search and list say so.
func TestDisposalEndToEnd(t *testing.T) {
	_, info, c := connectedFake(t, 31)
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	c.ok("--tenant", "contoso", "policy", "set", "--retention-days", "365")
	t.Setenv("HOLDFAST_PASSWORD", "a long enough password")
	c.ok("user", "add", "legal1", "--role", "legal", "--tenant", "contoso")
	c.ok("user", "add", "tech1", "--role", "technician", "--tenant", "contoso")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	c.ok("user", "add", me.Username, "--role", "legal", "--tenant", "contoso") // the proposer's own name
	alice, bob := info.Users[0], info.Users[1]
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Alice", "--custodian", alice, "--reason", "litigation")

	const asOf = "2045-01-01"
	var p planDoc
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "plan", "--as-of", asOf), &p)
	if p.Eligible == 0 || len(p.Held) == 0 {
		t.Fatalf("plan: %d eligible, %d held; want both", p.Eligible, len(p.Held))
	}
	for _, g := range p.Groups {
		for _, v := range g.Versions {
			if strings.EqualFold(v.Account, alice) {
				t.Errorf("record %d of %s, who is on hold, is in the plan", v.Record, alice)
			}
		}
	}
	for _, h := range p.Held {
		if !strings.EqualFold(h.Account, alice) || len(h.Cases) != 1 || h.Cases[0] != "Alice" {
			t.Errorf("held %+v, want only %s's versions, held by case Alice", h, alice)
		}
	}
	if code, _, errs := c.run("--tenant", "contoso", "disposal", "propose", "--as-of", asOf); code != exitUsage || !strings.Contains(errs, "--reason") {
		t.Errorf("propose without a reason: exit %d %s", code, errs)
	}
	var prop struct{ Proposal uint64 }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "propose", "--as-of", asOf, "--reason", "yearly review"), &prop)
	n := fmt.Sprint(prop.Proposal)
	for _, tc := range []struct{ user, want string }{
		{me.Username, "a second person reviews it"},
		{"tech1", "legal role"},
	} {
		if code, _, errs := c.run("--tenant", "contoso", "disposal", "review", "--proposal", n, "--approve", "--reason", "ok", "--user", tc.user); code == exitOK || !strings.Contains(errs, tc.want) {
			t.Errorf("review by %s: exit %d %s, want refused (%s)", tc.user, code, errs, tc.want)
		}
	}
	if code, _, errs := c.run("--tenant", "contoso", "disposal", "execute", "--proposal", n); code == exitOK || !strings.Contains(errs, "not been reviewed") {
		t.Errorf("execute before review: exit %d %s", code, errs)
	}
	c.ok("--tenant", "contoso", "disposal", "review", "--proposal", n, "--approve", "--reason", "per the schedule", "--user", "legal1")

	// A hold placed after the approval stops the execution.
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Bob", "--custodian", bob, "--reason", "regulator's request")
	code, _, errs := c.run("--tenant", "contoso", "disposal", "execute", "--proposal", n)
	if code == exitOK || !strings.Contains(errs, "under legal hold") || !strings.Contains(errs, "Bob") {
		t.Fatalf("execute with a version held since the approval: exit %d %s", code, errs)
	}
	var ver struct{ OK bool }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "verify"), &ver)
	searchBob := c.search("custodian:" + bob)
	for _, h := range searchBob.Hits {
		if h.Disposed != "" {
			t.Fatalf("a refused execution disposed of %s", h.Item)
		}
	}
	c.ok("--tenant", "contoso", "hold", "release", "--case", "Bob", "--reason", "withdrawn")

	var res struct {
		Execution uint64
		Versions  int
		Blobs     int
		Packs     int
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "execute", "--proposal", n), &res)
	if res.Versions != p.Eligible || res.Blobs == 0 || res.Packs == 0 {
		t.Errorf("executed %+v, want the %d versions of the plan", res, p.Eligible)
	}
	out := c.ok("--tenant", "contoso", "verify")
	if !strings.Contains(out, fmt.Sprintf("%d item versions disposed of", res.Versions)) {
		t.Errorf("verify does not report the disposal:\n%s", out)
	}
	var list []struct {
		State    string
		Disposed int
		Proposal struct{ Policy_hash string }
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "list"), &list)
	if len(list) != 1 || list[0].State != "completed" || list[0].Disposed != res.Versions || len(list[0].Proposal.Policy_hash) != 64 {
		t.Errorf("list %+v", list)
	}
	// Search: bob's versions are found, said disposed, with no snippet.
	found := 0
	for _, h := range c.search("custodian:"+bob, "--all-versions").Hits {
		if h.Disposed != "" {
			found++
			if !strings.Contains(h.Disposed, "under rule \"retention-days\"") || h.Snippet != "" {
				t.Errorf("disposed hit %+v", h)
			}
		}
	}
	if found == 0 {
		t.Error("no disposed version of bob's found by search")
	}
	// A rebuilt index says the same: the disposed versions from their
	// records, disposed of.
	before := c.ok("--json", "--tenant", "contoso", "search", "--all-versions", "--limit", "100000", "--", "custodian:"+bob)
	c.ok("--tenant", "contoso", "index", "rebuild")
	if after := c.ok("--json", "--tenant", "contoso", "search", "--all-versions", "--limit", "100000", "--", "custodian:"+bob); after != before {
		t.Errorf("the rebuilt index answers differently\n%.2000s\n----\n%.2000s", before, after)
	}
	// Nothing of alice's went.
	for _, h := range c.search("custodian:"+alice, "--all-versions").Hits {
		if h.Disposed != "" {
			t.Errorf("%s's %s was disposed of under hold", alice, h.Item)
		}
	}
	// The signed disposal report: pdfsig validates it; it names the
	// approval and carries the execution record's leaf hash, the same as
	// the proof bundle's.
	c.skew = 2 * time.Second // a report speaks for the checkpoints of whole seconds before it
	pdf := filepath.Join(t.TempDir(), "disposal.pdf")
	var issued struct {
		Checkpoint uint64 `json:"checkpoint_size"`
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "report", "--kind", "disposal", "--proposal", n, "--out", pdf), &issued)
	if sig, _ := exec.Command("pdfsig", pdf).CombinedOutput(); !strings.Contains(string(sig), "Signature is Valid.") {
		t.Errorf("disposal report: pdfsig:\n%s", sig)
	}
	key := strings.TrimSpace(c.ok("log-key"))
	c.ok("report", "verify", pdf, "--key", key)
	proof := filepath.Join(t.TempDir(), "exec.json")
	c.ok("--tenant", "contoso", "proof", "--record", fmt.Sprint(res.Execution), "--checkpoint", fmt.Sprint(issued.Checkpoint), "--out", proof)
	c.ok("verify-proof", proof, "--key", key)
	var bundle struct{ Record string }
	jsonDoc(t, string(must(os.ReadFile(proof))), &bundle)
	leaf := hex.EncodeToString(store.LeafHash([]byte(bundle.Record)))
	text := strings.Join(strings.Fields(pdfText(t, pdf)), " ")
	for _, fact := range []string{"Disposal: proposal " + n, "legal1", "per the schedule", leaf, fmt.Sprintf("%d item versions", res.Versions), "retention-days"} {
		if !strings.Contains(text, fact) {
			t.Errorf("the disposal report lacks %q", fact)
		}
	}
	// Restore: disposed versions are named as such, never failures.
	code, _, errs = c.run("--tenant", "contoso", "restore", "--account", bob, "--workload", "mail", "--to-dir", filepath.Join(t.TempDir(), "r"))
	if code != exitUsage || !strings.Contains(errs, "were disposed of") || !strings.Contains(errs, `under rule "retention-days"`) {
		t.Errorf("restore of disposed mail: exit %d %s", code, errs)
	}
	// Export: a hold placed after the disposal; each disposed version is
	// a row saying so, with its proof, and the package verifies.
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Later", "--custodian", bob, "--reason", "after the disposal")
	zip := filepath.Join(t.TempDir(), "later.zip")
	var ex struct{ Items, Disposed, Load_file_rows int }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "export", "--case", "Later", "--query", "kind:email", "--out", zip), &ex)
	if ex.Disposed == 0 || ex.Disposed+ex.Items > ex.Load_file_rows {
		t.Errorf("export of disposed mail: %+v", ex)
	}
	c.ok("verify-export", zip, "--key", strings.TrimSpace(c.ok("log-key")))
	zr, err := zipfile.OpenReader(zip)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	lf, err := zr.Open("loadfile.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(lf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	said := 0
	for _, row := range rows[1:] {
		if d := row[len(row)-1]; strings.HasPrefix(d, "disposed of on ") && strings.Contains(d, `under rule "retention-days"`) && row[len(row)-5] == "" {
			said++
		}
	}
	if rows[0][len(rows[0])-1] != "Disposed" || said != ex.Disposed {
		t.Errorf("load file: %d rows say disposed of with no native, want %d (columns %v)", said, ex.Disposed, rows[0])
	}
	if p := c.ok("--tenant", "contoso", "disposal", "plan", "--as-of", asOf); !strings.Contains(p, "0 due for disposal") {
		t.Errorf("a second plan still finds versions due:\n%s", p)
	}
	t.Logf("plan: %d eligible, %d held; executed %+v; %d disposed hits of bob", p.Eligible, len(p.Held), res, found)
}

// An execution SIGKILLed at random moments (at least 20 times, each on a
// copy of the same approved proposal) leaves a store that verifies, and
// the next `disposal execute` completes the disposal: every approved
// version disposed of, every retired pack gone.
func TestDisposalExecuteSurvivesSIGKILL(t *testing.T) {
	_, _, base := connectedFakeWith(t, faketenant.Options{Seed: 41, Users: 3, ItemsPerUser: 80})
	base.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	base.ok("--tenant", "contoso", "policy", "set", "--retention-days", "365")
	t.Setenv("HOLDFAST_PASSWORD", "a long enough password")
	base.ok("user", "add", "legal1", "--role", "legal", "--tenant", "contoso")
	var prop struct {
		Proposal uint64
		Plan     struct{ Eligible int }
	}
	jsonDoc(t, base.ok("--json", "--tenant", "contoso", "disposal", "propose", "--as-of", "2045-01-01", "--reason", "crash test"), &prop)
	n := fmt.Sprint(prop.Proposal)
	base.ok("--tenant", "contoso", "disposal", "review", "--proposal", n, "--approve", "--reason", "ok", "--user", "legal1")

	execute := []string{"--tenant", "contoso", "disposal", "execute", "--proposal", n}
	copyOf := func(i int) *cli {
		c := &cli{t: t, data: filepath.Join(t.TempDir(), fmt.Sprint("data", i))}
		if err := exec.Command("cp", "-a", base.data, c.data).Run(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	check := func(c *cli, round int) {
		t.Helper()
		var v struct {
			OK    bool
			Notes []string
		}
		code, out, errs := c.run("--json", "--tenant", "contoso", "verify")
		jsonDoc(t, out, &v)
		if code != exitOK || !v.OK {
			t.Fatalf("round %d: verify after the kill: exit %d %s %s", round, code, out, errs)
		}
	}
	// An execution that is not killed: how long one takes.
	c := copyOf(0)
	start := time.Now()
	c.ok(execute...)
	took := time.Since(start)
	check(c, 0)

	r := rand.New(rand.NewPCG(7, 7))
	kills, states := 0, map[string]int{} // the proposal's state after each kill
	for round := 1; kills < 20; round++ {
		if round > 60 {
			t.Fatalf("only %d of %d executions were killed before they ended", kills, round-1)
		}
		c := copyOf(round)
		cmd, out := c.start(execute...)
		if round%2 == 0 {
			time.Sleep(time.Duration(r.Int64N(int64(took) * 5 / 4)))
		} else {
			// Once disposal.executed is in the log: the rewrite, the
			// completion and the removal come next.
			executed(t, c, time.Now().Add(30*time.Second))
			time.Sleep(time.Duration(r.Int64N(int64(3 * time.Millisecond))))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			kills++
		} else if !cmd.ProcessState.Success() {
			t.Fatalf("round %d: execution failed before the kill:\n%s", round, out)
		}
		check(c, round)
		var at []struct{ State string }
		jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "list"), &at)
		states[at[0].State]++
		// Executes, or completes the interrupted execution; or says it was
		// completed, when the kill came after that.
		code, _, errs := c.run(execute...)
		if was := at[0].State; (was == "completed") != (code != exitOK) || code != exitOK && !strings.Contains(errs, "completed by record") {
			t.Fatalf("round %d: execute after a kill that left it %s: exit %d %s", round, was, code, errs)
		}
		check(c, round)
		var v struct{ Notes []string }
		jsonDoc(t, c.ok("--json", "--tenant", "contoso", "verify"), &v)
		if notes := strings.Join(v.Notes, "\n"); strings.Contains(notes, "still present") || !strings.Contains(notes, "disposed of") {
			t.Fatalf("round %d: after completing, verify notes:\n%s", round, notes)
		}
		var list []struct {
			State    string
			Disposed int
		}
		jsonDoc(t, c.ok("--json", "--tenant", "contoso", "disposal", "list"), &list)
		if len(list) != 1 || list[0].State != "completed" || list[0].Disposed != prop.Plan.Eligible {
			t.Fatalf("round %d: after completing: %+v, want completed with %d versions", round, list, prop.Plan.Eligible)
		}
		if code, _, errs := c.run(execute...); code == exitOK || !strings.Contains(errs, "completed by record") {
			t.Errorf("round %d: a third execution: exit %d %s, want refused", round, code, errs)
		}
	}
	t.Logf("%d executions killed (then: %v); an unkilled one took %v", kills, states, took)
}

// executed waits until the tenant's log holds a disposal.executed record.
func executed(t *testing.T, c *cli, deadline time.Time) {
	t.Helper()
	dir := filepath.Join(c.data, "tenants", "contoso", "log")
	for time.Now().Before(deadline) {
		names, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		for _, n := range names[max(len(names)-3, 0):] {
			if b, err := os.ReadFile(n); err == nil && bytes.Contains(b, []byte(`"type":"disposal.executed"`)) {
				return
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	t.Fatal("no disposal.executed record in the log within 30s")
}
