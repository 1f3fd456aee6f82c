package access

import (
	"errors"
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
	if err := s.AddUser("tech1", Technician, []string{"contoso"}, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"exists":           s.AddUser("tech1", Technician, []string{"contoso"}, "correct horse battery"),
		"short password":   s.AddUser("x", Legal, []string{"contoso"}, "short"),
		"admin with scope": s.AddUser("root", Admin, []string{"contoso"}, "correct horse battery"),
		"no tenant":        s.AddUser("l", Legal, nil, "correct horse battery"),
		"control in name":  s.AddUser("a\x1bb", Legal, []string{"contoso"}, "correct horse battery"),
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

	secret, tok, err := s.CreateToken("tech1", "psa", "", nil, 90*24*time.Hour)
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
	if _, _, err := s.CreateToken("tech1", "wider", Admin, nil, time.Hour); !holdfast.Is(holdfast.Permission, err) {
		t.Errorf("a technician's admin token: got %v, want refused", err)
	}
	if _, _, err := s.CreateToken("tech1", "other", "", []string{"fabrikam"}, time.Hour); !holdfast.Is(holdfast.Permission, err) {
		t.Errorf("a token for another tenant: got %v, want refused", err)
	}
	now = now.Add(91 * 24 * time.Hour)
	if _, err := s.Authenticate(secret); err == nil {
		t.Error("an expired token authenticated")
	}
	now = now.Add(-91 * 24 * time.Hour)
	if err := s.RevokeToken(tok.ID); err != nil {
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
		if !Allowed(Admin, p) {
			t.Errorf("admin lacks %s", p)
		}
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
	if err := s.AddUser("root", Admin, nil, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword("root", "a long enough password", ""); !errors.Is(err, ErrNeedsTOTP) {
		t.Fatalf("an admin without a second factor: got %v, want ErrNeedsTOTP", err)
	}
	if _, err := s.CheckPassword("root", "wrong password!!", ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a wrong password must not reveal the second factor: %v", err)
	}
	url, secret, err := s.EnrollTOTP("root")
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
