package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/access"
	"github.com/pquerna/otp/totp"
)

// raw sends a request with a session cookie and CSRF token (either may be
// empty).
func (f *fixture) raw(method, path string, body any, cookie *http.Cookie, csrf string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.send(method, path, body, func(req *http.Request) {
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if csrf != "" {
			req.Header.Set(csrfHeader, csrf)
		}
	})
}

// signIn signs in and returns the session cookie and CSRF token.
func (f *fixture) signIn(user, password, code string, old *http.Cookie) (*http.Cookie, string, *httptest.ResponseRecorder) {
	f.t.Helper()
	w := f.raw("POST", "/api/v1/login", map[string]string{"user": user, "password": password, "totp": code}, old, "")
	if w.Code != http.StatusOK {
		return nil, "", w
	}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	json.Unmarshal(w.Body.Bytes(), &out)
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
				f.t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict", c)
			}
			return &http.Cookie{Name: c.Name, Value: c.Value}, out.CSRF, w
		}
	}
	f.t.Fatalf("no session cookie: %v", w.Header())
	return nil, "", w
}

func TestSessionCSRFAndSignOut(t *testing.T) {
	f := newFixture(t)
	ck, csrf, w := f.signIn("legal1", "a long enough password", "", nil)
	if ck == nil || csrf == "" {
		t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	if w := f.raw("GET", "/api/v1/tenants/contoso/holds", nil, ck, ""); w.Code != http.StatusOK {
		t.Errorf("a read with the cookie: %d %s", w.Code, w.Body)
	}
	hold := map[string]any{"case": "Smith", "custodians": []string{"ann@contoso.example"}, "reason": "litigation"}
	for name, token := range map[string]string{"no CSRF token": "", "a wrong one": csrf + "x"} {
		if w := f.raw("POST", "/api/v1/tenants/contoso/holds", hold, ck, token); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "CSRF") {
			t.Errorf("a change with the cookie and %s: %d %s, want 403", name, w.Code, w.Body)
		}
	}
	if n := len(mustHolds(t, f)); n != 0 {
		t.Fatalf("a refused change placed %d holds", n)
	}
	if w := f.raw("POST", "/api/v1/tenants/contoso/holds", hold, ck, csrf); w.Code != http.StatusCreated {
		t.Errorf("a change with the cookie and its CSRF token: %d %s", w.Code, w.Body)
	}
	// A new sign-in rotates the session: the cookie presented is worth nothing after.
	ck2, _, _ := f.signIn("legal1", "a long enough password", "", ck)
	if ck2 == nil || ck2.Value == ck.Value {
		t.Fatal("the session was not rotated at sign-in")
	}
	if w := f.raw("GET", "/api/v1/me", nil, ck, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("the pre-sign-in cookie: %d, want 401", w.Code)
	}
	if w := f.raw("POST", "/api/v1/logout", nil, ck2, ""); w.Code != http.StatusForbidden {
		t.Errorf("sign-out without CSRF: %d, want 403", w.Code)
	}
	var ses struct {
		CSRF string `json:"csrf_token"`
	}
	json.Unmarshal(f.raw("GET", "/api/v1/session", nil, ck2, "").Body.Bytes(), &ses)
	if w := f.raw("POST", "/api/v1/logout", nil, ck2, ses.CSRF); w.Code != http.StatusOK {
		t.Errorf("sign-out: %d %s", w.Code, w.Body)
	}
	if w := f.raw("GET", "/api/v1/me", nil, ck2, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d, want 401", w.Code)
	}
	// Idle sessions end.
	ck3, _, _ := f.signIn("legal1", "a long enough password", "", nil)
	now := time.Now()
	f.srv.sessions.now = func() time.Time { return now.Add(sessionIdle + time.Minute) }
	if w := f.raw("GET", "/api/v1/me", nil, ck3, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("an idle session: %d, want 401", w.Code)
	}
}

func mustHolds(t *testing.T, f *fixture) []any {
	var out struct{ Holds []any }
	json.Unmarshal(f.do("admin", "GET", "/api/v1/tenants/contoso/holds", nil).Body.Bytes(), &out)
	return out.Holds
}

