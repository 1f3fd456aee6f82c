package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// naiveRules are the coverage and departure rules written the plain way,
// looking into every workload of every account. The default rules test
// the account's summary first (oldest_last_capture, captured_workloads,
// last_capture) to stay fast over 100,000 accounts; over random
// inventories both must find exactly the same gaps.
const naiveRules = `package holdfast

import rego.v1

naive contains ["stale-backup", a.upn, w] if {
	some a in input.accounts
	some w in expected(a)
	a.workloads[w].last_capture < stale_before
}

naive contains ["never-captured", a.upn, w] if {
	some a in input.accounts
	some w in expected(a)
	not a.workloads[w].last_capture
}

naive_captured_since(a, rec) if {
	some c in a.workloads
	c.last_capture_record > rec
}

naive contains ["departed-not-captured", a.upn, ""] if {
	some a in input.accounts
	a.kind == "user"
	a.departed_since
	a.state in {"disabled", "unlicensed"}
	not naive_captured_since(a, a.departed_record)
}

naive_last_ns(a) := max({time.parse_rfc3339_ns(c.last_capture) | some c in a.workloads; c.last_capture})

naive_deleted_gap(a) if not naive_last_ns(a)

naive_deleted_gap(a) if time.parse_rfc3339_ns(a.departed_since) - naive_last_ns(a) > input.settings.rpo_hours * 3600000000000

naive contains ["departed-not-captured", a.upn, ""] if {
	some a in input.accounts
	a.kind == "user"
	a.departed_since
	a.state == "deleted"
	naive_deleted_gap(a)
}

got contains [f.rule, f.account, f.workload] if {
	some f in findings
	f.rule in {"stale-backup", "never-captured", "departed-not-captured"}
}
`

func randomInventory(r *rand.Rand, n int, now time.Time) *Inventory {
	inv := syntheticInventory(0, now)
	all := []string{"mail", "calendar", "contacts", "onedrive", "sharepoint", "teams"}
	inv.Settings.Workloads = nil
	for _, w := range all {
		if r.IntN(4) > 0 {
			inv.Settings.Workloads = append(inv.Settings.Workloads, w)
		}
	}
	inv.Settings.RPOHours = float64(1 + r.IntN(48))
	moment := func() *time.Time {
		t := now.Add(-time.Duration(r.IntN(96*3600)) * time.Second)
		return &t
	}
	kinds := []string{"user", "user", "user", "site", "team", "chat"}
	for i := range n {
		a := &Account{UPN: fmt.Sprintf("a%04d", i), Kind: kinds[r.IntN(len(kinds))], State: "active", Enabled: true, Licensed: true, Workloads: map[string]*Coverage{}}
		position := func() uint64 { return 1 + uint64(r.IntN(1000)) }
		switch r.IntN(8) {
		case 0:
			a.State, a.Enabled, a.DepartedSince, a.DepartedRecord = "disabled", false, moment(), position()
		case 1:
			a.State, a.Licensed, a.DepartedSince, a.DepartedRecord = "unlicensed", false, moment(), position()
		case 2:
			a.State, a.Enabled, a.DepartedSince, a.DepartedRecord = "deleted", false, moment(), position()
		}
		for _, w := range all {
			switch r.IntN(5) {
			case 0: // not captured at all
			case 1: // items but no successful sync
				a.Workloads[w] = &Coverage{Items: 3, OldestItem: moment()}
			default:
				a.Workloads[w] = &Coverage{FirstCapture: moment(), LastCapture: moment(), LastCaptureRecord: position(), Items: 1}
			}
		}
		inv.Accounts = append(inv.Accounts, a)
	}
	return inv
}

// bundleWith is the default bundle with one user file of Rego.
func bundleWith(t *testing.T, name, src string) *Bundle {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFastRulesEqualNaiveRules(t *testing.T) {
	b := bundleWith(t, "naive.rego", naiveRules)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	total := 0
	for round := range 40 {
		inv := randomInventory(r, 60, now)
		in, _ := inv.Value()
		set := func(q string) []string {
			rs, err := b.rego(rego.Query(q), rego.ParsedInput(in)).Eval(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, v := range rs[0].Expressions[0].Value.([]any) {
				out = append(out, fmt.Sprint(v))
			}
			sort.Strings(out)
			return out
		}
		got, want := set("data.holdfast.got"), set("data.holdfast.naive")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d (workloads %v, rpo %v h):\ngot  %v\nwant %v", round, inv.Settings.Workloads, inv.Settings.RPOHours, got, want)
		}
		total += len(got)
	}
	if total < 100 {
		t.Fatalf("only %d gaps over all rounds: the inventories are too kind to test anything", total)
	}
}

// The rules evaluated side by side (sideBySide) give exactly the findings
// of one evaluation, a user's additions to them included; and the
// findings' evaluation really takes their values from the cache (were
// OPA to stop consulting it, they would silently be evaluated twice).
func TestSideBySideEqualsOneEvaluation(t *testing.T) {
	ctx := context.Background()
	user := `package holdfast

import rego.v1

stale_findings contains finding("msp-stale-site", "low", a.upn, "sharepoint", "a site's backup is stale", {}) if {
	some a in input.accounts
	a.kind == "site"
	a.oldest_last_capture < stale_before
}

findings contains finding("msp-many-departed", "medium", "", "", sprintf("%d accounts have left", [count(departed)]), {}) if count(departed) > 3
`
	b := bundleWith(t, "user.rego", user)
	r := rand.New(rand.NewPCG(5, 8))
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	rules := map[string]bool{}
	for round := range 20 {
		inv := randomInventory(r, 80, now)
		one, err := b.eval(ctx, inv, false)
		if err != nil {
			t.Fatal(err)
		}
		split, err := b.eval(ctx, inv, true)
		if err != nil {
			t.Fatal(err)
		}
		if one.FindingsHash != split.FindingsHash || len(one.Findings) != len(split.Findings) {
			t.Fatalf("round %d: side by side %d findings (%s), in one evaluation %d (%s)", round, len(split.Findings), split.FindingsHash, len(one.Findings), one.FindingsHash)
		}
		for _, f := range one.Findings {
			rules[f.Rule] = true
		}
	}
	for _, want := range []string{"stale-backup", "never-captured", "departed-not-captured", "msp-stale-site", "msp-many-departed"} {
		if !rules[want] {
			t.Errorf("no %s finding in any round: the inventories test too little", want)
		}
	}

	// Every rule of sideBySide is in the cache once they have run.
	in, _ := randomInventory(r, 80, now).Value()
	vc := topdown.NewVirtualCache()
	if err := b.evalSideBySide(ctx, in, vc); err != nil {
		t.Fatal(err)
	}
	for _, name := range sideBySide {
		if v, _ := vc.Get(ast.MustParseRef("data.holdfast." + name)); v == nil {
			t.Errorf("%s is not in the cache after evaluating it", name)
		}
	}

	// A value planted in the cache is what the findings get.
	vc = topdown.NewVirtualCache()
	planted := ast.MustParseTerm(`{{"rule": "planted", "severity": "low", "message": "from the cache"}}`)
	vc.Put(ast.MustParseRef("data.holdfast.stale_findings"), planted)
	in, _ = syntheticInventory(10, now).Value()
	rs, err := b.evalFindings(ctx, in, vc)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rs[0].Expressions[0].Value); !strings.Contains(got, "planted") {
		t.Errorf("findings %s: the value in the cache was not used", got)
	}
}
