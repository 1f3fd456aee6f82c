package policy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store/storetest"
)

func syntheticInventory(n int, now time.Time) *Inventory {
	inv := &Inventory{Tenant: "bench", EvaluatedAt: now, Settings: DefaultSettings(), Store: StoreInfo{Backend: "local", ObjectLock: "none"}, Witnesses: []WitnessState{},
		Holds: []Hold{}, RestoreTests: []Check{{Time: now.Add(-time.Hour), Passed: true}}, VerifyRuns: []Check{{Time: now.Add(-time.Hour), Passed: true}}}
	first, fresh, stale := now.AddDate(-1, 0, 0), now.Add(-time.Hour), now.Add(-72*time.Hour)
	for i := 0; i < n; i++ {
		a := &Account{UPN: fmt.Sprintf("user%06d@contoso.example", i), Kind: "user", State: "active", Enabled: true, Licensed: true, Workloads: map[string]*Coverage{}}
		for j, w := range []string{"mail", "calendar", "contacts", "onedrive"} {
			last := fresh
			if i%50 == 0 {
				last = stale
			}
			// Counts differ from account to account, as in a tenant.
			items := 20 + (i*7919+j*104729)%20000
			a.Workloads[w] = &Coverage{FirstCapture: &first, LastCapture: &last, Items: items, Bytes: int64(items) * int64(2000+(i*31+j)%90000), OldestItem: &first}
		}
		if i%100 == 7 {
			d := now.Add(-24 * time.Hour)
			a.State, a.Enabled, a.DepartedSince, a.DepartedReason = "disabled", false, &d, "disabled"
		}
		inv.Accounts = append(inv.Accounts, a)
	}
	return inv
}

// BenchmarkEval evaluates the default bundle over tenants of 1,000,
// 10,000 and 100,000 accounts (target: 100,000 in under 1 s).
func BenchmarkEval(b *testing.B) {
	bundle, err := LoadBundle("")
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000, 100000} {
		inv := syntheticInventory(n, time.Now().UTC())
		b.Run(fmt.Sprint("accounts=", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res, err := bundle.Eval(context.Background(), inv)
				if err != nil || len(res.Findings) == 0 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/eval")
		})
	}
}

// BenchmarkInventory builds the inventory of 10,000 accounts from a store
// holding, for each, its state record, four stream positions and 20 item
// versions: records only, never contents.
func BenchmarkInventory(b *testing.B) {
	ctx := context.Background()
	s := storetest.Tenant(b, "bench")
	const n = 10000
	ref, _ := s.PutBytes(ctx, []byte("content"))
	for i := 0; i < n; i++ {
		upn := fmt.Sprintf("user%05d@contoso.example", i)
		s.Append(ctx, "account.state", map[string]any{"account": upn, "account_id": fmt.Sprint("id", i), "state": "active"})
		for _, w := range []string{"mail", "calendar", "contacts", "onedrive"} {
			for j := 0; j < 5; j++ {
				s.Append(ctx, record.TypeItemVersion, map[string]any{"account": upn, "workload": w, "item": fmt.Sprint(i, w, j)}, ref)
			}
			s.Append(ctx, record.TypeDeltaPosition, map[string]any{"account": upn, "workload": w, "stream": w + "/" + upn})
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv, err := Build(ctx, s, "bench", StoreInfo{Backend: "local", ObjectLock: "none"}, time.Now())
		if err != nil || len(inv.Accounts) != n {
			b.Fatalf("%d accounts, %v", len(inv.Accounts), err)
		}
	}
	b.ReportMetric(float64(s.Size())/(b.Elapsed().Seconds()/float64(b.N)), "records/s")
}
