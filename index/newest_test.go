package index

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/holdfast/holdfast/internal/synth"
	"github.com/holdfast/holdfast/store"
	"github.com/holdfast/holdfast/store/storetest"
)

// Sorting only the newest months that hold enough hits gives exactly the
// page that sorting every hit gives.
func TestNewestByMonthsEqualsFullSort(t *testing.T) {
	ctx := context.Background()
	s := storetest.Tenant(t, "t")
	for i := 0; i < 1200; i++ {
		// Messages 17 minutes apart times 61: about two years of mail,
		// and some versions twice (equal dates, told apart by version).
		n := i * 61
		if i%10 == 9 {
			n = (i - 1) * 61
		}
		ref, err := s.PutBytes(ctx, synth.Message(3, n, 600))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, store.TypeItemVersion, map[string]any{"account": "a@x.example", "workload": "mail", "item": fmt.Sprint("M", i), "path": "Inbox"}, ref); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, err := ix.Update(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if ms, _ := ix.months(); len(ms) < 12 {
		t.Fatalf("%d months: too few to test the month windows", len(ms))
	}
	defer func(n int) { directSort = n }(directSort)
	for _, q := range []string{"kind:email", "reconciliation", `"bank reconciliation"`, "ledger -payroll"} {
		for _, page := range []struct{ limit, offset int }{{10, 0}, {50, 0}, {20, 100}, {50, 700}, {50, 1190}} {
			run := func(direct int) string {
				directSort = direct
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
		n, _ := Parse(q)
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
