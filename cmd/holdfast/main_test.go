package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/app"
)

// cli runs holdfast in-process with a data directory and returns the exit
// code, stdout and stderr.
type cli struct {
	t    *testing.T
	data string
	// skew moves the commands' clock ahead of the real one: a test that
	// needs "a later second" advances it instead of sleeping.
	skew time.Duration
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, data: filepath.Join(t.TempDir(), "data")}
}

func (c *cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	now := func() time.Time { return time.Now().Add(c.skew) }
	code := runAt(context.Background(), append([]string{"--data", c.data}, args...), &out, &errb, now)
	return code, out.String(), errb.String()
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("holdfast %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// jsonDoc checks that out is exactly one JSON document and decodes it.
func jsonDoc(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", out)
	}
}

func setupTenant(t *testing.T) *cli {
	c := newCLI(t)
	c.ok("init")
	c.ok("tenant", "add", "acme")
	c.ok("--tenant", "acme", "generate", "--items", "300", "--size", "2000")
	return c
}

func TestInit(t *testing.T) {
	c := newCLI(t)
	out := c.ok("init")
	if !strings.Contains(out, "Created data directory") {
		t.Errorf("init output = %q", out)
	}
	fi, err := os.Stat(filepath.Join(c.data, "keys", "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("signing key mode = %v, want 0600", got)
	}
	var first, again map[string]any
	jsonDoc(t, c.ok("--json", "log-key"), &first)
	jsonDoc(t, c.ok("--json", "init"), &again)
	if again["created"] != false || again["log_vkey"] != first["log_vkey"] {
		t.Errorf("second init = %v, want created=false and the same key %v", again, first["log_vkey"])
	}
	if !strings.HasPrefix(first["log_vkey"].(string), "holdfast-") {
		t.Errorf("log key %v is not a signed-note verifier key", first["log_vkey"])
	}
}

func TestExitCodes(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("tenant", "add", "acme")
	tests := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"unknown flag", []string{"verify", "--bogus"}, exitUsage, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"missing tenant", []string{"verify"}, exitUsage, "--tenant"},
		{"bad tenant name", []string{"tenant", "add", "Acme Corp"}, exitUsage, "not allowed"},
		{"tenant exists", []string{"tenant", "add", "acme"}, exitError, "already exists"},
		{"no such tenant: verify", []string{"--tenant", "nope", "verify"}, exitUsage, "does not exist"},
		{"no such tenant: search", []string{"--tenant", "nope", "search", "x"}, exitUsage, "does not exist"},
		{"no such tenant: status", []string{"--tenant", "nope", "status"}, exitUsage, "does not exist"},
		{"search limit 0", []string{"--tenant", "acme", "search", "x", "--limit", "0"}, exitUsage, "--limit"},
		{"search limit -1", []string{"--tenant", "acme", "search", "x", "--limit", "-1"}, exitUsage, "--limit"},
		{"bad percentage", []string{"--tenant", "acme", "verify", "--read-data-subset", "150"}, exitUsage, "percentage"},
		{"proof needs a mode", []string{"--tenant", "acme", "proof"}, exitUsage, "--record"},
		{"record out of range", []string{"--tenant", "acme", "proof", "--record", "999"}, exitUsage, "not covered"},
		{"verify-proof needs a key", []string{"verify-proof", "x.json"}, exitUsage, "key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := c.run(tt.args...)
			if code != tt.want {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tt.want, errs)
			}
			if !strings.Contains(errs, tt.msg) {
				t.Errorf("stderr = %q, want it to mention %q", errs, tt.msg)
			}
		})
	}
	t.Run("uninitialised data dir", func(t *testing.T) {
		c := newCLI(t)
		code, _, errs := c.run("--tenant", "acme", "verify")
		if code != exitError || !strings.Contains(errs, "holdfast init") {
			t.Errorf("exit %d, stderr %q; want 1 and a hint to run holdfast init", code, errs)
		}
	})
	t.Run("json error document", func(t *testing.T) {
		code, out, _ := c.run("--json", "--tenant", "nope", "verify")
		var doc map[string]any
		jsonDoc(t, out, &doc)
		if code != exitUsage || doc["kind"] != "invalid input" || doc["exit_code"] != float64(exitUsage) {
			t.Errorf("exit %d, doc %v", code, doc)
		}
	})
}

