package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
)

func TestPrivateDirectoriesAndKeys(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o755); err != nil { // an existing, open directory
		t.Fatal(err)
	}
	d := store.DataDir{Dir: data}
	res, err := d.Init()
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %04o after init, want 0700", fi.Mode().Perm())
	}
	if len(res.Notes) == 0 || !strings.Contains(res.Notes[0], "0755 → 0700") {
		t.Errorf("init did not say it tightened the directory: %q", res.Notes)
	}
	if _, err := d.AddTenant(ctx, "acme", store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.TenantDir("acme"), filepath.Join(d.TenantDir("acme"), "state")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", p, fi.Mode().Perm(), err)
		}
	}
	os.Chmod(d.TenantDir("acme"), 0o755)
	s, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	if fi, _ := os.Stat(d.TenantDir("acme")); fi.Mode().Perm() != 0o700 {
		t.Errorf("tenant directory not tightened on open: %04o", fi.Mode().Perm())
	}
	if !strings.Contains(strings.Join(s.Notes(), "\n"), "private to its owner") {
		t.Errorf("open did not say it tightened: %q", s.Notes())
	}

	// Keys others can read are refused.
	mk := filepath.Join(t.TempDir(), "master.key")
	os.WriteFile(mk, []byte(strings.Repeat("ab", 32)), 0o644)
	if _, err := store.LoadMasterKey(mk); !holdfast.Is(holdfast.Permission, err) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a 0644 master key: %v, want a permission error", err)
	}
	os.Chmod(mk, 0o600)
	if _, err := store.LoadMasterKey(mk); err != nil {
		t.Errorf("a 0600 master key: %v", err)
	}
	os.Chmod(filepath.Join(data, "keys", "log.key"), 0o640)
	if _, err := d.Signer(); !holdfast.Is(holdfast.Permission, err) {
		t.Errorf("a 0640 log key: %v, want a permission error", err)
	}
}
