package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// TestAccessChangesAreRecordedInEveryTenantTheyReach: a user's or token's
// change is an access.changed record in each tenant it covers (every
// tenant for an admin), naming the actor and never a secret; a tenant that
// does not exist refuses the change before anything is written.
func TestAccessChangesAreRecordedInEveryTenantTheyReach(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	if _, err := (store.DataDir{Dir: a.data.Dir}).AddTenant(ctx, "fabrikam", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	admin := Actor{Name: "root", From: "API, 10.0.0.5"}
	if err := a.AddUser(ctx, admin, "root", access.Admin, nil, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(ctx, admin, "tech1", access.Technician, []string{"contoso"}, "a long enough password"); err != nil {
		t.Fatal(err)
	}
	secret, tok, err := a.CreateToken(ctx, admin, "tech1", "psa", "", nil, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, totpSecret, err := a.EnrollTOTP(ctx, admin, "tech1")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetUserDisabled(ctx, admin, "tech1", true); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeToken(ctx, admin, tok.ID); err != nil {
		t.Fatal(err)
	}

	before, _ := os.ReadFile(filepath.Join(a.data.Dir, "access.json"))
	if err := a.AddUser(ctx, admin, "legal1", access.Legal, []string{"contoso", "nowhere"}, "a long enough password"); !holdfast.Is(holdfast.NotFound, err) {
		t.Errorf("a user for a tenant that does not exist: got %v, want not found", err)
	}
	if err := a.AddUser(ctx, Actor{}, "legal2", access.Legal, []string{"contoso"}, "a long enough password"); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("no actor: got %v, want refused", err)
	}
	if after, _ := os.ReadFile(filepath.Join(a.data.Dir, "access.json")); string(after) != string(before) {
		t.Error("a refused change changed access.json")
	}

	changes := func(tenant string) []string {
		var out []string
		for _, r := range recordsOf(t, a, tenant, record.TypeAccessChanged) {
			raw := string(r.Data)
			for _, s := range []string{secret, secret[len(access.TokenPrefix)+len(tok.ID)+1:], totpSecret, "argon2", "password"} {
				if strings.Contains(raw, s) {
					t.Errorf("record %d holds a secret: %s", r.Index, raw)
				}
			}
			var d record.AccessChanged
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				t.Fatal(err)
			}
			if d.Actor != "root (API, 10.0.0.5)" {
				t.Errorf("record %d actor %q", r.Index, d.Actor)
			}
			out = append(out, fmt.Sprintf("%s %s %s %v %s", d.Change, d.User, d.Role, d.Tenants, d.Token))
		}
		return out
	}
	wantContoso := []string{
		"user.added root admin [] ",
		"user.added tech1 technician [contoso] ",
		"token.created tech1 technician [contoso] " + tok.ID,
		"totp.enrolled tech1 technician [contoso] ",
		"user.disabled tech1 technician [contoso] ",
		"token.revoked tech1 technician [contoso] " + tok.ID,
	}
	if got := changes("contoso"); fmt.Sprint(got) != fmt.Sprint(wantContoso) {
		t.Errorf("contoso's access records:\n got %q\nwant %q", got, wantContoso)
	}
	if got, want := changes("fabrikam"), wantContoso[:1]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fabrikam's access records (only the admin reaches it):\n got %q\nwant %q", got, want)
	}
}
