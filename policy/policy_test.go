package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/open-policy-agent/opa/v1/ast"
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

// The Rego input built directly says exactly what the inventory's JSON
// (documented, and printed by holdfast policy inventory) says.
func TestValueMatchesJSON(t *testing.T) {
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	inv := syntheticInventory(20, now)
	inv.LastRun = &Run{ID: "r", Status: "completed_with_failures", Finished: now, FailedItems: []FailedItem{{Account: "a", Workload: "mail", Item: "i", Reason: "r"}, {Account: "b", Workload: "mail", Reason: "r"}}}
	inv.Holds = []Hold{{Case: "c", Custodians: []string{"x"}, Active: true, Placed: now}}
	inv.Accounts[3].ID, inv.Accounts[3].OnHold = "id-3", true
	inv.Settings.RPOHours = 12.5
	inv.Witnesses = []WitnessState{{Name: "w1", Cosigned: 40, Pending: &CheckpointRef{Size: 52, Time: now}}, {Name: "w2", Cosigned: 52}}
	js, _ := json.Marshal(inv)
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	dec.Decode(&v)
	want, err := ast.InterfaceToValue(v)
	if err != nil {
		t.Fatal(err)
	}
	// Small blocks, so that the accounts are built and hashed by several
	// workers.
	got, h1 := inv.value(3)
	if ast.Compare(got, want) != 0 {
		t.Errorf("Value() differs from the JSON:\ngot  %.600s\nwant %.600s", got, want)
	}
	// The input hash follows the content, whatever the number of cores.
	for _, procs := range []int{1, 2, 5} {
		old := runtime.GOMAXPROCS(procs)
		_, h2 := inv.value(3)
		runtime.GOMAXPROCS(old)
		if h2 != h1 {
			t.Errorf("with GOMAXPROCS %d the same inventory hashes differently", procs)
		}
	}
	inv.Accounts[5].Workloads["mail"].Items++
	if _, h3 := inv.value(3); h3 == h1 {
		t.Error("a changed item count does not change the input hash")
	}
}

// Every field of an inventory's JSON is described by inventory.schema.json,
// and every required one is there.
func TestInventoryMatchesSchema(t *testing.T) {
	raw, err := os.ReadFile("inventory.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	inv := syntheticInventory(3, now)
	d := now.Add(-time.Hour)
	inv.Accounts[0].ID, inv.Accounts[0].DepartedSince, inv.Accounts[0].DepartedReason = "x", &d, "disabled"
	inv.LastRun = &Run{ID: "r", Status: "completed", Finished: now, FailedItems: []FailedItem{{Account: "a", Workload: "mail", Item: "i", Reason: "r"}}}
	inv.Holds = []Hold{{Case: "c", Custodians: []string{"x"}, Active: true, Placed: now}}
	js, _ := json.Marshal(inv)
	var doc any
	json.Unmarshal(js, &doc)
	defs := schema["$defs"].(map[string]any)
	var check func(path string, v any, s map[string]any)
	check = func(path string, v any, s map[string]any) {
		if ref, ok := s["$ref"].(string); ok {
			s = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		if alts, ok := s["oneOf"].([]any); ok {
			for _, a := range alts {
				if am := a.(map[string]any); (v == nil) == (am["type"] == "null") {
					s = am
				}
			}
		}
		switch x := v.(type) {
		case map[string]any:
			props, _ := s["properties"].(map[string]any)
			req, _ := s["required"].([]any)
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					t.Errorf("%s: required %s missing", path, r)
				}
			}
			for k, val := range x {
				if ps, ok := props[k].(map[string]any); ok {
					check(path+"."+k, val, ps)
				} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
					check(path+"."+k, val, ap)
				} else {
					t.Errorf("%s.%s: not in the schema", path, k)
				}
			}
		case []any:
			if items, ok := s["items"].(map[string]any); ok {
				for i, e := range x {
					check(fmt.Sprintf("%s[%d]", path, i), e, items)
				}
			}
		}
	}
	check("inventory", doc, schema)
}

func TestWitnessStates(t *testing.T) {
	t0 := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	ckpts := []CheckpointRef{{10, t0}, {20, t0.Add(time.Hour)}, {30, t0.Add(2 * time.Hour)}}
	ws := []record.Witness{{Name: "a", Key: "a+0000000a+BAAA"}, {Name: "b", Key: "b+0000000b+BAAA"}, {Name: "c", Key: "c+0000000c+BAAA"}}
	cosigned := map[uint64][]uint32{10: {0xa, 0xb}, 20: {0xa}, 30: {0xa}}
	got := witnessStates(ws, ckpts, cosigned)
	want := []WitnessState{{Name: "a", Cosigned: 30}, {Name: "b", Cosigned: 10, Pending: &ckpts[1]}, {Name: "c", Pending: &ckpts[0]}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("witnessStates:\ngot  %+v\nwant %+v", got, want)
	}
}
