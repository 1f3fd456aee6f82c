package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/faketenant"
)

// TestRollbackAndHeldCheckpoints plays the rollback of issue 13: the newest
// batches and checkpoints of a tenant are deleted. verify must exit 3 naming
// the missing records, never sign over the shorter log, and a checkpoint
// kept elsewhere must catch a rollback even when every local trace is gone.
func TestRollbackAndHeldCheckpoints(t *testing.T) {
	c := setupTenant(t)
	dir := t.TempDir()
	held := filepath.Join(dir, "acme.ckpt")
	out := c.ok("--tenant", "acme", "checkpoint", "--out", held)
	if !strings.Contains(out, "Wrote checkpoint") {
		t.Errorf("checkpoint output = %q", out)
	}
	note, _ := os.ReadFile(held)
	if !strings.Contains(string(note), "holdfast/acme/") || !strings.Contains(string(note), "\n\n— ") {
		t.Errorf("held checkpoint is not a signed note:\n%s", note)
	}
	if stdout := c.ok("--tenant", "acme", "checkpoint"); stdout != string(note) {
		t.Errorf("checkpoint to stdout = %q, want the note %q", stdout, note)
	}
	if code, _, errs := c.run("--tenant", "acme", "checkpoint", "--out", held); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("checkpoint over an existing file: exit %d, %q; want a refusal", code, errs)
	}
	bundle := filepath.Join(dir, "r5.json")
	c.ok("--tenant", "acme", "proof", "--record", "5", "--out", bundle)
	if code, _, errs := c.run("--tenant", "acme", "proof", "--record", "5", "--out", bundle); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("proof --out over an existing file: exit %d, %q; want a refusal", code, errs)
	}
	out = c.ok("--tenant", "acme", "verify", "--checkpoint", held, "--checkpoint", bundle)
	if !strings.Contains(out, "against 2 checkpoint(s) held elsewhere") {
		t.Errorf("verify with held checkpoints: %q", out)
	}

	// Remove the newest batches and the checkpoints beyond them.
	tdir := filepath.Join(c.data, "tenants", "acme")
	logs, _ := filepath.Glob(filepath.Join(tdir, "log", "*.jsonl"))
	sort.Strings(logs)
	for _, l := range logs[len(logs)-2:] {
		os.Remove(l)
	}
	// A batch is named by its first record: the log left ends before the
	// first one removed.
	first, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(logs[len(logs)-2]), ".jsonl"), 10, 64)
	last := first - 1
	left := strconv.FormatUint(first, 10)
	ckpts, _ := filepath.Glob(filepath.Join(tdir, "checkpoints", "*"))
	for _, ck := range ckpts {
		if n, _ := strconv.ParseUint(filepath.Base(ck), 10, 64); n > last+1 {
			os.Remove(ck)
		}
	}
	treeBefore, _ := os.ReadFile(filepath.Join(tdir, "state", "tree.json"))
	ckptsBefore, _ := filepath.Glob(filepath.Join(tdir, "checkpoints", "*"))

	code, stdout, errs := c.run("--tenant", "acme", "verify")
	if code != exitIntegrity || !strings.Contains(stdout, "are missing") || strings.Contains(stdout, "OK:") {
		t.Errorf("verify of a rolled-back log: exit %d\n%s%s", code, stdout, errs)
	}
	if !strings.Contains(stdout, "log ends at "+left) {
		t.Errorf("verify does not say where the log ends (%s):\n%s", left, stdout)
	}
	for _, args := range [][]string{
		{"generate", "--items", "1"},
		{"search", "anything"},
		{"hold", "create", "--case", "c", "--custodian", "a@b.c", "--reason", "litigation"},
	} {
		code, _, errs := c.run(append([]string{"--tenant", "acme"}, args...)...)
		if code != exitIntegrity || !strings.Contains(errs, "are missing") {
			t.Errorf("%s on a rolled-back log: exit %d, %q; want 3 naming the missing records", args[0], code, errs)
		}
	}
	if code, _, errs := c.run("--tenant", "acme", "repair"); code != exitIntegrity || !strings.Contains(errs, "not missing content") {
		t.Errorf("repair of a rolled-back log: exit %d, %q; want 3 saying repair cannot mend it", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(tdir, "state", "tree.json")); string(after) != string(treeBefore) {
		t.Error("the cached tree of the longer log was replaced")
	}
	if after, _ := filepath.Glob(filepath.Join(tdir, "checkpoints", "*")); len(after) != len(ckptsBefore) {
		t.Errorf("checkpoints signed over the shorter log: %d before, %d after", len(ckptsBefore), len(after))
	}

	// Every local trace removed: only the held checkpoint tells.
	os.RemoveAll(filepath.Join(tdir, "state"))
	os.RemoveAll(filepath.Join(c.data, "keys", "seen"))
	code, stdout, _ = c.run("--tenant", "acme", "verify", "--checkpoint", held)
	if code != exitIntegrity || !strings.Contains(stdout, held) || !strings.Contains(stdout, "are missing") {
		t.Errorf("verify --checkpoint of a rolled-back log: exit %d\n%s", code, stdout)
	}
	if code, _, errs := c.run("--tenant", "acme", "verify", "--checkpoint", filepath.Join(dir, "nope")); code != exitUsage {
		t.Errorf("verify --checkpoint of a missing file: exit %d, %q", code, errs)
	}
}

