package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// mailStore is a tenant store holding n synthetic messages of one
// mailbox, the i-th being synth message msg(i) of seed.
func mailStore(t *testing.T, seed uint64, n, size int, msg func(i int) int) *store.Store {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	for i := range n {
		ref, err := s.PutBytes(ctx, synth.Message(seed, msg(i), size))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "a@x.example", "workload": "mail", "item": fmt.Sprint("M", i), "path": "Inbox"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// indexed flushes s and indexes it into a new index for one test.
func indexed(t *testing.T, s *store.Store) *Index {
	ctx := context.Background()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ix := openIndex(t)
	if _, err := ix.Update(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	return ix
}

// items are the items q finds (newest versions), sorted, space-separated.
func items(t *testing.T, ix *Index, q string) string {
	r, err := ix.Search(context.Background(), nil, q, Options{Limit: 1000, NoSnippets: true})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.Item)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// openIndex opens a new index for one test.
func openIndex(t *testing.T) *Index {
	ix, err := Open(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// Sorting only the newest months that hold enough hits gives exactly the
// page that sorting every hit gives.
func TestNewestByMonthsEqualsFullSort(t *testing.T) {
	ctx := context.Background()
	// Messages 17 minutes apart times 61: about two years of mail, and
	// some dated twice (equal dates, told apart by version).
	s := mailStore(t, 3, 1200, 600, func(i int) int {
		if i%10 == 9 {
			return (i - 1) * 61
		}
		return i * 61
	})
	ix := openIndex(t)
	if _, err := ix.Update(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if ms, _ := ix.months(); len(ms) < 12 {
		t.Fatalf("%d months: too few to test the month windows", len(ms))
	}
	for _, q := range []string{"kind:email", "reconciliation", `"bank reconciliation"`, "ledger -payroll", "ledger NEAR(3) noted", `"ledger noted" OR payroll`} {
		for _, page := range []struct{ limit, offset int }{{10, 0}, {50, 0}, {20, 100}, {50, 700}, {50, 1190}} {
			run := func(direct int) string {
				ix.directSort = direct
				r, err := ix.Search(ctx, nil, q, Options{Limit: page.limit, Offset: page.offset, NoSnippets: true})
				if err != nil {
					t.Fatal(err)
				}
				out := fmt.Sprint(r.Total)
				for _, h := range r.Hits {
					out += fmt.Sprintf(" %d@%s", h.Version, h.Date.Format("2006-01-02T15:04"))
				}
				return out
			}
			if got, want := run(0), run(1<<30); got != want {
				t.Errorf("%s limit %d offset %d:\nby months %s\nall       %s", q, page.limit, page.offset, got, want)
			}
		}
		// Versions and Count (a month at a time, unsorted) agree with a
		// search of every version.
		n, _ := kql.Parse(q)
		all, err := ix.Search(ctx, nil, q, Options{Limit: 100000, AllVersions: true, NoSnippets: true})
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for _, h := range all.Hits {
			want = append(want, h.Version)
		}
		sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
		got, err := ix.Versions(ctx, n)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: Versions gave %d versions (%v), a search %d", q, len(got), err, len(want))
		}
		if c, err := ix.Count(ctx, n); err != nil || c != all.Total || c == 0 {
			t.Errorf("%s: Count %d (%v), a search %d", q, c, err, all.Total)
		}
	}
}

// Documents are extracted ahead of the indexing loop on several cores;
// each must still see the account names as the log stood at its record (a
// user renamed between two chat messages is each message's custodian
// under the name it had then).
func TestReadAheadKeepsLogOrder(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	state := func(upn string) {
		if _, err := s.Append(ctx, "account.state", map[string]any{"account": upn, "account_id": "id-1", "state": "active"}); err != nil {
			t.Fatal(err)
		}
	}
	message := func(i int) {
		js := fmt.Sprintf(`{"body":{"contentType":"text","content":"quarterly figures %d"},"from":{"user":{"id":"id-1","displayName":"Ann"}},"createdDateTime":"2025-03-0%dT10:00:00Z"}`, i, i+1)
		ref, err := s.PutBytes(ctx, []byte(js))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "team:Finance", "workload": "teams", "item": fmt.Sprint("T", i), "path": "channels/General"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	state("ann@x.example")
	for i := 0; i < 4; i++ {
		message(i)
	}
	state("ann.new@x.example")
	for i := 4; i < 8; i++ {
		message(i)
	}
	ix := indexed(t, s)
	for upn, want := range map[string]string{"ann@x.example": "T0 T1 T2 T3", "ann.new@x.example": "T4 T5 T6 T7"} {
		if got := items(t, ix, "custodian:"+upn); got != want {
			t.Errorf("custodian:%s: got %q, want %q", upn, got, want)
		}
	}
}

// An item whose content cannot be read stops the update with an error
// naming it (never a hang, never a silent gap): the index stays at a batch
// boundary before it, and the next update goes on from there.
func TestUpdateStopsAtUnreadableContent(t *testing.T) {
	ctx := context.Background()
	s := mailStore(t, 4, 1600, 400, func(i int) int { return i })
	ix := openIndex(t)
	bad := &brokenContent{Store: s, at: 1234}
	if _, err := ix.Update(ctx, bad, nil); err == nil || !strings.Contains(err.Error(), "record 1234") {
		t.Fatalf("Update over an unreadable item: %v, want an error naming record 1234", err)
	}
	if next := ix.Next(); next > 1234 || next == 0 {
		t.Errorf("after the failure the index is at record %d, want a batch boundary before 1234", next)
	}
	if _, err := ix.Update(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := ix.DocCount(); c != 1600 {
		t.Errorf("after a good update: %d documents, want 1600", c)
	}
}

// brokenContent fails to read the content of one record.
type brokenContent struct {
	*store.Store
	at uint64
}

func (b *brokenContent) Records(ctx context.Context, from uint64, fn func(raw []byte, r store.Record) error) error {
	return b.Store.Records(ctx, from, func(raw []byte, r store.Record) error {
		if r.Index == b.at {
			r.Refs = append([]store.Ref(nil), r.Refs...)
			r.Refs[0].Size = 7 // the content read cannot match the ref
		}
		return fn(raw, r)
	})
}

// NEAR and phrases, over random texts of a few words, find exactly what a
// plain check of the words finds.
func TestNearAndPhrasesAgainstPlainCheck(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	// Numbers too: short ones are their own key in F_n; the long ones
	// share the key 123456 with each other and with 123456 itself, so
	// only numpos tells them apart (analysis.go).
	vocab := []string{"alpha", "beta", "gamma", "delta", "omega", "7", "2024", "123456", "1234567", "1234568", "12,345.67"}
	rnd := rand.New(rand.NewPCG(7, 11))
	texts := map[string][]string{}
	for i := range 300 {
		ws := make([]string, 3+rnd.IntN(25))
		for k := range ws {
			ws[k] = vocab[rnd.IntN(len(vocab))]
		}
		item := fmt.Sprint("T", i)
		texts[item] = ws
		js, _ := json.Marshal(map[string]any{"body": map[string]string{"contentType": "text", "content": strings.Join(ws, " ")}, "createdDateTime": "2025-03-01T10:00:00Z"})
		ref, err := s.PutBytes(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "team:Finance", "workload": "teams", "item": item, "path": "channels/General"}, ref); err != nil {
			t.Fatal(err)
		}
		// The same words as a file's name: subject and file name are
		// indexed with their pairs of words too (analysis.go).
		name := strings.Join(ws, " ")
		texts["F"+item] = ws
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "a@x.example", "workload": "onedrive", "item": "F" + item, "path": "Docs/" + name,
			"file": map[string]any{"name": name, "size": 1, "folder": true}}); err != nil {
			t.Fatal(err)
		}
	}
	ix := indexed(t, s)
	// at returns where side begins in ws, in sequence.
	at := func(ws, side []string) []int {
		var out []int
		for p := 0; p+len(side) <= len(ws); p++ {
			if slices.Equal(ws[p:p+len(side)], side) {
				out = append(out, p)
			}
		}
		return out
	}
	near := func(ws, l, r []string, n int) bool {
		for _, a := range at(ws, l) {
			for _, b := range at(ws, r) {
				if b > a+len(l)-1 && b-(a+len(l)-1)-1 <= n || a > b+len(r)-1 && a-(b+len(r)-1)-1 <= n {
					return true
				}
			}
		}
		return false
	}
	side := func() []string {
		ws := make([]string, 1+rnd.IntN(2))
		for k := range ws {
			ws[k] = vocab[rnd.IntN(len(vocab))]
		}
		return ws
	}
	quote := func(ws []string) string {
		if len(ws) == 1 {
			return ws[0]
		}
		return `"` + strings.Join(ws, " ") + `"`
	}
	matched := 0
	for range 200 {
		var q string
		var want func(ws []string) bool
		switch k := rnd.IntN(6); {
		case k == 0:
			w := vocab[rnd.IntN(len(vocab))]
			q, want = w, func(ws []string) bool { return slices.Contains(ws, w) }
		case k == 1:
			w := vocab[rnd.IntN(len(vocab))]
			pre := w[:1+rnd.IntN(len(w))]
			q, want = pre+"*", func(ws []string) bool {
				return slices.ContainsFunc(ws, func(x string) bool { return strings.HasPrefix(x, pre) })
			}
		case k == 2:
			p := side()
			p = append(p, side()...)
			q, want = quote(p), func(ws []string) bool { return len(at(ws, p)) > 0 }
		default:
			l, r, n := side(), side(), rnd.IntN(6)
			q, want = fmt.Sprintf("%s NEAR(%d) %s", quote(l), n, quote(r)), func(ws []string) bool { return near(ws, l, r, n) }
		}
		res, err := ix.Search(ctx, nil, q, Options{Limit: 1000, NoSnippets: true})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var got, exp []string
		for _, h := range res.Hits {
			got = append(got, h.Item)
		}
		for item, ws := range texts {
			if want(ws) {
				exp = append(exp, item)
			}
		}
		sort.Strings(got)
		sort.Strings(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("%s: %d hits, want %d", q, len(got), len(exp))
		}
		if len(exp) > 0 && len(exp) < len(texts) {
			matched++
		}
	}
	if matched < 80 {
		t.Fatalf("only %d of the queries told items apart: the test tests little", matched)
	}
}

// A file name is indexed as several values (whole, and with its dots as
// spaces); a phrase or NEAR never joins words of two different values.
// Query words are split as the index splits them (o'neill and
// budget.xlsx are one word each).
func TestPhrasesStayWithinOneValue(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	for i, name := range []string{"q1 budget.xlsx", "o'neill notes.txt", "plan 20241231 v2.txt"} {
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "a@x.example", "workload": "onedrive", "item": fmt.Sprint("F", i), "path": "Docs/" + name,
			"file": map[string]any{"name": name, "size": 1, "folder": true}}); err != nil {
			t.Fatal(err)
		}
	}
	ix := indexed(t, s)
	for q, want := range map[string]string{
		// "q1 budget.xlsx" is indexed as "q1 budget.xlsx" and "q1 budget
		// xlsx": budget.xlsx is word 2 of the first, xlsx word 3 of the
		// second.
		`filename:"budget.xlsx xlsx"`: "",
		`budget.xlsx NEAR(0) xlsx`:    "",
		`filename:"q1 budget.xlsx"`:   "F0",
		`filename:"q1 budget xlsx"`:   "F0",
		`filename:"o'neill notes"`:    "F1",
		`"o'neill" NEAR(1) txt`:       "F1",
		`"o neill"`:                   "",
		`filename:"plan 20241231"`:    "F2", // a number of a list field, its key not the whole number
		`filename:"20241231 plan"`:    "",
		`filename:2024123*`:           "F2",
		`filename:20241230*`:          "",
	} {
		if got := items(t, ix, q); got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
		// Counted on bitmaps, the phrase read from the segment's postings.
		n, _ := kql.Parse(q)
		if c, err := ix.Count(ctx, n); err != nil || c != len(strings.Fields(want)) {
			t.Errorf("%s: Count %d (%v), want %d", q, c, err, len(strings.Fields(want)))
		}
	}
}

// The index takes a text's words at the positions the word tokenizer
// gives them, numbers apart (analysis.go), and queries split words and tell
// numbers from words the same way: a word split differently is never
// found, and a position off by one breaks phrases.
func TestQueryWordsAreIndexWords(t *testing.T) {
	m := newMapping()
	ref := unicode.NewUnicodeTokenizer()
	for _, s := range []string{"Budget.xlsx O'Neill", "12,345.67 EUR paid", "v2 2024q1 1.2.3 ٣٤٥", "ＡＢＣ １２３ 東京都", "re: FW: #12345 -- 3.14%", "don't", "", "7"} {
		var want, wantNums []string // term@position
		for _, tk := range lowercase.NewLowerCaseFilter().Filter(ref.Tokenize([]byte(s))) {
			if tk.Type == analysis.Numeric {
				wantNums = append(wantNums, fmt.Sprintf("%s@%d", tk.Term, tk.Position))
			} else {
				want = append(want, fmt.Sprintf("%s@%d", tk.Term, tk.Position))
			}
		}
		a := analyzeText(func(f string) ([]string, bool) {
			if f == "body" {
				return []string{s}, false
			}
			return nil, false
		})
		ts, err := m.AnalyzeText(textAnalyzer, []byte(a.words["body"][0]))
		if err != nil {
			t.Fatal(err)
		}
		var got, gotNums []string
		for _, tk := range ts {
			got = append(got, fmt.Sprintf("%s@%d", tk.Term, tk.Position))
		}
		numPositions(a.pos, func(_, term string, p uint64) { gotNums = append(gotNums, fmt.Sprintf("%s@%d", term, p)) })
		if !slices.Equal(got, want) || !slices.Equal(gotNums, wantNums) {
			t.Errorf("%q: indexed %q and numbers %q, want %q and %q", s, got, gotNums, want, wantNums)
		}
		q, qNums := splitQuery(s)
		if !slices.Equal(q, terms(want)) || !slices.Equal(qNums, terms(wantNums)) {
			t.Errorf("%q: query words %q and numbers %q, index %q and %q", s, q, qNums, want, wantNums)
		}
	}
}

// splitQuery is query text's words and numbers, apart.
func splitQuery(s string) (words, nums []string) {
	for _, w := range qwords(s) {
		if w.num {
			nums = append(nums, w.w)
		} else {
			words = append(words, w.w)
		}
	}
	return words, nums
}

// terms strips the @position of term@position.
func terms(ts []string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i], _, _ = strings.Cut(t, "@")
	}
	return out
}

