package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
)

// BenchmarkSearch: one KQL search over 2,000 captured messages, in process
// (app.Search) and through the API (routing, token check, JSON), each
// logging its audit record. The difference is what the API costs.
func BenchmarkSearch(b *testing.B) {
	dir := b.TempDir()
	a := app.New(dir, app.Options{})
	if _, err := a.Init("bench"); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	who := app.Actor{Name: "bench"}
	if _, err := a.AddTenant(ctx, who, "contoso"); err != nil {
		b.Fatal(err)
	}
	s, err := a.Open(ctx, "contoso", app.Write)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		subject := fmt.Sprintf("invoice %d for account %d", i, i%37)
		ref, err := s.PutBytes(ctx, []byte("Subject: "+subject+"\r\n\r\nPlease find the invoice attached.\r\n"))
		if err != nil {
			b.Fatal(err)
		}
		v := record.ItemVersion{Account: "ann@contoso.example", AccountID: "u1", Workload: holdfast.Mail, Item: fmt.Sprint("m", i), Path: "Inbox", Stream: "s", Run: "r", Change: "c",
			Mail: &record.MessageMeta{Subject: subject, Received: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}}
		if _, err := s.Append(ctx, record.TypeItemVersion, v, ref); err != nil {
			b.Fatal(err)
		}
	}
	s.Checkpoint(ctx)
	s.Close(ctx)
	acc := a.Access()
	acc.AddUser("legal1", access.Legal, []string{"contoso"}, "a long enough password", nil)
	tok, _, _ := acc.CreateToken("legal1", "bench", "", nil, time.Hour, nil)
	h := New(a, Options{Access: acc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	// Warm the index.
	if _, err := a.Search(ctx, who, "contoso", app.SearchOptions{Query: "invoice", Limit: 10}); err != nil {
		b.Fatal(err)
	}
	b.Run("in-process", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := a.Search(ctx, who, "contoso", app.SearchOptions{Query: "subject:invoice AND account", Limit: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			req := httptest.NewRequest("GET", "/api/v1/tenants/contoso/search?q=subject:invoice%20AND%20account&limit=20", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
}

// fiveHundred is a data directory of 500 tenants, each with a month of
// four-hourly backups of ten mailboxes (about 2,200 records): built once
// under the system's temporary directory (or HOLDFAST_BENCH_DATA) and
// kept for the next run, and an admin's token to ask it.
func fiveHundred(b *testing.B) (*app.App, string) {
	const tenants, runs, accounts = 500, 180, 10
	dir := filepath.Join(os.TempDir(), "holdfast-bench-500")
	if keep := os.Getenv("HOLDFAST_BENCH_DATA"); keep != "" {
		dir = keep // to measure holdfast serve on it (docs/BENCHMARKS.md)
	}
	a := app.New(dir, app.Options{})
	ctx := context.Background()
	who := app.Actor{Name: "bench"}
	for i := 0; i < tenants; i++ {
		name := fmt.Sprintf("tenant-%03d", i)
		if i == 0 && !a.HasTenant(name) {
			if _, err := a.Init("bench"); err != nil {
				b.Fatal(err)
			}
		}
		if a.HasTenant(name) {
			continue // built by an earlier run
		}
		if _, err := a.AddTenant(ctx, who, name); err != nil {
			b.Fatal(err)
		}
		s, err := a.Open(ctx, name, app.Write)
		if err != nil {
			b.Fatal(err)
		}
		for r := 0; r < runs; r++ {
			run := fmt.Sprint("r", r)
			s.Append(ctx, record.TypeRunStarted, record.RunStarted{Run: run, Workloads: []holdfast.Workload{holdfast.Mail}})
			for m := 0; m < accounts; m++ {
				upn := fmt.Sprintf("user%d@%s.example", m, name)
				s.Append(ctx, record.TypeDeltaPosition, record.DeltaPosition{Stream: "mail/" + upn, Account: upn, Workload: holdfast.Mail, Link: "x", Run: run})
			}
			s.Append(ctx, record.TypeRunFinished, record.RunFinished{Run: run, Status: "completed"})
		}
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	acc := a.Access()
	acc.AddUser("root", access.Admin, nil, "a long enough password", nil) // refused, harmlessly, when it exists
	tok, _, err := acc.CreateToken("root", "bench", "", nil, time.Hour, nil)
	if err != nil {
		b.Fatal(err)
	}
	return a, tok
}

// p99 times get b.N times after a first, cold call, and reports the p99
// of the warm calls and the cold one.
func p99(b *testing.B, h http.Handler, tok, path string) {
	get := func() time.Duration {
		start := time.Now()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		return time.Since(start)
	}
	cold := get()
	b.ResetTimer()
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		took = append(took, get())
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
}

// BenchmarkStatusAll: the status of 500 tenants through the API in one
// request; the service keeps each status until the tenant's log grows.
func BenchmarkStatusAll(b *testing.B) {
	a, tok := fiveHundred(b)
	h := New(a, Options{Access: a.Access(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	p99(b, h, tok, "/api/v1/status")
}

// BenchmarkConsolePages: the console's pages' server time with 500
// tenants (target: under 100 ms p99).
func BenchmarkConsolePages(b *testing.B) {
	a, tok := fiveHundred(b)
	for _, page := range []struct{ name, path string }{
		{"dashboard", "/console"},
		{"tenant", "/console/tenants/tenant-000"},
		{"settings", "/console/tenants/tenant-000/settings"},
		{"audit", "/console/tenants/tenant-000/audit"},
		{"reports", "/console/tenants/tenant-000/reports"},
		{"restore", "/console/tenants/tenant-000/restore"},
	} {
		b.Run(page.name, func(b *testing.B) {
			h := New(a, Options{Access: a.Access(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
			p99(b, h, tok, page.path)
		})
	}
}
