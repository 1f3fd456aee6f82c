package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/holdfast/holdfast/faketenant"
)

type searchResult struct {
	Total int
	Hits  []struct {
		Item     string
		Account  string
		Kind     string
		Version  uint64
		Deleted  bool
		Disposed string
		Snippet  string
	}
}

func (c *cli) search(q string, extra ...string) searchResult {
	c.t.Helper()
	var r searchResult
	jsonDoc(c.t, c.ok(append([]string{"--json", "--tenant", "contoso", "search", "--limit", "100000"}, append(extra, "--", q)...)...), &r)
	return r
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// The expected answers come from what the fake tenant generated, checked
// by plain Go predicates — never from the index.
func mailText(m faketenant.MailDoc) []string {
	return words(m.Subject + " " + m.Body + " " + m.AttachText + " " + strings.Join(m.Attachments, " "))
}

func hasWord(m faketenant.MailDoc, w string) bool {
	for _, x := range mailText(m) {
		if x == w {
			return true
		}
	}
	return false
}

func hasPrefix(m faketenant.MailDoc, p string) bool {
	for _, x := range mailText(m) {
		if strings.HasPrefix(x, p) {
			return true
		}
	}
	return false
}

func hasPhrase(ws []string, phrase string) bool {
	p := words(phrase)
	for i := 0; i+len(p) <= len(ws); i++ {
		ok := true
		for j := range p {
			if ws[i+j] != p[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func near(ws []string, a, b string, n int) bool {
	for i, x := range ws {
		if x != a {
			continue
		}
		for j, y := range ws {
			if y == b && i != j {
				d := i - j
				if d < 0 {
					d = -d
				}
				if d-1 <= n {
					return true
				}
			}
		}
	}
	return false
}

// nearMail is NEAR as Purview means it: within one property's text.
func nearMail(m faketenant.MailDoc, a, b string, n int) bool {
	for _, text := range []string{m.Subject, m.Body, m.AttachText, strings.Join(m.Attachments, " ")} {
		if near(words(text), a, b, n) {
			return true
		}
	}
	return false
}

func addrIs(a faketenant.Address, v string) bool {
	v = strings.ToLower(v)
	addr := strings.ToLower(a.Address)
	alias, _, _ := strings.Cut(addr, "@")
	return addr == v || alias == v || strings.ToLower(a.Name) == v
}

func anyAddr(as []faketenant.Address, v string) bool {
	for _, a := range as {
		if addrIs(a, v) {
			return true
		}
	}
	return false
}

func TestSearchKQLAgainstTruth(t *testing.T) {
	ft, info, c := connectedFake(t, 5)
	c.ok("--tenant", "contoso", "backup")
	corpus := ft.MailCorpus()
	alice, ben := info.Users[0], info.Users[1]
	aliceName, benName := "", ""
	for _, m := range corpus {
		if strings.EqualFold(m.From.Address, alice) {
			aliceName = m.From.Name
		}
		if strings.EqualFold(m.From.Address, ben) {
			benName = m.From.Name
		}
	}
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	mid := corpus[len(corpus)/2].Received.UTC().Truncate(24 * time.Hour)
	midDay := mid.Format("2006-01-02")
	type pred func(m faketenant.MailDoc) bool
	cases := []struct {
		q    string
		want pred
	}{
		{"kind:email reconciliation", func(m faketenant.MailDoc) bool { return hasWord(m, "reconciliation") }},
		{"kind:email Reconciliation", func(m faketenant.MailDoc) bool { return hasWord(m, "reconciliation") }},
		{"kind:email ledger", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") }},
		{"kind:email depreciation", func(m faketenant.MailDoc) bool { return hasWord(m, "depreciation") }},
		{"kind:email remittance", func(m faketenant.MailDoc) bool { return hasWord(m, "remittance") }},
		{"kind:email penalties", func(m faketenant.MailDoc) bool { return hasWord(m, "penalties") }},
		{"kind:email ledger reconciliation", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") && hasWord(m, "reconciliation") }},
		{"kind:email ledger AND reconciliation", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") && hasWord(m, "reconciliation") }},
		{"kind:email (ledger OR remittance)", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") || hasWord(m, "remittance") }},
		{"kind:email ledger NOT remittance", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") && !hasWord(m, "remittance") }},
		{"kind:email ledger -remittance", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") && !hasWord(m, "remittance") }},
		{"kind:email +ledger", func(m faketenant.MailDoc) bool { return hasWord(m, "ledger") }},
		{"kind:email NOT ledger", func(m faketenant.MailDoc) bool { return !hasWord(m, "ledger") }},
		{`kind:email "bank reconciliation"`, func(m faketenant.MailDoc) bool { return hasPhrase(mailText(m), "bank reconciliation") }},
		{`kind:email "unmatched payments"`, func(m faketenant.MailDoc) bool { return hasPhrase(mailText(m), "unmatched payments") }},
		{`kind:email "opening balances"`, func(m faketenant.MailDoc) bool { return hasPhrase(mailText(m), "opening balances") }},
		{`kind:email "payments shows"`, func(m faketenant.MailDoc) bool { return hasPhrase(mailText(m), "payments shows") }},
		{"kind:email recon*", func(m faketenant.MailDoc) bool { return hasPrefix(m, "recon") }},
		{"kind:email depreci*", func(m faketenant.MailDoc) bool { return hasPrefix(m, "depreci") }},
		{"kind:email pay*", func(m faketenant.MailDoc) bool { return hasPrefix(m, "pay") }},
		{"kind:email ledger NEAR(3) noted", func(m faketenant.MailDoc) bool { return nearMail(m, "ledger", "noted", 3) }},
		{"kind:email reviewed NEAR(1) ledger", func(m faketenant.MailDoc) bool { return nearMail(m, "reviewed", "ledger", 1) }},
		{"kind:email reviewed NEAR(0) ledger", func(m faketenant.MailDoc) bool { return nearMail(m, "reviewed", "ledger", 0) }},
		{"kind:email ledger NEAR attention", func(m faketenant.MailDoc) bool { return nearMail(m, "ledger", "attention", 8) }},
		{"kind:email ledger NEAR(40) remittance", func(m faketenant.MailDoc) bool { return nearMail(m, "ledger", "remittance", 40) }},
		{"kind:email (reviewed NEAR(1) ledger OR depreciation)", func(m faketenant.MailDoc) bool {
			return nearMail(m, "reviewed", "ledger", 1) || hasWord(m, "depreciation")
		}},
		// NEAR of any width combines with OR and NOT (it is a query like
		// any other, not a check after the search).
		{"kind:email (ledger NEAR(40) remittance OR depreciation)", func(m faketenant.MailDoc) bool {
			return nearMail(m, "ledger", "remittance", 40) || hasWord(m, "depreciation")
		}},
		{"kind:email NOT ledger NEAR(60) remittance", func(m faketenant.MailDoc) bool { return !nearMail(m, "ledger", "remittance", 60) }},
		{`kind:email "bank reconciliation" NEAR(2) unmatched`, func(m faketenant.MailDoc) bool {
			ws := mailText(m)
			for i := 0; i+1 < len(ws); i++ {
				if ws[i] == "bank" && ws[i+1] == "reconciliation" {
					for j, w := range ws {
						if w == "unmatched" && (j > i+1 && j-(i+1)-1 <= 2 || j < i && i-j-1 <= 2) {
							return true
						}
					}
				}
			}
			return false
		}},
		{"subject:VAT kind:email", func(m faketenant.MailDoc) bool { return hasPhrase(words(m.Subject), "vat") }},
		{`subject:"VAT return"`, func(m faketenant.MailDoc) bool { return hasPhrase(words(m.Subject), "vat return") }},
		{`subject:"Harbour Bakery"`, func(m faketenant.MailDoc) bool { return hasPhrase(words(m.Subject), "harbour bakery") }},
		{"subject:payroll", func(m faketenant.MailDoc) bool { return hasPhrase(words(m.Subject), "payroll") }},
		{"subject:pay*", func(m faketenant.MailDoc) bool {
			for _, w := range words(m.Subject) {
				if strings.HasPrefix(w, "pay") {
					return true
				}
			}
			return false
		}},
		{"title:audit kind:email", func(m faketenant.MailDoc) bool { return hasPhrase(words(m.Subject), "audit") }},
		{"from:" + alice, func(m faketenant.MailDoc) bool { return addrIs(m.From, alice) }},
		{"from:" + strings.ToUpper(alice), func(m faketenant.MailDoc) bool { return addrIs(m.From, alice) }},
		{"from:" + strings.Split(alice, "@")[0] + " kind:email", func(m faketenant.MailDoc) bool { return addrIs(m.From, strings.Split(alice, "@")[0]) }},
		{`from:"` + aliceName + `" kind:email`, func(m faketenant.MailDoc) bool { return addrIs(m.From, aliceName) }},
		{"to:" + ben, func(m faketenant.MailDoc) bool { return anyAddr(m.To, ben) }},
		{`to:"` + benName + `"`, func(m faketenant.MailDoc) bool { return anyAddr(m.To, benName) }},
		{"cc:" + alice, func(m faketenant.MailDoc) bool { return anyAddr(m.Cc, alice) }},
		{"bcc:" + alice, func(m faketenant.MailDoc) bool { return false }},
		{"recipients:" + alice + " kind:email", func(m faketenant.MailDoc) bool { return anyAddr(m.To, alice) || anyAddr(m.Cc, alice) }},
		{"participants:" + ben + " kind:email", func(m faketenant.MailDoc) bool {
			return addrIs(m.From, ben) || anyAddr(m.To, ben) || anyAddr(m.Cc, ben)
		}},
		{"from:" + alice + " to:" + ben, func(m faketenant.MailDoc) bool { return addrIs(m.From, alice) && anyAddr(m.To, ben) }},
		{"from:" + alice + " OR from:" + ben, func(m faketenant.MailDoc) bool { return addrIs(m.From, alice) || addrIs(m.From, ben) }},
		{"kind:email -from:" + alice, func(m faketenant.MailDoc) bool { return !addrIs(m.From, alice) }},
		{"from:" + strings.Split(alice, "@")[0][:2] + "* kind:email", func(m faketenant.MailDoc) bool {
			p := strings.ToLower(strings.Split(alice, "@")[0][:2])
			a := strings.ToLower(m.From.Address)
			return strings.HasPrefix(a, p) || strings.HasPrefix(strings.ToLower(m.From.Name), p)
		}},
		{"hasattachment:true kind:email", func(m faketenant.MailDoc) bool { return len(m.Attachments) > 0 }},
		{"hasattachment:false kind:email", func(m faketenant.MailDoc) bool { return len(m.Attachments) == 0 }},
		{"hasattachment:yes kind:email", func(m faketenant.MailDoc) bool { return len(m.Attachments) > 0 }},
		{"attachmentnames:csv kind:email", func(m faketenant.MailDoc) bool { return len(m.Attachments) > 0 }},
		{"attachmentnames:payroll kind:email", func(m faketenant.MailDoc) bool {
			return len(m.Attachments) > 0 && hasPhrase(words(m.Attachments[0]), "payroll")
		}},
		{"sent>=" + midDay + " kind:email", func(m faketenant.MailDoc) bool { return !m.Received.Before(mid) }},
		{"sent<" + midDay + " kind:email", func(m faketenant.MailDoc) bool { return m.Received.Before(mid) }},
		{"sent>" + midDay + " kind:email", func(m faketenant.MailDoc) bool { return !m.Received.Before(mid.AddDate(0, 0, 1)) }},
		{"sent<=" + midDay + " kind:email", func(m faketenant.MailDoc) bool { return m.Received.Before(mid.AddDate(0, 0, 1)) }},
		{"sent:" + midDay, func(m faketenant.MailDoc) bool {
			return !m.Received.Before(mid) && m.Received.Before(mid.AddDate(0, 0, 1))
		}},
		{"sent:" + midDay + ".." + mid.AddDate(0, 0, 2).Format("2006-01-02"), func(m faketenant.MailDoc) bool {
			return !m.Received.Before(mid) && m.Received.Before(mid.AddDate(0, 0, 3))
		}},
		{"received:2025-01-01..2025-12-31 kind:email", func(m faketenant.MailDoc) bool {
			return !m.Received.Before(day("2025-01-01")) && m.Received.Before(day("2026-01-01"))
		}},
		{"sent>=2030-01-01 kind:email", func(m faketenant.MailDoc) bool { return false }},
		{"size>3000 kind:email", func(m faketenant.MailDoc) bool { return m.Size > 3000 }},
		{"size<=1500 kind:email", func(m faketenant.MailDoc) bool { return m.Size <= 1500 }},
		{"size:1000..2000 kind:email", func(m faketenant.MailDoc) bool { return m.Size >= 1000 && m.Size <= 2000 }},
		{"size>2KB kind:email", func(m faketenant.MailDoc) bool { return m.Size > 2048 }},
		{"kind:email", func(m faketenant.MailDoc) bool { return true }},
		{"kind:email AND (subject:payroll OR subject:audit) AND NOT hasattachment:true", func(m faketenant.MailDoc) bool {
			s := words(m.Subject)
			return (hasPhrase(s, "payroll") || hasPhrase(s, "audit")) && len(m.Attachments) == 0
		}},
		{"folder:inbox/clients kind:email", func(m faketenant.MailDoc) bool { return m.Folder == "Clients" || m.Folder == "Harbour Bakery" }},
		{"custodian:" + alice + " kind:email", func(m faketenant.MailDoc) bool { return strings.EqualFold(m.Account, alice) }},
		{"custodian:" + alice + " ledger", func(m faketenant.MailDoc) bool { return strings.EqualFold(m.Account, alice) && hasWord(m, "ledger") }},
	}
	if len(cases) < 60 {
		t.Fatalf("only %d KQL cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			want := map[string]bool{}
			for _, m := range corpus {
				if tc.want(m) {
					want[m.Account+"|"+m.ID] = true
				}
			}
			got := map[string]bool{}
			res := c.search(tc.q)
			for _, h := range res.Hits {
				if h.Kind != "email" {
					if strings.Contains(tc.q, "kind:email") {
						t.Errorf("hit of kind %s", h.Kind)
					}
					continue // the predicate speaks for mail only
				}
				got[h.Account+"|"+h.Item] = true
			}
			var missing, extra []string
			for k := range want {
				if !got[k] {
					missing = append(missing, k)
				}
			}
			for k := range got {
				if !want[k] {
					extra = append(extra, k)
				}
			}
			if len(missing)+len(extra) > 0 {
				sort.Strings(missing)
				sort.Strings(extra)
				t.Errorf("got %d mail hits, want %d; missing %d %.3v, extra %d %.3v", len(got), len(want), len(missing), missing, len(extra), extra)
			}
		})
	}
	// Beyond mail: other kinds against the tenant's truth.
	truth := ft.Truth()
	count := func(pred func(faketenant.TruthItem) bool) int {
		n := 0
		for _, it := range truth {
			if pred(it) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"kind:meetings", count(func(it faketenant.TruthItem) bool { return it.Workload == "calendar" })},
		{"kind:contacts", count(func(it faketenant.TruthItem) bool { return it.Workload == "contacts" })},
		{"kind:meetings hasattachment:true", count(func(it faketenant.TruthItem) bool { return it.Workload == "calendar" && it.Attachments > 0 })},
		{"kind:docs fileextension:csv", count(func(it faketenant.TruthItem) bool {
			return (it.Workload == "onedrive" || it.Workload == "sharepoint") && strings.HasSuffix(strings.ToLower(it.Title), ".csv")
		})},
	} {
		if got := c.search(tc.q).Total; got != tc.want || tc.want == 0 {
			t.Errorf("%s: %d hits, want %d (from the tenant's truth)", tc.q, got, tc.want)
		}
	}
	// Malformed queries: exit 2 with where and what.
	for _, q := range []string{"budget AND", "colour:red", `"open`, "sent>=yesterday"} {
		code, _, errs := c.run("--tenant", "contoso", "search", "--", q)
		if code != exitUsage || !strings.Contains(errs, "position") {
			t.Errorf("search %q: exit %d, %s", q, code, errs)
		}
	}
	// Every search is an audit record.
	var audit struct {
		Records []struct{ Data map[string]any }
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "log", "--type", "audit.event"), &audit)
	if len(audit.Records) < len(cases) {
		t.Errorf("%d audit records, want one per search (%d+)", len(audit.Records), len(cases))
	}
}

// Deleted items and earlier versions stay searchable; a rebuild from the
// store answers exactly as the index kept current by backups; holds and
// exports hold up.
func TestSearchDeletedVersionsRebuildHoldExport(t *testing.T) {
	ft, info, c := connectedFake(t, 6)
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	const path = "Inbox/Clients/Harbour Bakery"
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "delete-folder", Path: path}); err != nil {
		t.Fatal(err)
	}
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "overwrite-folder"}); err != nil {
		t.Fatal(err)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	alice := info.Users[0]
	res := c.search("custodian:" + alice + " folder:\"" + strings.ToLower(path) + "\"")
	if res.Total == 0 {
		t.Fatal("the deleted folder's messages are not found")
	}
	for _, h := range res.Hits {
		if !h.Deleted {
			t.Errorf("%s: deleted in the tenant but not flagged", h.Item)
		}
	}
	cur := c.search("kind:docs custodian:" + alice)
	all := c.search("kind:docs custodian:"+alice, "--all-versions")
	if all.Total <= cur.Total {
		t.Errorf("overwritten files: %d versions, %d items; want more versions than items", all.Total, cur.Total)
	}
	queries := []string{"kind:email reconciliation", "kind:docs", "deleted:true", `"bank reconciliation"`, "hasattachment:true"}
	before := map[string]string{}
	for _, q := range queries {
		before[q] = c.ok("--json", "--tenant", "contoso", "search", "--all-versions", "--limit", "100000", "--", q)
	}
	c.ok("--tenant", "contoso", "index", "rebuild")
	for _, q := range queries {
		if after := c.ok("--json", "--tenant", "contoso", "search", "--all-versions", "--limit", "100000", "--", q); after != before[q] {
			t.Errorf("%s: the rebuilt index answers differently\n%.3000s\n----\n%.3000s", q, before[q], after)
		}
	}
	// Hold and export.
	c.ok("--tenant", "contoso", "hold", "create", "--case", "Harbour", "--custodian", alice, "--reason", "letter before action")
	if code, _, errs := c.run("--tenant", "contoso", "hold", "create", "--case", "Harbour", "--custodian", alice, "--reason", "again"); code == exitOK || !strings.Contains(errs, "active hold") {
		t.Errorf("a second active hold on the same case: %d %s", code, errs)
	}
	var show struct{ Total int }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "hold", "show", "--case", "Harbour"), &show)
	if show.Total == 0 {
		t.Error("the hold holds nothing")
	}
	out := filepath.Join(t.TempDir(), "harbour.zip")
	var ex struct{ Items int }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "export", "--case", "Harbour", "--query", "reconciliation OR kind:docs", "--out", out), &ex)
	if ex.Items == 0 {
		t.Fatal("empty export")
	}
	key := strings.TrimSpace(c.ok("log-key"))
	c.ok("verify-export", out, "--key", key)
	// One changed byte in one native: exit 3, naming the file.
	bad := filepath.Join(t.TempDir(), "bad.zip")
	name := rewriteZip(t, out, bad)
	code, stdout, errs := c.run("verify-export", bad, "--key", key)
	if code != exitIntegrity || !strings.Contains(stdout+errs, name) {
		t.Errorf("tampered export: exit %d, want 3 naming %s\n%s%s", code, name, stdout, errs)
	}
	c.ok("--tenant", "contoso", "hold", "release", "--case", "Harbour", "--reason", "settled")
}

// rewriteZip copies a zip, flipping one byte of its first native file, and
// returns that file's name.
func rewriteZip(t *testing.T, from, to string) string {
	zr, err := zip.OpenReader(from)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, _ := os.Create(to)
	zw := zip.NewWriter(f)
	changed := ""
	for _, e := range zr.File {
		rc, _ := e.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if changed == "" && strings.HasPrefix(e.Name, "natives/") && len(data) > 10 {
			data[len(data)/2] ^= 1
			changed = e.Name
		}
		w, _ := zw.Create(e.Name)
		w.Write(data)
	}
	zw.Close()
	f.Close()
	if changed == "" {
		t.Fatal("no native to change")
	}
	return changed
}
