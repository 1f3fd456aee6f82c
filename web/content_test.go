package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
)

// TestItemContentAndRuns: a legal user downloads a captured message and
// an event's attachment as captured — always as an attachment, never to
// be rendered, with the log's hash — and the read is logged first; a
// technician reads one run with every failed item.
func TestItemContentAndRuns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mime := []byte("From: ann@contoso.example\r\nSubject: hi\r\n\r\n<script>alert(1)</script>\r\n")
	att := []byte("%PDF-1.4 an attachment")
	s, err := f.app.Open(ctx, "contoso", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	mref, _ := s.PutBytes(ctx, mime)
	js, _ := s.PutBytes(ctx, []byte(`{"subject":"Board"}`))
	aref, _ := s.PutBytes(ctx, att)
	s.Append(ctx, record.TypeRunStarted, record.RunStarted{Run: "run-1", Workloads: []holdfast.Workload{holdfast.Mail}, Started: time.Now()})
	msg, err := s.Append(ctx, record.TypeItemVersion, record.ItemVersion{Account: "ann@contoso.example", Workload: holdfast.Mail, Item: "m1", Run: "run-1",
		Mail: &record.MessageMeta{Subject: "Invoice \u202egpj.exe\x1b[2J"}}, mref)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := s.Append(ctx, record.TypeItemVersion, record.ItemVersion{Account: "ann@contoso.example", Workload: holdfast.Calendar, Item: "e1", Run: "run-1",
		PIM: &record.PIMMeta{Title: "Board", Attachments: []record.Attachment{{Name: "minutes.pdf", ContentType: "application/pdf"}}}}, js, aref)
	for i := 0; i < 3; i++ {
		s.Append(ctx, record.TypeItemFailed, record.ItemFailed{Run: "run-1", Failure: record.FailedItem{Item: fmt.Sprint("bad-", i), Reason: "HTTP 500"}})
	}
	s.Append(ctx, record.TypeRunFinished, record.RunFinished{Run: "run-1", Status: "completed_with_failures", FailedItems: []record.FailedItem{{Item: "bad-0"}}})
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	before := logSize(t, f.app, "contoso")
	w := f.do(access.Legal, "GET", fmt.Sprintf("/api/v1/tenants/contoso/item/content?id=m1&record=%d", msg), nil)
	if w.Code != http.StatusOK || w.Body.String() != string(mime) {
		t.Fatalf("message content: %d %q", w.Code, w.Body)
	}
	sum := sha256.Sum256(mime)
	h := w.Header()
	for name, want := range map[string]string{
		"Content-Type":            "message/rfc822",
		"Content-Disposition":     `attachment; filename="Invoice _gpj.exe_[2J.eml"`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'",
		"Repr-Digest":             "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":",
		"Content-Length":          fmt.Sprint(len(mime)),
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	if after := logSize(t, f.app, "contoso"); after <= before {
		t.Error("the download was not logged")
	}
	w = f.do(access.Legal, "GET", fmt.Sprintf("/api/v1/tenants/contoso/item/content?id=e1&record=%d&part=1", ev), nil)
	if w.Code != http.StatusOK || w.Body.String() != string(att) || w.Header().Get("Content-Type") != "application/pdf" || !strings.Contains(w.Header().Get("Content-Disposition"), "minutes.pdf") {
		t.Errorf("event attachment: %d %v %q", w.Code, w.Header(), w.Body)
	}
	for name, q := range map[string]string{
		"another item's record": fmt.Sprintf("id=e1&record=%d", msg),
		"a part it lacks":       fmt.Sprintf("id=m1&record=%d&part=1", msg),
		"a record past the log": "id=m1&record=99999",
	} {
		if w := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/item/content?"+q, nil); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", name, w.Code, w.Body)
		}
	}
	if w := f.do(access.Technician, "GET", fmt.Sprintf("/api/v1/tenants/contoso/item/content?id=m1&record=%d", msg), nil); w.Code != http.StatusForbidden {
		t.Errorf("a technician reading content: %d, want 403", w.Code)
	}

	w = f.do(access.Technician, "GET", "/api/v1/tenants/contoso/runs/run-1", nil)
	var run struct {
		Started  record.RunStarted
		Finished *record.RunFinished
		Failed   []record.FailedItem `json:"failed_items"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &run); err != nil || w.Code != http.StatusOK {
		t.Fatalf("run: %d %s", w.Code, w.Body)
	}
	if run.Started.Run != "run-1" || run.Finished == nil || len(run.Failed) != 3 {
		t.Errorf("run: %+v, want its start, its end and all 3 failed items", run)
	}
	if w := f.do(access.Technician, "GET", "/api/v1/tenants/contoso/runs/nosuch", nil); w.Code != http.StatusNotFound {
		t.Errorf("an unknown run: %d, want 404", w.Code)
	}
}