func TestVerifyCommand(t *testing.T) {
	c := setupTenant(t)
	var rep struct {
		OK       bool              `json:"ok"`
		Records  uint64            `json:"records"`
		Blobs    int               `json:"blobs"`
		Bytes    int64             `json:"bytes"`
		Failures []json.RawMessage `json:"failures"`
	}
	jsonDoc(t, c.ok("--json", "--tenant", "acme", "verify"), &rep)
	if !rep.OK || rep.Blobs != 300 || rep.Bytes < 300*2000 || rep.Records < 300 || rep.Failures == nil {
		t.Errorf("verify report = %+v", rep)
	}
	// The verify run is itself logged.
	var log struct {
		Records []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"records"`
		Count int `json:"count"`
	}
	jsonDoc(t, c.ok("--json", "--tenant", "acme", "log", "--type", "verify.run"), &log)
	if log.Count != 1 || !strings.Contains(string(log.Records[0].Data), `"ok":true`) {
		t.Errorf("verify.run records = %+v", log)
	}
	out := c.ok("--tenant", "acme", "verify", "--read-data-subset", "50%")
	if !strings.Contains(out, "OK: nothing stored was altered") {
		t.Errorf("human verify output = %q", out)
	}

	// Damage a pack: exit 3, and the report names it.
	packs, _ := filepath.Glob(filepath.Join(c.data, "tenants", "acme", "packs", "*", "*"))
	if len(packs) == 0 {
		t.Fatal("no packs")
	}
	b, _ := os.ReadFile(packs[0])
	b[100] ^= 0xff
	os.Chmod(packs[0], 0o644)
	os.WriteFile(packs[0], b, 0o644)
	code, stdout, _ := c.run("--json", "--tenant", "acme", "verify")
	if code != exitIntegrity {
		t.Errorf("verify of a damaged pack: exit %d, want %d", code, exitIntegrity)
	}
	var bad struct {
		OK       bool `json:"ok"`
		Failures []struct{ Object, Problem string }
	}
	jsonDoc(t, stdout, &bad)
	name := filepath.Base(packs[0])
	if bad.OK || len(bad.Failures) == 0 || !strings.Contains(bad.Failures[0].Object, name) {
		t.Errorf("failures = %+v, want the first to name pack %s", bad.Failures, name)
	}
}

func TestProofRoundTrip(t *testing.T) {
	c := setupTenant(t)
	dir := t.TempDir()
	key := strings.TrimSpace(c.ok("log-key"))
	keyFile := filepath.Join(dir, "log.pub")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o644)
	bundle := filepath.Join(dir, "p.json")
	c.ok("--tenant", "acme", "proof", "--record", "42", "--out", bundle)

	out := c.ok("verify-proof", bundle, "--key", key)
	if !strings.Contains(out, "OK: record 42 (synthetic.item) is included") {
		t.Errorf("verify-proof output = %q", out)
	}
	c.ok("verify-proof", bundle, "--key", keyFile)

	// The auditor's tool needs no data directory.
	var out2, errb bytes.Buffer
	if code := run(context.Background(), []string{"--data", "/nonexistent", "verify-proof", bundle, "--key", key}, &out2, &errb); code != 0 {
		t.Errorf("verify-proof without a data directory: exit %d: %s", code, errb.String())
	}

	orig, _ := os.ReadFile(bundle)
	for _, tt := range []struct {
		name string
		edit func(b []byte) []byte
		want int
	}{
		{"record edited", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`\"folder\":\"Inbox\"`), []byte(`\"folder\":\"Outbox\"`), 1)
		}, exitIntegrity},
		{"index changed", func(b []byte) []byte { return bytes.Replace(b, []byte(`"index": 42`), []byte(`"index": 43`), 1) }, exitIntegrity},
		{"not a bundle", func(b []byte) []byte { return []byte("hello") }, exitUsage},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, exitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := tt.edit(bytes.Clone(orig))
			if bytes.Equal(edited, orig) {
				t.Fatal("edit changed nothing")
			}
			p := filepath.Join(dir, "edited.json")
			os.WriteFile(p, edited, 0o644)
			if code, _, errs := c.run("verify-proof", p, "--key", key); code != tt.want {
				t.Errorf("exit %d, want %d (%s)", code, tt.want, errs)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		other := newCLI(t)
		other.ok("init")
		otherKey := strings.TrimSpace(other.ok("log-key"))
		if code, _, errs := c.run("verify-proof", bundle, "--key", otherKey); code != exitIntegrity || !strings.Contains(errs, "signature") {
			t.Errorf("exit %d (%s), want 3 naming the signature", code, errs)
		}
	})

	// Consistency between the creation checkpoint and the newest.
	var cks struct {
		Records []struct {
			Data struct{ Size uint64 } `json:"data"`
		} `json:"records"`
	}
	jsonDoc(t, c.ok("--json", "--tenant", "acme", "log", "--type", "checkpoint.issued"), &cks)
	if len(cks.Records) < 2 {
		t.Fatalf("checkpoints = %+v", cks)
	}
	oldSize := cks.Records[0].Data.Size
	newSize := cks.Records[len(cks.Records)-1].Data.Size
	cons := filepath.Join(dir, "c.json")
	c.ok("--tenant", "acme", "proof", "--consistency", itoa(oldSize), itoa(newSize), "--out", cons)
	out = c.ok("verify-proof", cons, "--key", key)
	if !strings.Contains(out, "is an extension of checkpoint") {
		t.Errorf("consistency verify output = %q", out)
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestEncryptedTenant(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	dir := t.TempDir()
	mk := filepath.Join(dir, "master.key")
	os.WriteFile(mk, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	t.Setenv("HOLDFAST_MASTER_KEY_FILE", mk)
	out := c.ok("tenant", "add", "secret")
	if !strings.Contains(out, "encrypted with AES-256-GCM") {
		t.Errorf("tenant add output = %q", out)
	}
	c.ok("--tenant", "secret", "generate", "--items", "50", "--size", "3000")
	c.ok("--tenant", "secret", "verify")
	// Plaintext must not appear in packs.
	packs, _ := filepath.Glob(filepath.Join(c.data, "tenants", "secret", "packs", "*", "*"))
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("contoso-accountants")) {
			t.Errorf("pack %s holds plaintext", p)
		}
	}
	wrong := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrong, []byte(strings.Repeat("cd", 32)), 0o600)
	t.Setenv("HOLDFAST_MASTER_KEY_FILE", wrong)
	if code, _, errs := c.run("--tenant", "secret", "verify"); code != exitUsage || !strings.Contains(errs, "is not the one tenant secret was encrypted with") {
		t.Errorf("wrong master key: exit %d, %q", code, errs)
	}
	t.Setenv("HOLDFAST_MASTER_KEY_FILE", "")
	if code, _, errs := c.run("--tenant", "secret", "verify"); code != exitUsage || !strings.Contains(errs, "HOLDFAST_MASTER_KEY_FILE") {
		t.Errorf("no master key: exit %d, %q", code, errs)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	c := setupTenant(t)
	s, err := app.New(c.data, app.Options{}).Open(context.Background(), "acme", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	code, _, errs := c.run("--tenant", "acme", "generate", "--items", "1")
	if code != exitError || !strings.Contains(errs, "held by process") || !strings.Contains(errs, "on host") {
		t.Errorf("second writer: exit %d, %q; want 1 naming the holder", code, errs)
	}
	// Readers are not blocked.
	c.ok("--tenant", "acme", "log", "--limit", "1")
}
