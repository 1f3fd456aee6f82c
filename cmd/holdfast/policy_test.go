package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/faketenant"
)

type policyOut struct {
	Findings []struct {
		Rule, Severity, Tenant, Account, Workload, Message string
	}
	PolicyHash string `json:"policy_hash"`
	InputHash  string `json:"input_hash"`
}

func (c *cli) policyEval(args ...string) policyOut {
	c.t.Helper()
	var out policyOut
	jsonDoc(c.t, c.ok(append([]string{"--json", "--tenant", "contoso", "policy", "eval"}, args...)...), &out)
	return out
}

func (p policyOut) has(rule, account, workload string) bool {
	for _, f := range p.Findings {
		if f.Rule == rule && (account == "" || strings.EqualFold(f.Account, account)) && (workload == "" || f.Workload == workload) {
			return true
		}
	}
	return false
}

func TestPolicyFindingsFromBackups(t *testing.T) {
	ft, info, c := connectedFake(t, 11)
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail")
	bob := info.Users[3]
	p := c.policyEval()
	if p.PolicyHash == "" || p.InputHash == "" {
		t.Errorf("hashes missing: %+v", p)
	}
	// Workloads left out of the backups are reported for every active user.
	for _, w := range []string{"calendar", "contacts", "onedrive"} {
		if !p.has("never-captured", bob, w) {
			t.Errorf("%s of %s never captured: no finding", w, bob)
		}
	}
	if p.has("never-captured", bob, "mail") || p.has("stale-backup", bob, "") {
		t.Errorf("mail was just backed up, yet: %+v", p.Findings)
	}
	if !p.has("verify-missing", "", "") || !p.has("restore-test-missing", "", "") {
		t.Error("no verify or restore test on record, and no finding says so")
	}
	// With the workloads covered, verify and restore test done: only the
	// departed accounts the fake tenant starts with remain.
	c.ok("--tenant", "contoso", "backup")
	c.ok("--tenant", "contoso", "verify")
	c.ok("--tenant", "contoso", "restore-test", "--sample", "3")
	p = c.policyEval()
	for _, f := range p.Findings {
		if f.Rule != "departed-not-captured" {
			t.Errorf("unexpected finding after a full backup: %+v", f)
		}
		// Shared and room mailboxes (disabled by design) and guests are
		// not employees: never departed.
		if kind, ok := info.Others[f.Account]; ok {
			t.Errorf("a %s account has a departure finding: %+v", kind, f)
		}
	}
	// Disable bob without a backup: the departure rule fires at once
	// (policy eval reads the directory first); a backup clears it.
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "disable-user", User: bob}); err != nil {
		t.Fatal(err)
	}
	p = c.policyEval()
	if !p.has("departed-not-captured", bob, "") {
		t.Fatalf("bob disabled and not backed up since: no finding in %+v", p.Findings)
	}
	if code, _, _ := c.run("--tenant", "contoso", "policy", "eval", "--fail-on", "high"); code != exitFindings {
		t.Errorf("--fail-on high with a high finding: exit %d, want 4", code)
	}
	// A backup in the same second as the departure clears it: the log's
	// order says the capture came after it.
	c.ok("--tenant", "contoso", "backup")
	if p = c.policyEval(); p.has("departed-not-captured", bob, "") {
		t.Errorf("bob backed up after leaving, the finding stays: %+v", p.Findings)
	}
	// --offline evaluates what the store knows: a departure since is unseen.
	alice := info.Users[0]
	ft.Mutate(faketenant.Mutation{Scenario: "unlicense-user", User: alice})
	if p = c.policyEval("--offline"); p.has("departed-not-captured", alice, "") {
		t.Error("--offline saw a departure that only Graph knows of")
	}
	// A retention profile: settings shorter than it requires.
	c.ok("--tenant", "contoso", "policy", "set", "--profile", "sox", "--retention-days", "365")
	p = c.policyEval()
	if !p.has("retention-too-short", "", "") || !p.has("departed-retention-short", bob, "") {
		t.Errorf("sox with 365 days: %+v", p.Findings)
	}
	c.ok("--tenant", "contoso", "policy", "set", "--profile", "sec-17a-4", "--retention-days", "0")
	if p = c.policyEval(); p.has("retention-too-short", "", "") || !p.has("worm-required", "", "") {
		t.Errorf("sec-17a-4 kept for ever on a local store: %+v", p.Findings)
	}
	// Each evaluation is on record with its hashes.
	var log struct {
		Records []struct{ Data map[string]any }
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "log", "--type", "policy.evaluated"), &log)
	if len(log.Records) < 6 || log.Records[0].Data["policy_hash"] == "" || log.Records[0].Data["input_hash"] == nil {
		t.Errorf("policy.evaluated records: %+v", log.Records)
	}
	// The inventory is what users develop rules against.
	inv := c.ok("--tenant", "contoso", "policy", "inventory", "--offline")
	if !strings.Contains(inv, `"last_capture"`) || !strings.Contains(inv, bob) {
		t.Errorf("inventory lacks coverage: %.300s", inv)
	}
}

func TestPolicyCommandsRefuseBadPolicies(t *testing.T) {
	c := setupTenant(t)
	dir := t.TempDir()
	if code, _, errs := c.run("--tenant", "acme", "policy", "eval", "--offline", "--policy-dir", dir); code != exitUsage || !strings.Contains(errs, "no .rego files") {
		t.Errorf("empty policy dir: %d %s", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "x.rego"), []byte("package holdfast\n\nfindings contains f if {\n"), 0o644)
	if code, _, errs := c.run("--tenant", "acme", "policy", "eval", "--offline", "--policy-dir", dir); code != exitUsage || !strings.Contains(errs, "x.rego:") {
		t.Errorf("syntax error: %d %s", code, errs)
	}
	if code, _, errs := c.run("--tenant", "acme", "policy", "eval", "--offline", "--fail-on", "urgent"); code != exitUsage {
		t.Errorf("--fail-on urgent: %d %s", code, errs)
	}
	out := c.ok("policy", "test")
	if !strings.Contains(out, "PASS") {
		t.Errorf("policy test output: %s", out)
	}
	os.WriteFile(filepath.Join(dir, "x.rego"), []byte("package mine_test\n\nimport rego.v1\n\ntest_fails if { 1 == 2 }\n"), 0o644)
	if code, out, _ := c.run("policy", "test", "--policy-dir", dir); code == exitOK || !strings.Contains(out, "FAIL") {
		t.Errorf("a failing user test: exit %d\n%s", code, out)
	}
}
