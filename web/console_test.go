package web

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
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

// TestConsoleSignInFromAnotherSiteIsRefused: a sign-in form posted from
// another origin does not sign the browser in.
func TestConsoleSignInFromAnotherSiteIsRefused(t *testing.T) {
	f := newFixture(t)
	v := url.Values{"user": {"legal1"}, "password": {"a long enough password"}}
	for header, want := range map[string]int{
		"Origin: https://evil.example": http.StatusForbidden,
		"Origin: null":                 http.StatusForbidden,
		"Sec-Fetch-Site: cross-site":   http.StatusForbidden,
		"Sec-Fetch-Site: same-site":    http.StatusForbidden,
		"Origin: https://example.com":  http.StatusSeeOther,
		"Sec-Fetch-Site: same-origin":  http.StatusSeeOther,
		"Sec-Fetch-Site: none":         http.StatusSeeOther, // typed by the user
		"":                             http.StatusSeeOther, // an old client, or curl
	} {
		origin := header
		req := httptest.NewRequest("POST", "/console/login", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if k, v, ok := strings.Cut(header, ": "); ok {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		if w.Code != want || (want != http.StatusSeeOther) == strings.Contains(w.Header().Get("Set-Cookie"), cookieName+"=") {
			t.Errorf("sign-in with %q: %d (cookie %q), want %d", origin, w.Code, w.Header().Get("Set-Cookie"), want)
		}
	}
}

// TestMailAttachmentsDownloadOneByOne: a message's attached files are
// listed and downloaded one by one, as attached, under a safe name.
func TestMailAttachmentsDownloadOneByOne(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pdf := []byte("%PDF-1.7 the signed contract")
	msg := "From: bob@fabrikam.example\r\nTo: ann@contoso.example\r\nSubject: contract\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../contract\u202egpj.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pdf) + "\r\n--b--\r\n"
	s, err := f.app.Open(ctx, "contoso", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := s.PutBytes(ctx, []byte(msg))
	rec, err := s.Append(ctx, record.TypeItemVersion, record.ItemVersion{Account: "ann@contoso.example", Workload: holdfast.Mail, Item: "m-att",
		Mail: &record.MessageMeta{Subject: "contract", HasAttachments: true}}, ref)
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	w := f.do(access.Legal, "GET", fmt.Sprintf("/console/tenants/contoso/item/attachments?id=m-att&record=%d", rec), nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "application/pdf") || strings.Contains(w.Body.String(), "\u202e") {
		t.Fatalf("attachments page: %d %s", w.Code, w.Body)
	}
	w = f.do(access.Legal, "GET", fmt.Sprintf("/console/tenants/contoso/item/attachment?id=m-att&record=%d&n=0", rec), nil)
	cd := w.Header().Get("Content-Disposition")
	if w.Code != http.StatusOK || w.Body.String() != string(pdf) || !strings.HasPrefix(cd, "attachment;") || strings.Contains(cd, "/") || strings.Contains(cd, "\u202e") ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("attachment download: %d %q %q", w.Code, cd, w.Body)
	}
	if w := f.do(access.Legal, "GET", fmt.Sprintf("/console/tenants/contoso/item/attachment?id=m-att&record=%d&n=1", rec), nil); w.Code != http.StatusNotFound {
		t.Errorf("an attachment the message lacks: %d, want 404", w.Code)
	}
	if w := f.do(access.Auditor, "GET", fmt.Sprintf("/console/tenants/contoso/item/attachment?id=m-att&record=%d&n=0", rec), nil); w.Code != http.StatusForbidden {
		t.Errorf("an auditor downloading an attachment: %d, want 403", w.Code)
	}
}

// TestAuditFilterShowsOnlyAuditRecords: the audit log's "what" filter
// names kinds of audit record only; asking it for item versions is
// refused, not an auditor's way to item metadata.
func TestAuditFilterShowsOnlyAuditRecords(t *testing.T) {
	f := newFixture(t)
	addMail(t, f, "contoso", "ann@contoso.example", "invoice")
	if w := f.do(access.Auditor, "GET", "/console/tenants/contoso/audit?what=item.version", nil); w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), "invoice") {
		t.Errorf("the audit log filtered to item versions: %d", w.Code)
	}
	if w := f.do(access.Auditor, "GET", "/console/tenants/contoso/audit?what=tenant.created", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "tenant.created") {
		t.Errorf("the audit log filtered to tenant.created: %d", w.Code)
	}
}
