package policy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
)

func TestEmbeddedRegoTests(t *testing.T) {
	b, err := LoadBundle("")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	pass, fail, err := b.Test(context.Background(), &out, false)
	if err != nil || fail > 0 || pass < 30 {
		t.Fatalf("rego tests: %d passed, %d failed, %v\n%s", pass, fail, err, out.String())
	}
}

func TestBadPolicies(t *testing.T) {
	write := func(files map[string]string) string {
		dir := t.TempDir()
		for n, s := range files {
			os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644)
		}
		return dir
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // in the error
		eval  bool   // the error comes at evaluation
	}{
		{"empty directory", nil, "no .rego files", false},
		{"syntax error", map[string]string{"mine.rego": "package holdfast\n\nfindings contains f if {\n  f := \n}\n"}, "mine.rego:", false},
		{"compile error", map[string]string{"mine.rego": "package holdfast\n\nfindings contains f if {\n  f := undefined_thing\n}\n"}, "mine.rego:4", false},
		{"bad data", map[string]string{"data.json": "[1,2"}, "data.json", false},
		{"finding without message", map[string]string{"mine.rego": "package holdfast\n\nfindings contains {\"rule\": \"x\", \"severity\": \"low\"} if true\n"}, `without "message"`, true},
		{"unknown severity", map[string]string{"mine.rego": "package holdfast\n\nfindings contains {\"rule\": \"x\", \"severity\": \"urgent\", \"message\": \"m\"} if true\n"}, `severity "urgent"`, true},
		{"not an object", map[string]string{"mine.rego": "package holdfast\n\nfindings contains \"oops\" if true\n"}, "not an object", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBundle(write(tc.files))
			if !tc.eval {
				if err == nil || !holdfast.Is(holdfast.Invalid, err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("load: %v, want an Invalid error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Eval(context.Background(), &Inventory{Tenant: "t", Settings: DefaultSettings(), Accounts: []*Account{}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("eval: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestUserRulesAndSettings(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mine.rego"), []byte(`package holdfast

findings contains {"rule": "msp-no-teams", "severity": "low", "tenant": input.tenant, "account": "", "workload": "teams", "message": "Teams is not backed up"} if {
	not "teams" in input.settings.workloads
}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "data.json"), []byte(`{"holdfast": {"config": {"verify_max_age_days": 1000}}}`), 0o644)
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := LoadBundle("")
	if b.Hash == def.Hash {
		t.Error("a user's files do not change the policy hash")
	}
	s := DefaultSettings()
	s.Workloads = []string{"mail"}
	res, err := b.Eval(context.Background(), &Inventory{Tenant: "t", Settings: s, Accounts: []*Account{}, Holds: []Hold{}, RestoreTests: []Check{}, VerifyRuns: []Check{}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range res.Findings {
		got[f.Rule] = true
	}
	if !got["msp-no-teams"] || !got["verify-missing"] {
		t.Errorf("findings %v: want the user's rule and the defaults", got)
	}
}
