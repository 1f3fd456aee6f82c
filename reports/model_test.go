package reports

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// fixture is a tenant's store with a fixed clock: two users (one departed),
// a site, three runs (one with failures), a restore test, a verify run and
// a hold.
func fixture(t *testing.T) (*store.Store, func(time.Time)) {
	t.Helper()
	ctx := context.Background()
	clock := t0
	now := func() time.Time { clock = clock.Add(time.Minute); return clock }
	d := store.DataDir{Dir: t.TempDir()}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(ctx, "contoso", store.AddTenantOptions{Now: t0}); err != nil {
		t.Fatal(err)
	}
	s, err := d.OpenTenant(ctx, "contoso", store.OpenTenantOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	ref, _ := s.PutBytes(ctx, []byte("a captured message"))
	add := func(typ string, data any, refs ...store.Ref) {
		if _, err := s.Append(ctx, typ, data, refs...); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"amélie@contoso.example", "bjørn@contoso.example"} {
		add("account.state", map[string]any{"account": u, "account_id": "id-" + u[:3], "state": "active"})
	}
	for run := 1; run <= 3; run++ {
		id := fmt.Sprint("run-", run)
		add(record.TypeRunStarted, map[string]any{"run": id})
		for _, u := range []string{"amélie@contoso.example", "bjørn@contoso.example"} {
			for _, w := range []string{"mail", "calendar", "contacts", "onedrive"} {
				add(record.TypeItemVersion, map[string]any{"account": u, "workload": w, "item": fmt.Sprint(w, run)}, ref)
				add(record.TypeDeltaPosition, map[string]any{"account": u, "workload": w, "stream": w + "/" + u})
			}
		}
		add(record.TypeItemVersion, map[string]any{"account": "https://contoso.sharepoint.com/sites/finance", "workload": "sharepoint", "item": fmt.Sprint("f", run)}, ref)
		add(record.TypeDeltaPosition, map[string]any{"account": "https://contoso.sharepoint.com/sites/finance", "workload": "sharepoint"})
		finished := map[string]any{"run": id, "status": "completed", "failed_items": []any{}}
		if run == 2 {
			finished["status"] = "completed_with_failures"
			finished["failed_items"] = []any{map[string]any{"account": "amélie@contoso.example", "workload": "mail", "item": "m9", "reason": "503 after 20 tries"}}
		}
		add(record.TypeRunFinished, finished)
	}
	add("account.state", map[string]any{"account": "bjørn@contoso.example", "account_id": "id-bj", "state": "disabled"})
	add("account.departed", map[string]any{"account": "bjørn@contoso.example", "account_id": "id-bj", "state": "disabled", "reason": "disabled", "first_seen": clock.Add(time.Minute)})
	add(record.TypeRestorePerformed, map[string]any{"restore": "r1", "test": true, "status": "passed", "items": 20})
	add(record.TypeVerifyRun, map[string]any{"ok": true, "failures": 0})
	add(record.TypeHoldPlaced, map[string]any{"case": "Harbour v Contoso", "custodians": []string{"bjørn@contoso.example"}, "reason": "letter", "actor": "legal@contoso"})
	add(record.TypeAudit, map[string]any{"action": "search", "actor": "legal@contoso", "query": "invoice*", "hits": 4})
	add(record.TypeAudit, map[string]any{"action": "export", "actor": "legal@contoso", "case": "Harbour v Contoso", "query": "kind:email", "hits": 3, "detail": "package sha256 ab"})
	add(record.TypeRestorePerformed, map[string]any{"restore": "r2", "actor": "tech@msp", "status": "completed", "items": 5, "target": "tenant", "scope": map[string]any{"Account": "amélie@contoso.example", "Workload": "onedrive", "Path": "/Clients"}})
	// A disposal of amélie's first mail and contacts versions (their
	// content, shared with later versions, stays).
	rule := record.RetentionRule{Name: "mail-1y", Workloads: []string{"mail", "contacts"}, KeepDays: 365, From: "received"}
	var versions []record.DisposalVersion
	for _, w := range []string{"mail", "contacts"} {
		versions = append(versions, record.DisposalVersion{Record: map[string]uint64{"mail": 4, "contacts": 8}[w], Workload: w, Account: "amélie@contoso.example", Item: w + "1", Rule: rule.Name, Since: t0.AddDate(-2, 0, 0)})
	}
	prop, err := s.Append(ctx, record.TypeDisposalProposed, record.DisposalProposed{Tenant: "contoso", AsOf: t0, Rules: []record.RetentionRule{rule}, PolicyHash: "p",
		Versions: versions, Held: 1, Reason: "yearly review", Actor: "tech@msp", Person: "tech"})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Append(ctx, record.TypeDisposalReviewed, record.DisposalReviewed{Proposal: prop, Decision: "approved", Reason: "per the schedule", Actor: "legal@contoso", Person: "legal", Role: "legal"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dispose(ctx, record.DisposalExecuted{Proposal: prop, Approval: rev, Versions: versions, Actor: "tech@msp"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return s, func(t time.Time) { clock = t }
}

// fakeHeld counts held versions as a hand-written stand-in for the index.
func fakeHeld(_ context.Context, custodians []string, query string, _, _ *time.Time) ([]HeldRow, int, error) {
	var rows []HeldRow
	for i, c := range custodians {
		rows = append(rows, HeldRow{Custodian: c, Kinds: map[string]int{"email": 10 + i, "docs": 2}, Total: 12 + i})
	}
	return rows, 12 * len(custodians), nil
}

func TestModelGolden(t *testing.T) {
	s, setClock := fixture(t)
	b, err := policy.LoadBundle("")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			m, err := Build(context.Background(), s, b, Options{Kind: kind, Tenant: "contoso", Store: policy.StoreInfo{Backend: "local", ObjectLock: "none"},
				From: t0, To: t0.Add(24 * time.Hour), Case: "Harbour v Contoso", Held: fakeHeld})
			if err != nil {
				t.Fatal(err)
			}
			if m.Checkpoint.Size == 0 || m.Checkpoint.Root == "" || !strings.Contains(m.Checkpoint.Note, "holdfast/contoso/") {
				t.Fatalf("checkpoint %+v", m.Checkpoint)
			}
			// The checkpoint's root and signature depend on the
			// repository's random id and key: not golden.
			m.Checkpoint.Root, m.Checkpoint.Note = "(root)", "(signed note)"
			if d := m.Disposal; d != nil {
				for _, p := range []*ProofSummary{&d.Inclusion, &d.Consistency} {
					if len(p.Path) == 0 || p.Root == "" {
						t.Fatalf("proof %+v", p)
					}
					p.Path, p.Root = []string{"(hashes)"}, "(root)"
					if p.OldRoot != "" {
						p.OldRoot = "(root)"
					}
				}
			}
			got, _ := json.MarshalIndent(m, "", "  ")
			path := filepath.Join("testdata", kind+".golden.json")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(path, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./reports -update writes it)", err)
			}
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
				t.Errorf("model differs from %s (go test ./reports -update after checking the change):\n%s", path, got)
			}
		})
	}
	// Reproducible: the same store, period and moment, the same content —
	// also after later records.
	si := policy.StoreInfo{Backend: "local", ObjectLock: "none"}
	opts := Options{Kind: "procedures", Tenant: "contoso", Store: si, From: t0, To: t0.Add(24 * time.Hour)}
	m1, err := Build(context.Background(), s, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	setClock(t0.Add(48 * time.Hour))
	s.Append(context.Background(), record.TypeVerifyRun, map[string]any{"ok": false})
	s.Checkpoint(context.Background())
	m2, err := Build(context.Background(), s, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Same model, same text. (The PDF's bytes may differ: gofpdf writes
	// its font subsets in map order.)
	j1, _ := json.Marshal(m1)
	j2, _ := json.Marshal(m2)
	if string(j1) != string(j2) {
		t.Errorf("the same store, period and moment gave two different reports:\n%s\n%s", j1, j2)
	}
	p1, _ := Render(m1)
	p2, _ := Render(m2)
	if a, c := pdftotext(t, p1), pdftotext(t, p2); a != c || !strings.Contains(a, "Backup and retention procedures") {
		t.Errorf("the same model rendered two different texts")
	}
}

// pdftotext is poppler's text extractor.
func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.pdf")
	os.WriteFile(path, pdf, 0o644)
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// Thousands of accounts: pages, repeated table headers, accents and
// scripts the font lacks.
func TestLargeUnicodeReport(t *testing.T) {
	m := &Model{Kind: "procedures", Tenant: "Łódź Ölçü Ψ", From: t0, To: t0.Add(24 * time.Hour), Settings: policy.DefaultSettings(),
		Store: policy.StoreInfo{Backend: "local", ObjectLock: "none"}, Checkpoint: CheckpointSummary{Size: 7, Root: "ab", Note: "holdfast/x\n7\nqw==\n"}}
	names := []string{"zoë", "søren", "józef", "Ангелина", "東京太郎", "محمد", "Ελένη"}
	last := t0
	for i := 0; i < 3000; i++ {
		m.Coverage = append(m.Coverage, CoverageRow{Account: fmt.Sprintf("%s.%d@contoso.example", names[i%len(names)], i), Workload: "mail", State: "active", Last: &last, Items: i})
	}
	pdf, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	text := pdftotext(t, pdf)
	pages := strings.Count(text, "\f")
	headers := strings.Count(text, "First capture")
	if pages < 40 || headers < pages-3 {
		t.Errorf("%d pages, the coverage table header on %d of them", pages, headers)
	}
	for _, want := range []string{"zoë.0@contoso.example", "søren.1@contoso.example", "Ангелина.3@", "Ελένη.6@", "Łódź Ölçü Ψ"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not in the report's text", want)
		}
	}
}

func TestCoverageStateShowsAccountKind(t *testing.T) {
	tests := []struct{ kind, state, want string }{
		{"user", "disabled", "disabled"},
		{"room", "disabled", "room"},
		{"shared", "unlicensed", "shared"},
		{"guest", "unlicensed", "guest"},
		{"site", "active", "active"},
	}
	for _, tt := range tests {
		if got := accountState(tt.kind, tt.state); got != tt.want {
			t.Errorf("accountState(%q, %q) = %q, want %q", tt.kind, tt.state, got, tt.want)
		}
	}
}

// TestLongNamesAreToldApart: the outside review's layout points. Two
// SharePoint sites whose URLs differ only past a column's width, and a
// hold with many custodians, print whole (wrapped, not cut); the coverage
// table says versions; the verify runs have a caption.
func TestLongNamesAreToldApart(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	site := "https://contoso-accountants.sharepoint.com/sites/"
	var custodians []string
	for i := 0; i < 9; i++ {
		custodians = append(custodians, fmt.Sprintf("custodian-%d@contoso-accountants.example", i))
	}
	m := &Model{Kind: "procedures", Tenant: "contoso", From: now.AddDate(0, -1, 0), To: now,
		Coverage: []CoverageRow{
			{Account: site + "ClientFilesHarbourBakery", Kind: "site", State: "active", Workload: "sharepoint", Last: &now, Items: 3},
			{Account: site + "ClientFilesHarbourDairy", Kind: "site", State: "active", Workload: "sharepoint", Last: &now, Items: 4},
		},
		Holds:  []policy.Hold{{Case: "Harbour v Contoso", Custodians: custodians, Active: true, Placed: now}},
		Verify: []policy.Check{{Time: now, Passed: true}},
	}
	pdf, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdftotext(t, pdf)), " ")
	for _, want := range []string{"HarbourBakery", "HarbourDairy", "custodian-8@contoso-", "Versions", "Verification runs of the store"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%.3000s", want, text)
		}
	}
	if strings.Contains(text, "sharepoi…") {
		t.Error("a site's URL is still cut")
	}
}
