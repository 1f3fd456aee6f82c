package access

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/pquerna/otp/totp"
)

func TestUsersAndTokens(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := Open(dir, func() time.Time { return now })
	if err := s.AddUser("tech1", Technician, []string{"contoso"}, "correct horse battery", nil); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"exists":           s.AddUser("tech1", Technician, []string{"contoso"}, "correct horse battery", nil),
		"short password":   s.AddUser("x", Legal, []string{"contoso"}, "short", nil),
		"admin with scope": s.AddUser("root", Admin, []string{"contoso"}, "correct horse battery", nil),
		"no tenant":        s.AddUser("l", Legal, nil, "correct horse battery", nil),
		"control in name":  s.AddUser("a\x1bb", Legal, []string{"contoso"}, "correct horse battery", nil),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "access.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("access.json: %v, %v; want mode 0600", fi.Mode(), err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "access.json"))
	if strings.Contains(string(b), "correct horse") || !strings.Contains(string(b), "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("the password is not stored as an argon2id hash: %s", b)
	}
	if p, err := s.CheckPassword("tech1", "correct horse battery", ""); err != nil || p.Role != Technician {
		t.Errorf("right password: %+v, %v", p, err)
	}
	_, errWrong := s.CheckPassword("tech1", "wrong horse battery", "")
	_, errNobody := s.CheckPassword("nobody", "wrong horse battery", "")
	if errWrong == nil || errNobody == nil || errWrong.Error() != errNobody.Error() {
		t.Errorf("failures must look alike: %v / %v", errWrong, errNobody)
	}

	secret, tok, err := s.CreateToken("tech1", "psa", "", nil, 90*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || strings.Contains(string(mustRead(t, dir)), secret[len(TokenPrefix)+len(tok.ID)+1:]) {
		t.Errorf("token %q: the secret must be returned once and never stored", secret)
	}
	p, err := s.Authenticate(secret)
	if err != nil || p.User != "tech1" || p.Role != Technician || !p.Tenant("contoso") || p.Tenant("fabrikam") {
		t.Errorf("authenticate: %+v, %v", p, err)
	}
	for name, bad := range map[string]string{"wrong secret": secret[:len(secret)-2] + "xx", "no prefix": secret[4:], "empty": "", "other id": TokenPrefix + "nope_" + "x"} {
		if _, err := s.Authenticate(bad); !holdfast.Is(holdfast.Permission, err) {
			t.Errorf("%s: got %v, want not authenticated", name, err)
		}
	}
	if _, _, err := s.CreateToken("tech1", "wider", Admin, nil, time.Hour, nil); !holdfast.Is(holdfast.Permission, err) {
		t.Errorf("a technician's admin token: got %v, want refused", err)
	}
	if _, _, err := s.CreateToken("tech1", "other", "", []string{"fabrikam"}, time.Hour, nil); !holdfast.Is(holdfast.Permission, err) {
		t.Errorf("a token for another tenant: got %v, want refused", err)
	}
	now = now.Add(91 * 24 * time.Hour)
	if _, err := s.Authenticate(secret); err == nil {
		t.Error("an expired token authenticated")
	}
	now = now.Add(-91 * 24 * time.Hour)
	if err := s.RevokeToken(tok.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(secret); err == nil {
		t.Error("a revoked token authenticated")
	}
}

func mustRead(t *testing.T, dir string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, "access.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMatrix(t *testing.T) {
	for _, p := range Permissions() {
		// Every permission but the review of a disposal, which takes a
		// second person with the legal role.
		if !Allowed(Admin, p) && p != ReviewDisposal {
			t.Errorf("admin lacks %s", p)
		}
	}
	if Allowed(Admin, ReviewDisposal) || !Allowed(Legal, ReviewDisposal) {
		t.Error("a disposal is reviewed by the legal role alone")
	}
	for _, tt := range []struct {
		r Role
		p Permission
	}{{Technician, ReadContent}, {Technician, WriteHolds}, {Auditor, ReadContent}, {Auditor, WriteSchedule}, {Legal, WriteSchedule}, {Legal, ManageUsers}} {
		if Allowed(tt.r, tt.p) {
			t.Errorf("%s may %s", tt.r, tt.p)
		}
	}
	if Allowed(Admin, Permission("made:up")) {
		t.Error("an unknown permission is allowed")
	}
}

func TestSecondFactor(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := Open(t.TempDir(), func() time.Time { return now })
	if err := s.AddUser("root", Admin, nil, "a long enough password", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword("root", "a long enough password", ""); !errors.Is(err, ErrNeedsTOTP) {
		t.Fatalf("an admin without a second factor: got %v, want ErrNeedsTOTP", err)
	}
	if _, err := s.CheckPassword("root", "wrong password!!", ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a wrong password must not reveal the second factor: %v", err)
	}
	url, secret, err := s.EnrollTOTP("root", nil)
	if err != nil || !strings.HasPrefix(url, "otpauth://totp/Holdfast:root?") {
		t.Fatalf("enrol: %q, %v", url, err)
	}
	code, _ := totp.GenerateCode(secret, now)
	if p, err := s.CheckPassword("root", "a long enough password", code); err != nil || p.Role != Admin {
		t.Errorf("right password and code: %+v, %v", p, err)
	}
	old, _ := totp.GenerateCode(secret, now.Add(-5*time.Minute))
	for name, c := range map[string]string{"no code": "", "old code": old, "garbage": "12345x"} {
		if _, err := s.CheckPassword("root", "a long enough password", c); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: got %v, want not authenticated", name, err)
		}
	}
	users, _ := s.Users()
	if users[0].TOTP != "enrolled" {
		t.Errorf("Users shows the TOTP secret: %q", users[0].TOTP)
	}
}

// TestRecorderComesFirst: every change is handed to the recorder before it
// takes effect, with what the evidence needs and no secret; a recorder
// that fails leaves the file as it was.
func TestRecorderComesFirst(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	s := Open(dir, func() time.Time { return now })
	var got []Change
	rec := func(ch Change) error { got = append(got, ch); return nil }
	fail := func(Change) error { return errors.New("the log refused") }
	if err := s.AddUser("root", Admin, nil, "a long enough password", rec); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser("tech1", Technician, []string{"contoso"}, "a long enough password", rec); err != nil {
		t.Fatal(err)
	}
	secret, tok, err := s.CreateToken("tech1", "psa", "", nil, 90*24*time.Hour, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EnrollTOTP("tech1", rec); err != nil {
		t.Fatal(err)
	}

	before := mustRead(t, dir)
	for name, err := range map[string]error{
		"add":     s.AddUser("legal1", Legal, []string{"contoso"}, "a long enough password", fail),
		"token":   func() error { _, _, err := s.CreateToken("tech1", "x", "", nil, time.Hour, fail); return err }(),
		"revoke":  s.RevokeToken(tok.ID, fail),
		"disable": s.SetDisabled("tech1", true, fail),
		"totp":    func() error { _, _, err := s.EnrollTOTP("tech1", fail); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "the log refused") {
			t.Errorf("%s with a failing recorder: got %v, want its error", name, err)
		}
	}
	if after := mustRead(t, dir); string(after) != string(before) {
		t.Errorf("a change whose record failed took effect:\n%s\nwant\n%s", after, before)
	}

	if err := s.SetDisabled("tech1", true, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(secret); err == nil {
		t.Error("a disabled user's token authenticated")
	}
	if s.Enabled("tech1") || !s.Enabled("root") || s.Enabled("nobody") {
		t.Error("Enabled does not follow the users")
	}
	if err := s.SetDisabled("root", true, rec); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("disabling the last admin: got %v, want refused", err)
	}
	if err := s.SetDisabled("tech1", false, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(tok.ID, rec); err != nil {
		t.Fatal(err)
	}

	want := []Change{
		{Change: "user.added", User: "root", Role: Admin},
		{Change: "user.added", User: "tech1", Role: Technician, Tenants: []string{"contoso"}},
		{Change: "token.created", User: "tech1", Role: Technician, Tenants: []string{"contoso"}, Token: tok.ID, Expires: now.Add(90 * 24 * time.Hour)},
		{Change: "totp.enrolled", User: "tech1", Role: Technician, Tenants: []string{"contoso"}},
		{Change: "user.disabled", User: "tech1", Role: Technician, Tenants: []string{"contoso"}},
		{Change: "user.enabled", User: "tech1", Role: Technician, Tenants: []string{"contoso"}},
		{Change: "token.revoked", User: "tech1", Role: Technician, Tenants: []string{"contoso"}, Token: tok.ID},
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d changes, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("change %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
