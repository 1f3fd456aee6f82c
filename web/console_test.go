package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"
)

// form posts a console form with a session cookie.
func (f *fixture) form(path string, v url.Values, ck *http.Cookie) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ck != nil {
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// TestConsoleFormsNeedTheSessionsToken: a console form without the
// session's CSRF token changes nothing; with it, a user changes their own
// password, which is recorded, and only the new one signs in.
func TestConsoleFormsNeedTheSessionsToken(t *testing.T) {
	f := newFixture(t)
	ck, csrf, w := f.signIn("legal1", "a long enough password", "", nil)
	if ck == nil {
		t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	change := url.Values{"current": {"a long enough password"}, "password": {"a brand new passphrase"}, "again": {"a brand new passphrase"}}
	if w := f.form("/console/password", change, ck); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "CSRF") {
		t.Errorf("a form without the CSRF token: %d, want 403 naming it", w.Code)
	}
	wrong := url.Values{"csrf_token": {csrf}, "current": {"not my password!"}, "password": {"a brand new passphrase"}, "again": {"a brand new passphrase"}}
	if w := f.form("/console/password", wrong, ck); w.Code != http.StatusForbidden {
		t.Errorf("a wrong current password: %d, want 403", w.Code)
	}
	change.Set("csrf_token", csrf)
	if w := f.form("/console/password", change, ck); w.Code != http.StatusSeeOther {
		t.Fatalf("password change: %d %s", w.Code, w.Body)
	}
	if ck, _, _ := f.signIn("legal1", "a long enough password", "", nil); ck != nil {
		t.Error("the old password still signs in")
	}
	if ck, _, w := f.signIn("legal1", "a brand new passphrase", "", nil); ck == nil {
		t.Errorf("the new password does not sign in: %d", w.Code)
	}
	found := false
	for _, r := range records(t, f, "contoso", record.TypeAccessChanged) {
		found = found || strings.Contains(string(r), `"change":"password.changed"`) && !strings.Contains(string(r), "passphrase")
	}
	if !found {
		t.Error("no access.changed record of the password change")
	}
}

// records are a tenant's records of one type, as logged.
func records(t *testing.T, f *fixture, tenant, typ string) []string {
	t.Helper()
	var out []string
	if _, err := f.app.Records(context.Background(), tenant, app.LogOptions{Type: typ}, func(raw []byte, _ record.Record) error {
		out = append(out, string(raw))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