// TestReadsBesideARunningBackup: while another process holds the writer
// lock (a backup), search, verify, restore and report answer at once and
// their records reach the log when that process flushes.
func TestReadsBesideARunningBackup(t *testing.T) {
	c := setupTenant(t)
	backup, err := app.New(c.data, app.Options{}).Open(context.Background(), "acme", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	out := c.ok("--tenant", "acme", "search", "subject:invoice")
	if !strings.Contains(out, "matching items") {
		t.Errorf("search beside a backup: %q", out)
	}
	out = c.ok("--tenant", "acme", "verify", "--read-data-subset", "10")
	if !strings.Contains(out, "OK: nothing stored") || !strings.Contains(out, "running backup to append") {
		t.Errorf("verify beside a backup: %q", out)
	}
	var before struct{ Count int }
	jsonDoc(t, c.ok("--json", "--tenant", "acme", "log", "--type", "audit.event"), &before)
	if err := backup.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var after struct {
		Count   int
		Records []struct{ Data map[string]any }
	}
	jsonDoc(t, c.ok("--json", "--tenant", "acme", "log", "--type", "audit.event"), &after)
	if after.Count != before.Count+1 || after.Records[len(after.Records)-1].Data["query"] != "subject:invoice" {
		t.Errorf("audit records: %d before the backup ended, %d after (%+v); want the search's", before.Count, after.Count, after.Records)
	}
	var verifies struct{ Count int }
	jsonDoc(t, c.ok("--json", "--tenant", "acme", "log", "--type", "verify.run"), &verifies)
	if verifies.Count != 1 {
		t.Errorf("verify.run records = %d, want 1", verifies.Count)
	}
}

// TestBackupProgressUnderRace forces the progress line a terminal gets:
// the run reports it while its workers count, so under -race (make
// test-long) progress that shares state without a lock fails this test.
func TestBackupProgressUnderRace(t *testing.T) {
	t.Setenv("HOLDFAST_PROGRESS", "1")
	_, _, c := connectedFake(t, 5)
	_, _, stderr := c.run("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	if !regexp.MustCompile(`\r\x1b\[Kbackup: (\d+)/(\d+) accounts done, \d+ running, mail \d+ of \d+ `).MatchString(stderr) {
		t.Errorf("no progress drawn with HOLDFAST_PROGRESS=1: %q", stderr)
	}
}

// TestRepairFetchesLostContentAgain: a pack deleted from a tenant's
// repository stops every writer (exit 3, pointing at repair); repair
// fetches again what the tenant still has unchanged, names what changed
// since as lost for good, and lets the store take writes; verify then
// names only what is lost for good.
func TestRepairFetchesLostContentAgain(t *testing.T) {
	ft, info, c := connectedFake(t, 8)
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "hostile-names"}); err != nil { // files of their own content
		t.Fatal(err)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	tdir := filepath.Join(c.data, "tenants", "contoso")
	packs, _ := filepath.Glob(filepath.Join(tdir, "packs", "*", "*"))
	if len(packs) == 0 {
		t.Fatal("no packs")
	}
	// A folder is overwritten in the tenant: the versions captured of it
	// exist nowhere else any more.
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "overwrite-folder", Path: faketenant.HostileFolder}); err != nil {
		t.Fatal(err)
	}
	for _, p := range packs {
		os.Remove(p)
	}
	code, _, errs := c.run("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	if code != exitIntegrity || !strings.Contains(errs, "holdfast repair") || !strings.Contains(errs, "missing") {
		t.Fatalf("backup with packs gone: exit %d, %q; want 3 naming the damage and repair", code, errs)
	}
	var size struct{ Size uint64 }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "log", "--last", "1"), &size)

	var dry struct {
		Recovered []struct{ Item string }
		Lost      []struct{ Item, Reason, Workload string }
	}
	code, out, _ := c.run("--json", "--tenant", "contoso", "repair", "--dry-run")
	jsonDoc(t, out, &dry)
	if code != exitIntegrity || len(dry.Recovered) == 0 || len(dry.Lost) != len(faketenant.HostileFiles) {
		t.Fatalf("repair --dry-run: exit %d, %d recovered, %d lost; want the %d overwritten files lost, the rest recovered", code, len(dry.Recovered), len(dry.Lost), len(faketenant.HostileFiles))
	}
	for _, l := range dry.Lost {
		if l.Workload != "onedrive" || !strings.Contains(l.Reason, "changed in the tenant") {
			t.Errorf("lost for an unexpected reason: %+v", l)
		}
	}
	var after struct{ Size uint64 }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "log", "--last", "1"), &after)
	if after.Size != size.Size {
		t.Errorf("--dry-run changed the log: %d → %d records", size.Size, after.Size)
	}

	code, out, errs = c.run("--tenant", "contoso", "repair")
	if code != exitIntegrity || !strings.Contains(out, "LOST onedrive") || !strings.Contains(out, "takes writes again") {
		t.Fatalf("repair: exit %d\n%s%s", code, out, errs)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	code, out, _ = c.run("--json", "--tenant", "contoso", "verify")
	var rep struct {
		Failures []struct{ Object, Problem string }
	}
	jsonDoc(t, out, &rep)
	if code != exitIntegrity || len(rep.Failures) != len(dry.Lost) {
		t.Errorf("verify after repair: exit %d, %d failures, want 3 and one per lost version (%d)", code, len(rep.Failures), len(dry.Lost))
	}
	for _, f := range rep.Failures {
		if !strings.Contains(f.Problem, "lost for good") {
			t.Errorf("verify names more than what is lost for good: %+v", f)
		}
	}
	// What was recovered reads back whole.
	dir := filepath.Join(t.TempDir(), "mail")
	c.ok("--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "mail", "--to-dir", dir)
}
