package disposal

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

var day = 24 * time.Hour

func TestCompute(t *testing.T) {
	asOf := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ago := func(days int) time.Time { return asOf.Add(-time.Duration(days) * day) }
	rules := []record.RetentionRule{
		{Name: "all-1y", KeepDays: 365, From: "received"},
		{Name: "contracts-3y", Query: "subject:contract", KeepDays: 1095, From: "received"},
		{Name: "files-2y", Workloads: []string{"onedrive"}, KeepDays: 730, From: "modified"},
		{Name: "departed-90d", KeepDays: 90, From: "departure"},
	}
	vs := []Version{
		{Record: 10, Workload: "mail", Account: "ann@x", Received: ago(400), Captured: ago(399)},             // all-1y, due
		{Record: 11, Workload: "mail", Account: "ann@x", Received: ago(400)},                                 // a contract: kept 3 y
		{Record: 12, Workload: "mail", Account: "ann@x", Received: ago(1200)},                                // a contract, due
		{Record: 13, Workload: "onedrive", Account: "bob@x", Received: ago(900), Modified: ago(500)},         // files-2y not due
		{Record: 14, Workload: "onedrive", Account: "bob@x", Received: ago(900), Modified: ago(800)},         // due under files-2y
		{Record: 15, Workload: "mail", Account: "carl@x", Received: ago(100)},                                // departed 200 days ago, but all-1y keeps it
		{Record: 16, Workload: "mail", Account: "carl@x", Received: ago(370)},                                // due: both rules
		{Record: 17, Workload: "mail", Account: "ann@x", Received: ago(500)},                                 // held
		{Record: 18, Workload: "mail", Account: "ann@x", Received: ago(500)},                                 // disposed already
		{Record: 19, Workload: "calendar", Account: "ann@x", Modified: ago(20), Captured: ago(2)},            // received unknown: captured 2 days ago
		{Record: 20, Workload: "mail", Account: "ann@x", Received: asOf.Add(-365 * day), Captured: ago(300)}, // due exactly at as-of
		{Record: 21, Workload: "mail", Account: "ann@x", Received: asOf.Add(-365*day + time.Second)},         // one second short
	}
	in := Input{AsOf: asOf, Rules: rules, Versions: vs,
		Selected: map[string]map[uint64]bool{"contracts-3y": {11: true, 12: true}},
		Departed: map[string]time.Time{"carl@x": ago(200)},
		Held:     map[uint64][]string{17: {"Smith", "Acme"}},
		Disposed: map[uint64]bool{18: true}}
	p := Compute(in)
	got := map[string]string{}
	for _, g := range p.Groups {
		var rs []string
		for _, v := range g.Versions {
			rs = append(rs, fmt.Sprint(v.Record))
		}
		got[g.Rule] = strings.Join(rs, " ")
	}
	want := map[string]string{"all-1y": "10 16 20", "contracts-3y": "12", "files-2y": "14"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if len(p.Held) != 1 || p.Held[0].Record != 17 || strings.Join(p.Held[0].Cases, ",") != "Acme,Smith" {
		t.Errorf("held %+v, want record 17 held by Acme and Smith", p.Held)
	}
	if p.Eligible != 5 || p.Covered != 11 {
		t.Errorf("eligible %d, covered %d; want 5 and 11", p.Eligible, p.Covered)
	}
	if want := asOf.Add(time.Second); p.Next == nil || !p.Next.Equal(want) {
		t.Errorf("next due %v, want %v", p.Next, want)
	}
	if v := p.Groups[0].Versions[1]; v.Record != 16 || !v.Since.Equal(ago(370)) {
		t.Errorf("record 16 decided by %s since %v; want all-1y since its receipt", v.Rule, v.Since)
	}
}

// Whatever the versions, rules and holds, a plan never holds a held
// version, a disposed one, or one a covering rule still keeps.
func TestComputeNeverEligibleWhileKeptOrHeld(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	asOf := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	workloads := []string{"mail", "onedrive", "teams"}
	for round := 0; round < 200; round++ {
		var in Input
		in.AsOf = asOf
		in.Selected = map[string]map[uint64]bool{}
		in.Held, in.Disposed, in.Departed = map[uint64][]string{}, map[uint64]bool{}, map[string]time.Time{}
		for i := range 1 + r.IntN(4) {
			rule := record.RetentionRule{Name: fmt.Sprint("r", i), KeepDays: 1 + r.IntN(2000), From: []string{"received", "modified", "departure"}[r.IntN(3)]}
			if r.IntN(2) == 0 {
				rule.Workloads = []string{workloads[r.IntN(3)]}
			}
			if r.IntN(3) == 0 {
				rule.Query = "q"
				in.Selected[rule.Name] = map[uint64]bool{}
			}
			in.Rules = append(in.Rules, rule)
		}
		for i := range 300 {
			v := Version{Record: uint64(i), Workload: workloads[r.IntN(3)], Account: fmt.Sprint("u", r.IntN(5)),
				Received: asOf.Add(-time.Duration(r.IntN(3000)) * day), Captured: asOf.Add(-time.Duration(r.IntN(3000)) * day)}
			if r.IntN(2) == 0 {
				v.Modified = asOf.Add(-time.Duration(r.IntN(3000)) * day)
			}
			for _, rule := range in.Rules {
				if rule.Query != "" && r.IntN(2) == 0 {
					in.Selected[rule.Name][v.Record] = true
				}
			}
			switch r.IntN(10) {
			case 0:
				in.Held[v.Record] = []string{"case"}
			case 1:
				in.Disposed[v.Record] = true
			}
			in.Versions = append(in.Versions, v)
		}
		in.Departed["u1"] = asOf.Add(-time.Duration(r.IntN(2000)) * day)
		p := Compute(in)
		byRecord := map[uint64]Version{}
		for _, v := range in.Versions {
			byRecord[v.Record] = v
		}
		for _, dv := range p.Versions() {
			v := byRecord[dv.Record]
			if len(in.Held[v.Record]) > 0 || in.Disposed[v.Record] {
				t.Fatalf("round %d: record %d is held or disposed, yet eligible", round, v.Record)
			}
			covered := false
			for _, rule := range in.Rules {
				since, ok := Since(rule, v, &in)
				if !ok {
					continue
				}
				covered = true
				if asOf.Before(Due(rule, since)) {
					t.Fatalf("round %d: record %d eligible, but rule %s keeps it until %v", round, v.Record, rule.Name, Due(rule, since))
				}
			}
			if !covered {
				t.Fatalf("round %d: record %d eligible, but no rule covers it", round, v.Record)
			}
		}
	}
}

func TestLedgerReviewsAndExecutions(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	l := NewLedger()
	note := func(idx uint64, typ string, v any) error {
		b, _ := json.Marshal(v)
		return l.Note(idx, typ, at, b)
	}
	if err := note(5, record.TypeDisposalProposed, record.DisposalProposed{Tenant: "t", Actor: "alice@ws1", Person: "alice",
		Versions: []record.DisposalVersion{{Record: 2, Rule: "r"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CheckExecute(5); !holdfast.Is(holdfast.Permission, err) {
		t.Errorf("execute before review: %v, want refused", err)
	}
	for _, tc := range []struct {
		name                           string
		proposal                       uint64
		person, role, decision, reason string
		kind                           holdfast.Kind
	}{
		{"the proposer", 5, "Alice", "legal", Approved, "ok", holdfast.Permission},
		{"not legal", 5, "bob", "admin", Approved, "ok", holdfast.Permission},
		{"no reason", 5, "bob", "legal", Approved, " ", holdfast.Invalid},
		{"no such proposal", 6, "bob", "legal", Approved, "ok", holdfast.NotFound},
		{"neither approve nor reject", 5, "bob", "legal", "maybe", "ok", holdfast.Invalid},
	} {
		if _, err := l.CheckReview(tc.proposal, tc.person, tc.role, tc.decision, tc.reason); !holdfast.Is(tc.kind, err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
	}
	if _, err := l.CheckReview(5, "bob", "legal", Approved, "per schedule"); err != nil {
		t.Fatal(err)
	}
	note(6, record.TypeDisposalReviewed, record.DisposalReviewed{Proposal: 5, Decision: Approved, Reason: "per schedule", Actor: "bob", Person: "bob", Role: "legal"})
	if _, err := l.CheckReview(5, "carol", "legal", Rejected, "no"); !holdfast.Is(holdfast.Exist, err) {
		t.Errorf("second review: %v, want refused", err)
	}
	if _, err := l.CheckExecute(5); err != nil {
		t.Fatal(err)
	}
	note(7, record.TypeDisposalExecuted, record.DisposalExecuted{Proposal: 5, Approval: 6, Versions: []record.DisposalVersion{{Record: 2, Rule: "r"}}, Actor: "alice"})
	if _, err := l.CheckExecute(5); !holdfast.Is(holdfast.Exist, err) {
		t.Errorf("second execution: %v, want refused", err)
	}
	if d, ok := l.Disposed[2]; !ok || d.Execution != 7 || !strings.Contains(d.String(), `disposed of on 2026-12-07 under rule "r" (record 7)`) {
		t.Errorf("disposed %v", d)
	}
	note(8, record.TypeDisposalDone, record.DisposalCompleted{Execution: 7})
	if s := l.Proposals[5].State(); s != "completed" {
		t.Errorf("state %s, want completed", s)
	}
	if err := note(9, record.TypeDisposalExecuted, record.DisposalExecuted{Proposal: 5}); !holdfast.Is(holdfast.Integrity, err) {
		t.Errorf("a log that executes twice: %v, want an integrity error", err)
	}
}
