package store_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// TestReadersDepositBesideAWriter: a Shared open beside a writer reads
// without waiting, and its records reach the log through the writer,
// exactly once, even when the writer dies before removing the spool file.
func TestReadersDepositBesideAWriter(t *testing.T) {
	ctx := context.Background()
	d := newAcme(t)
	data := d.Dir
	w, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{Shared: true})
	if err != nil {
		t.Fatalf("shared open beside a writer: %v", err)
	}
	if !r.Spooled() {
		t.Fatal("a shared open beside a writer does not spool")
	}
	for _, q := range []string{"first", "second"} {
		if err := r.Deposit(ctx, record.TypeAudit, map[string]string{"action": "search", "query": q}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Append(ctx, record.TypeAudit, nil); err == nil {
		t.Error("Append without the writer lock succeeded")
	}
	spool := filepath.Join(d.TenantDir("acme"), "spool")
	files, _ := filepath.Glob(filepath.Join(spool, "*.json"))
	if len(files) != 2 {
		t.Fatalf("spool holds %d deposits, want 2", len(files))
	}
	kept, _ := os.ReadFile(files[0])

	if _, err := w.Append(ctx, record.TypeItemVersion, map[string]int{"i": 1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(spool, "*.json")); len(left) != 0 {
		t.Errorf("spool still holds %v after the writer's flush", left)
	}
	// The writer died after its batch and before removing the file: the
	// next writer must not append the deposit again.
	os.WriteFile(files[0], kept, 0o600)
	w.Close(ctx)
	r.Close(ctx)

	w, err = d.OpenTenant(ctx, "acme", store.OpenTenantOptions{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Spooled() {
		t.Fatal("a shared open with the lock free spools")
	}
	if err := w.Deposit(ctx, record.TypeAudit, map[string]string{"action": "search", "query": "third"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(spool, "*.json")); len(left) != 0 {
		t.Errorf("spool still holds %v", left)
	}
	s := openRO(t, data)
	counts := map[string]int{}
	err = s.Records(ctx, 0, func(raw []byte, rec store.Record) error {
		if rec.Type != record.TypeAudit {
			return nil
		}
		var ev struct {
			Query   string `json:"query"`
			SpoolID string `json:"spool_id"`
		}
		json.Unmarshal(rec.Data, &ev)
		counts[ev.Query]++
		if (ev.Query == "third") != (ev.SpoolID == "") {
			t.Errorf("record %d: query %q with spool id %q", rec.Index, ev.Query, ev.SpoolID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts["first"] != 1 || counts["second"] != 1 || counts["third"] != 1 {
		t.Errorf("audit records by query = %v, want each once", counts)
	}
	if rep, _ := s.Verify(ctx, store.VerifyOptions{}); !rep.OK {
		t.Errorf("verify: %v", rep.Failures)
	}
}