// The numbers a text's analysis stores decode to the numbers a query of
// the same text looks for, and its words split back to the query's words;
// numpos's decoder never panics on damaged bytes.
func FuzzAnalyzeText(f *testing.F) {
	for _, s := range []string{"12,345.67 EUR", "v2 2024q1 ٣٤٥ 7", "a\x1fb 9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		numPositions([]byte(s), func(string, string, uint64) {})
		a := analyzeText(func(f string) ([]string, bool) {
			if f == "filename" {
				return []string{s, s}, true
			}
			return nil, false
		})
		var nums []string
		if err := numPositions(a.pos, func(f, term string, p uint64) {
			if f != "filename" || p>>32 == 0 {
				t.Fatalf("%q: number %q in %s at %x", s, term, f, p)
			}
			if p>>32 == 1 {
				nums = append(nums, term)
			}
		}); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		qs, qn := splitQuery(s)
		var ws []string
		for _, tk := range (splitWords{}).Tokenize([]byte(a.words["filename"][0])) {
			ws = append(ws, string(tk.Term))
		}
		if !slices.Equal(nums, qn) || !slices.Equal(ws, qs) {
			t.Fatalf("%q: index %q and %q, query %q and %q", s, ws, nums, qs, qn)
		}
	})
}

// A search sees only each item's current version, whether the query is
// ANDed with current:true (terms) or walked hit by hit with NOT
// current:false (phrases, NEAR, numbers): both ways give the same items.
func TestCurrentVersionsEitherWay(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	put := func(item, text string) {
		js, _ := json.Marshal(map[string]any{"body": map[string]string{"contentType": "text", "content": text}, "createdDateTime": "2025-03-01T10:00:00Z"})
		ref, err := s.PutBytes(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "team:Finance", "workload": "teams", "item": item, "path": "channels/General"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	put("A", "wire transfer 1234567 today")
	put("B", "wire transfer 1234567 today")
	put("A", "wire transfer cancelled") // A's second version
	ix := indexed(t, s)
	for q, want := range map[string][2]int{ // current, all versions
		`transfer`:                     {2, 3},
		`"wire transfer"`:              {2, 3},
		`1234567`:                      {1, 2},
		`"transfer 1234567"`:           {1, 2},
		`wire NEAR(1) cancelled`:       {1, 1},
		`today OR "wire transfer"`:     {2, 3},
		`transfer NOT "1234567 today"`: {1, 1},
	} {
		for i, all := range []bool{false, true} {
			res, err := ix.Search(ctx, nil, q, Options{AllVersions: all, NoSnippets: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != want[i] || len(res.Hits) != want[i] {
				t.Errorf("%s (all versions %v): %d hits, total %d, want %d", q, all, len(res.Hits), res.Total, want[i])
			}
		}
	}
}

// Counting on bitmaps (bitmap.go) gives Bleve's own count for every
// query, month by month too, over an index of several segments with
// superseded (deleted) documents; phrases and NEARs among them leave
// documents in doubt that Bleve's searcher decides.
func TestBitmapCountsEqualBleves(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	vocab := []string{"alpha", "alpine", "beta", "gamma", "gamut", "delta", "omega", "7", "123456", "1234567", "12345678"} // prefixes shared
	rnd := rand.New(rand.NewPCG(3, 5))
	put := func(i int) {
		ws := make([]string, 2+rnd.IntN(12))
		for k := range ws {
			ws[k] = vocab[rnd.IntN(len(vocab))]
		}
		date := time.Date(2025, time.Month(1+rnd.IntN(6)), 1+rnd.IntN(28), 0, 0, 0, 0, time.UTC)
		js, _ := json.Marshal(map[string]any{"body": map[string]string{"contentType": "text", "content": strings.Join(ws, " ")}, "createdDateTime": date.Format(time.RFC3339)})
		ref, err := s.PutBytes(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "team:Finance", "workload": "teams", "item": fmt.Sprint("T", i), "path": "channels/General"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		put(i)
	}
	ix := indexed(t, s)
	// New versions of a fifth, indexed in batches of their own: more
	// segments, and the old versions' documents replaced.
	for round := range 3 {
		for i := round; i < 300; i += 15 {
			put(i)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ix.Update(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	months, err := ix.months()
	if err != nil || len(months) < 3 {
		t.Fatalf("months %v, %v", months, err)
	}
	// Documents in doubt are decided in runs side by side from four on.
	ix.exactRun = 4
	word := func() string { return vocab[rnd.IntN(len(vocab))] }
	var atom func(depth int) string
	atom = func(depth int) string {
		switch k := rnd.IntN(9); {
		case k < 2:
			return word()
		case k == 7 && rnd.IntN(3) == 0:
			return "1234567*" // longer than a number's key: checked against numpos
		case k == 7:
			w := word()
			return w[:min(2, len(w))] + "*"
		case k == 2:
			return `"` + word() + " " + word() + `"`
		case k == 3:
			return fmt.Sprintf("%s NEAR(%d) %s", word(), rnd.IntN(4), word())
		case k == 4:
			return "NOT " + atom(depth+1)
		case k == 5 && depth < 3:
			return "(" + atom(depth+1) + " OR " + atom(depth+1) + ")"
		case k == 6 && depth < 3:
			return "(" + atom(depth+1) + " " + atom(depth+1) + ")"
		}
		return "sent>=2025-03-01" // not on bitmaps: Bleve counts
	}
	var onBitmaps, inDoubt int
	for range 300 {
		q := atom(0)
		n, err := kql.Parse(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		bq, err := compile(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, bq := range []query.Query{bq, currentOnly(bq)} {
			got, err := ix.count(ctx, bq)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			want, err := ix.collectorCount(ctx, bq)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: counted %d on bitmaps, Bleve counts %d", q, got, want)
			}
			hs, release, err := ix.bitmapHits(ctx, bq)
			if errors.Is(err, errNoBitmap) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			onBitmaps++
			if sure, most := hs.sure(), hs.most(); sure > want || most < want {
				t.Errorf("%s: bounds %d..%d, Bleve counts %d", q, sure, most, want)
			} else if sure < most {
				inDoubt++
			}
			if err := hs.exact(ctx); err != nil {
				t.Fatal(err)
			}
			for _, m := range months {
				got, err := hs.countTerm("month", m)
				if err != nil {
					t.Fatal(err)
				}
				want, err := ix.collectorCount(ctx, bleve.NewConjunctionQuery(bq, monthQuery(m)))
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s in %s: counted %d on bitmaps, Bleve counts %d", q, m, got, want)
				}
			}
			release()
		}
	}
	if onBitmaps < 200 || inDoubt < 50 {
		t.Fatalf("%d queries counted on bitmaps, %d of them with documents in doubt: the test tests little", onBitmaps, inDoubt)
	}
}

// A phrase checked from the postings over documents some of which lack
// one of its words: a word's posting past the document at hand is kept
// for the documents after it, never skipped.
func TestCheckNearOverDocumentsLackingAWord(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	for i := range 20 {
		text := "alpha beta gamma"
		if i%2 == 1 {
			text = "beta gamma"
		}
		js, _ := json.Marshal(map[string]any{"body": map[string]string{"contentType": "text", "content": text}, "createdDateTime": "2025-03-01T10:00:00Z"})
		ref, err := s.PutBytes(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, record.TypeItemVersion, map[string]any{"account": "team:Finance", "workload": "teams", "item": fmt.Sprint("T", i), "path": "channels/General"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	ix := indexed(t, s)
	adv, err := ix.b.Advanced()
	if err != nil {
		t.Fatal(err)
	}
	r, err := adv.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := 0
	for _, seg := range r.(*scorch.IndexSnapshot).Segments() {
		all := roaring.New()
		all.AddRange(0, seg.Segment().Count())
		b := bounds{seg: seg}
		kept, err := b.checkNear(ctx, newNearQuery("body", qwords("alpha beta"), nil, 0), all)
		if err != nil {
			t.Fatal(err)
		}
		got += int(kept.GetCardinality())
	}
	if got != 10 {
		t.Errorf(`"alpha beta" found in %d documents, want 10`, got)
	}
}

// TestIndexIsUsedByOneProcessAtATime: a second opener waits for the first
// to close (before, it found the index in use and rebuilt it from scratch).
func TestIndexIsUsedByOneProcessAtATime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan *Index)
	go func() {
		second, err := Open(dir)
		if err != nil {
			t.Error(err)
		}
		opened <- second
	}()
	select {
	case <-opened:
		t.Fatal("a second opener got the index while the first had it open")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	second := <-opened
	if second == nil {
		t.Fatal("the second opener got no index")
	}
	second.Close()
}

// A disposed version's content leaves the index: its words no longer find
// it, it stays findable by what its record says, marked disposed, and a
// rebuilt index says the same.
func TestDisposedVersionsLeaveTheIndex(t *testing.T) {
	ctx := context.Background()
	s := mailStore(t, 6, 40, 400, func(i int) int { return i })
	add := func(item, word string) uint64 {
		msg := "From: bob@fabrikam.example\r\nTo: a@x.example\r\nSubject: Quarterly " + item + "\r\nMessage-ID: <" + item + "@x>\r\n\r\nThe " + word + " figures are attached.\r\n"
		ref, err := s.PutBytes(ctx, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := s.Append(ctx, record.TypeItemVersion, record.ItemVersion{Account: "a@x.example", Workload: "mail", Item: item, Path: "Inbox",
			Mail: &record.MessageMeta{Subject: "Quarterly " + item}}, ref)
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	gone := add("Q1", "zebracorn")
	add("Q2", "okapifish")
	ix := indexed(t, s)
	if got := items(t, ix, "zebracorn"); got != "Q1" {
		t.Fatalf("before: %q", got)
	}
	blobs, packs, err := s.DisposalContent(ctx, map[uint64]bool{gone: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dispose(ctx, record.DisposalExecuted{Proposal: 1, Approval: 2, Versions: []record.DisposalVersion{{Record: gone, Rule: "r"}}, Blobs: blobs, Packs: packs}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishDisposals(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check := func(ix *Index) {
		t.Helper()
		if _, err := ix.Update(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
		if got := items(t, ix, "zebracorn"); got != "" {
			t.Errorf("the disposed content's word still finds %q", got)
		}
		if got := items(t, ix, "okapifish"); got != "Q2" {
			t.Errorf("the kept version: %q", got)
		}
		r, err := ix.Search(ctx, s, `subject:"quarterly q1"`, Options{Limit: 10})
		if err != nil || len(r.Hits) != 1 || r.Hits[0].Disposed == "" || r.Hits[0].Snippet != "" {
			t.Errorf("the disposed version by its subject: %+v %v", r, err)
		}
	}
	check(ix)
	fresh, err := Open(filepath.Join(t.TempDir(), "rebuilt"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	check(fresh)
}
