package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/access"
)

// A disposal through the API and the console: a technician plans and
// proposes, neither the technician nor an admin may review, a legal user
// approves on the console page, the technician executes, and the page and
// the API say it is done.
func TestDisposalThroughTheAPIAndConsole(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		addMail(t, f, "contoso", "ann@contoso.example", fmt.Sprint("invoice-", i))
	}
	if w := f.do(access.Technician, "PUT", "/api/v1/tenants/contoso/policy", map[string]any{"retention_days": 365}); w.Code != 200 {
		t.Fatalf("policy: %d %s", w.Code, w.Body)
	}
	var plan struct{ Eligible int }
	w := f.do(access.Technician, "GET", "/api/v1/tenants/contoso/disposals/plan?as_of=2030-01-01", nil)
	if json.Unmarshal(w.Body.Bytes(), &plan); w.Code != 200 || plan.Eligible != 3 {
		t.Fatalf("plan: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/disposals/plan", nil); w.Code != 403 {
		t.Errorf("plan as legal: %d, want 403", w.Code)
	}
	var prop struct{ Proposal uint64 }
	w = f.do(access.Technician, "POST", "/api/v1/tenants/contoso/disposals", map[string]any{"as_of": "2030-01-01", "reason": "yearly"})
	if json.Unmarshal(w.Body.Bytes(), &prop); w.Code != 201 || prop.Proposal == 0 {
		t.Fatalf("propose: %d %s", w.Code, w.Body)
	}
	review := fmt.Sprintf("/api/v1/tenants/contoso/disposals/%d/review", prop.Proposal)
	for _, r := range []access.Role{access.Technician, access.Admin, access.Auditor} {
		if w := f.do(r, "POST", review, map[string]any{"decision": "approved", "reason": "ok"}); w.Code != 403 {
			t.Errorf("review as %s: %d, want 403", r, w.Code)
		}
	}
	execute := fmt.Sprintf("/api/v1/tenants/contoso/disposals/%d/execute", prop.Proposal)
	if w := f.do(access.Technician, "POST", execute, nil); w.Code != 403 || !strings.Contains(w.Body.String(), "not been reviewed") {
		t.Errorf("execute before review: %d %s", w.Code, w.Body)
	}
	// The legal user approves on the console page.
	ck, csrf, w := f.signIn("legal1", "a long enough password", "", nil)
	if ck == nil {
		t.Fatalf("sign in: %d", w.Code)
	}
	page := func() string {
		req := httptest.NewRequest("GET", "/console/tenants/contoso/disposals", nil)
		req.AddCookie(ck)
		rw := httptest.NewRecorder()
		f.h.ServeHTTP(rw, req)
		if rw.Code != 200 {
			t.Fatalf("disposals page: %d %s", rw.Code, rw.Body)
		}
		return rw.Body.String()
	}
	if p := page(); !strings.Contains(p, "Approve") || !strings.Contains(p, "yearly") {
		t.Errorf("the page offers legal1 no review of the proposal:\n%.2000s", p)
	}
	form := url.Values{"csrf_token": {csrf}, "decision": {"approved"}, "reason": {"per the schedule"}}
	if w := f.form(fmt.Sprintf("/console/tenants/contoso/disposals/%d/review", prop.Proposal), form, ck); w.Code != http.StatusSeeOther {
		t.Fatalf("approve on the console: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Legal, "POST", execute, nil); w.Code != 403 {
		t.Errorf("execute as legal: %d, want 403", w.Code)
	}
	var res struct{ Versions int }
	w = f.do(access.Technician, "POST", execute, nil)
	if json.Unmarshal(w.Body.Bytes(), &res); w.Code != 200 || res.Versions != 3 {
		t.Fatalf("execute: %d %s", w.Code, w.Body)
	}
	var list struct {
		Disposals []struct {
			State  string
			Review struct{ Review struct{ Actor, Role string } }
		}
	}
	w = f.do(access.Auditor, "GET", "/api/v1/tenants/contoso/disposals", nil)
	if json.Unmarshal(w.Body.Bytes(), &list); w.Code != 200 || len(list.Disposals) != 1 || list.Disposals[0].State != "completed" ||
		list.Disposals[0].Review.Review.Role != "legal" || !strings.HasPrefix(list.Disposals[0].Review.Review.Actor, "legal1") {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	if p := page(); !strings.Contains(p, "completed") {
		t.Errorf("the page does not show the disposal completed")
	}
}