func TestAdminSignsInWithASecondFactor(t *testing.T) {
	f := newFixture(t)
	if _, _, w := f.signIn("admin1", "a long enough password", "", nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "second factor") {
		t.Fatalf("an admin without TOTP: %d %s, want 403 asking for a second factor", w.Code, w.Body)
	}
	_, secret, err := f.srv.access.EnrollTOTP("admin1", nil)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	if ck, _, w := f.signIn("admin1", "a long enough password", code, nil); ck == nil {
		t.Fatalf("admin with a code: %d %s", w.Code, w.Body)
	}
	if ck, _, w := f.signIn("admin1", "a long enough password", code, nil); ck != nil || w.Code != http.StatusUnauthorized {
		t.Errorf("the same code twice: %d, want 401", w.Code)
	}
}

func TestLockoutWithoutEnumeration(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.srv.sessions.now = func() time.Time { return now }
	answer := func(user, pw string) (int, string) {
		w := f.raw("POST", "/api/v1/login", map[string]string{"user": user, "password": pw}, nil, "")
		var p struct{ Detail string }
		json.Unmarshal(w.Body.Bytes(), &p)
		return w.Code, p.Detail
	}
	wrongCode, wrongDetail := answer("legal1", "not the password")
	nobodyCode, nobodyDetail := answer("nobody", "not the password")
	if wrongCode != 401 || nobodyCode != 401 || wrongDetail != nobodyDetail {
		t.Fatalf("a wrong password and an unknown user must look alike: %d %q / %d %q", wrongCode, wrongDetail, nobodyCode, nobodyDetail)
	}
	for i := 0; i < lockAfter; i++ {
		answer("legal1", "not the password")
	}
	if code, detail := answer("legal1", "a long enough password"); code != 401 || detail != wrongDetail {
		t.Errorf("the right password on a locked user: %d %q, want the same 401", code, detail)
	}
	now = now.Add(lockWindow + time.Minute)
	if code, _ := answer("legal1", "a long enough password"); code != 200 {
		t.Errorf("after the lock window: %d, want 200", code)
	}
	for i := 0; i < ipLimit; i++ {
		answer("user"+string(rune('a'+i%26)), "x")
	}
	w := f.raw("POST", "/api/v1/login", map[string]string{"user": "legal1", "password": "a long enough password"}, nil, "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after %d failures from one address: %d, want 429 with Retry-After", ipLimit, w.Code)
	}
}

// The failure book forgets sprayed names once their window has passed.
func TestFailureBookIsBounded(t *testing.T) {
	now := time.Now()
	ss := newSessions(func() time.Time { return now })
	for i := 0; i < maxFailKeys+10; i++ {
		ss.fails["user:"+strconv.Itoa(i)] = []time.Time{now}
	}
	now = now.Add(lockWindow + time.Second)
	ss.fails["user:fresh"] = []time.Time{now}
	ss.sweep()
	if len(ss.fails) != 1 {
		t.Errorf("%d names kept, want the one within the window", len(ss.fails))
	}
}

// TestDisablingAUserEndsTheirSessionsAndTokens: an admin disables a user
// through the API; the user's live session and token stop working at
// their next request, and enabling them again lets them sign in.
func TestDisablingAUserEndsTheirSessionsAndTokens(t *testing.T) {
	f := newFixture(t)
	ck, _, w := f.signIn("legal1", "a long enough password", "", nil)
	if ck == nil {
		t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Admin, "PATCH", "/api/v1/users/legal1", map[string]any{"disabled": true}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"disabled":true`) {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	if w := f.raw("GET", "/api/v1/me", nil, ck, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("a disabled user's session: %d, want 401", w.Code)
	}
	if w := f.do(access.Legal, "GET", "/api/v1/me", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d, want 401", w.Code)
	}
	if ck, _, _ := f.signIn("legal1", "a long enough password", "", nil); ck != nil {
		t.Error("a disabled user signed in")
	}
	if w := f.do(access.Admin, "PATCH", "/api/v1/users/legal1", map[string]any{"disabled": false}); w.Code != http.StatusOK {
		t.Fatalf("enable: %d %s", w.Code, w.Body)
	}
	if ck, _, w := f.signIn("legal1", "a long enough password", "", nil); ck == nil {
		t.Errorf("an enabled user cannot sign in: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Admin, "PATCH", "/api/v1/users/nobody", map[string]any{"disabled": true}); w.Code != http.StatusNotFound {
		t.Errorf("disable nobody: %d, want 404", w.Code)
	}
}
