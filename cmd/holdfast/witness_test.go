package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/witness"
)

// startWitness makes a witness with holdfast witness keygen and allow for
// the tenant's log, serves it in this process and returns its URL and
// vkey.
func startWitness(t *testing.T, c *cli, name string) (url, vkey string, stop func()) {
	return startWitnessFor(t, c, "acme", name)
}

func startWitnessFor(t *testing.T, c *cli, tenant, name string) (url, vkey string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	vkey = strings.TrimSpace(c.ok("witness", "keygen", "--name", name, "--key", key))
	origin, logKey := tenantLog(t, c, tenant)
	c.ok("witness", "allow", "--data", filepath.Join(dir, "state"), origin, logKey)
	signer, err := readWitnessKey(key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(filepath.Join(dir, "state"), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(w)
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			hs.Close()
			w.Close()
		}
	}
	t.Cleanup(stop)
	return hs.URL, vkey, stop
}

// tenantLog returns a tenant log's origin and key.
func tenantLog(t *testing.T, c *cli, tenant string) (origin, vkey string) {
	t.Helper()
	note := c.ok("--tenant", tenant, "checkpoint")
	origin, _, _ = strings.Cut(note, "\n")
	return origin, strings.TrimSpace(c.ok("log-key"))
}

// TestWitnesses: three witnesses, one of them down: writes go on and are
// cosigned by two; verify passes with threshold 2 and not with 3. Then the
// data directory is put back to an earlier copy and the tenant goes on
// writing: the witnesses refuse the new checkpoints, and verify and
// witness list name the refusal.
func TestWitnesses(t *testing.T) {
	c := setupTenant(t)
	url1, v1 := func() (string, string) { u, v, _ := startWitness(t, c, "w1.example/witness"); return u, v }()
	url2, v2 := func() (string, string) { u, v, _ := startWitness(t, c, "w2.example/witness"); return u, v }()
	url3, v3, stop3 := startWitness(t, c, "w3.example/witness")
	stop3() // down from the start

	out := c.ok("--tenant", "acme", "witness", "add", url1, v1)
	if !strings.Contains(out, "cosigned checkpoint") {
		t.Errorf("witness add: %q", out)
	}
	c.ok("--tenant", "acme", "witness", "add", url2, v2)
	if code, out, errs := c.run("--tenant", "acme", "witness", "add", url3, v3); code != 0 || !strings.Contains(out, "has cosigned up to 0") {
		t.Errorf("adding a witness that is down: exit %d, %q %q; want it added, not cosigned yet", code, out, errs)
	}
	if code, _, errs := c.run("--tenant", "acme", "witness", "add", "https://user:pw@w4.example/", v3); code != exitUsage || !strings.Contains(errs, "no credentials") {
		t.Errorf("a witness URL with credentials: exit %d, %q", code, errs)
	}
	if code, _, _ := c.run("--tenant", "acme", "witness", "add", url1, "not-a-key"); code != exitUsage {
		t.Errorf("a malformed vkey: exit %d", code)
	}

	c.ok("--tenant", "acme", "generate", "--items", "5", "--size", "500")
	latest := strings.Split(c.ok("--tenant", "acme", "checkpoint"), "\n")[1]
	list := c.ok("--tenant", "acme", "witness", "list")
	if strings.Count(list, "cosigned checkpoint "+latest) != 2 || !strings.Contains(list, "w3.example/witness") {
		t.Errorf("witness list after a write (checkpoint %s):\n%s", latest, list)
	}
	out = c.ok("--tenant", "acme", "verify", "--witness", v1, "--witness", v2, "--witness", v3, "--witness-threshold", "2")
	if !strings.Contains(out, "Witnessed: checkpoint "+latest) {
		t.Errorf("verify with threshold 2:\n%s", out)
	}
	if code, out, _ := c.run("--tenant", "acme", "verify", "--witness", v1, "--witness", v2, "--witness", v3); code != exitIntegrity || !strings.Contains(out, "carries 3 of the 3") {
		t.Errorf("verify needing all three (one never cosigned): exit %d\n%s", code, out)
	}
	if code, _, errs := c.run("--tenant", "acme", "verify", "--witness", v1, "--witness-threshold", "2"); code != exitUsage {
		t.Errorf("threshold above the witnesses given: exit %d %q", code, errs)
	}

	// An earlier copy of the whole data directory (keys and high-water
	// marks included) is put back, and the tenant goes on writing.
	snapshot := filepath.Join(t.TempDir(), "data")
	if err := exec.Command("cp", "-a", c.data, snapshot).Run(); err != nil {
		t.Fatal(err)
	}
	c.ok("--tenant", "acme", "generate", "--items", "5", "--size", "500")
	os.RemoveAll(c.data)
	if err := exec.Command("cp", "-a", snapshot, c.data).Run(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := c.run("--tenant", "acme", "generate", "--items", "7", "--size", "500")
	if code != 0 || !strings.Contains(out+errs, "refused") {
		t.Errorf("writing on the rolled-back log: exit %d; want the write done and the refusal said\n%s%s", code, out, errs)
	}
	code, out, _ = c.run("--tenant", "acme", "verify", "--witness", v1, "--witness", v2, "--witness-threshold", "2")
	if code != exitIntegrity || !strings.Contains(out, "witness w1.example/witness") || !strings.Contains(out, "rolled back") {
		t.Errorf("verify of the rolled-back log that went on: exit %d; want 3 naming the witness's refusal\n%s", code, out)
	}
	if code, out, _ := c.run("--tenant", "acme", "witness", "list"); code != exitIntegrity || !strings.Contains(out, "REFUSED") {
		t.Errorf("witness list after the refusal: exit %d\n%s", code, out)
	}
}

// TestWitnessKeepsStateAfterSIGKILL: a witness process killed with SIGKILL
// and started again on its directory still holds the size it cosigned, so
// it refuses a log that starts over.
func TestWitnessKeepsStateAfterSIGKILL(t *testing.T) {
	c := setupTenant(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	vkey := strings.TrimSpace(c.ok("witness", "keygen", "--name", "w.example/k", "--key", key))
	if code, _, errs := c.run("witness", "keygen", "--name", "w.example/k", "--key", key); code == 0 || !strings.Contains(errs, "never overwritten") {
		t.Errorf("keygen over an existing key: exit %d %q", code, errs)
	}
	origin, logKey := tenantLog(t, c, "acme")
	state := filepath.Join(dir, "state")
	c.ok("witness", "allow", "--data", state, origin, logKey)
	addr := freeAddr(t)
	serve := func() *exec.Cmd {
		cmd, _ := c.start("witness", "serve", "--listen", addr, "--key", key, "--data", state)
		waitListening(t, addr)
		return cmd
	}
	w := serve()
	c.ok("--tenant", "acme", "witness", "add", "http://"+addr, vkey)
	c.ok("--tenant", "acme", "generate", "--items", "3", "--size", "500")
	ckpt := c.ok("--tenant", "acme", "checkpoint")
	size, _ := strconv.ParseUint(strings.Split(ckpt, "\n")[1], 10, 64)
	w.Process.Signal(syscall.SIGKILL)
	w.Wait()

	w = serve()
	defer func() { w.Process.Signal(syscall.SIGKILL); w.Wait() }()
	_, err := witness.Submit(context.Background(), http.DefaultClient, "http://"+addr, 0, nil, []byte(ckpt))
	var conflict *witness.ConflictError
	if !errors.As(err, &conflict) || conflict.Size != size {
		t.Fatalf("after SIGKILL and restart, a submission from size 0: %v; want a conflict at %d", err, size)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s", addr)
}

// TestWitnessedEvidence: proof bundles, export packages and reports carry
// the cosigned checkpoint, and their offline checks take --witness.
func TestWitnessedEvidence(t *testing.T) {
	ft, info, c := connectedFakeWith(t, faketenant.Options{Seed: 7, Users: 3, ItemsPerUser: 12})
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail")
	url, vkey, _ := startWitnessFor(t, c, "contoso", "w.example/evidence")
	_, never, stopNever := startWitnessFor(t, c, "contoso", "w.example/never")
	stopNever()
	c.ok("--tenant", "contoso", "witness", "add", url, vkey)
	c.ok("--tenant", "contoso", "witness", "add", "http://"+freeAddr(t), never) // down
	// A backup with one witness down goes on, and ends cosigned by the other.
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "activity"}); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := c.run("--tenant", "contoso", "backup", "--workloads", "mail"); code != exitOK || !strings.Contains(out+errs, "w.example/never has not cosigned") {
		t.Errorf("a backup with a witness down: exit %d\n%s%s", code, out, errs)
	}
	c.ok("--tenant", "contoso", "verify", "--witness", vkey, "--witness", never, "--witness-threshold", "1")
	logKey := strings.TrimSpace(c.ok("log-key"))
	dir := t.TempDir()

	c.ok("--tenant", "contoso", "hold", "create", "--case", "Evidence", "--custodian", info.Users[0], "--reason", "test")
	pkg := filepath.Join(dir, "export.zip")
	c.ok("--tenant", "contoso", "export", "--case", "Evidence", "--query", "kind:email", "--out", pkg)
	bundle := filepath.Join(dir, "proof.json")
	c.ok("--tenant", "contoso", "proof", "--record", "3", "--out", bundle)
	pdf := filepath.Join(dir, "report.pdf")
	c.skew = 2 * time.Second // a report speaks for the checkpoints of whole seconds before it
	c.ok("--tenant", "contoso", "report", "--kind", "procedures", "--out", pdf)

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"verify-export", []string{"verify-export", pkg, "--key", logKey}},
		{"verify-proof", []string{"verify-proof", bundle, "--key", logKey}},
		{"report verify", []string{"report", "verify", pdf, "--key", logKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := c.ok(append(tc.args, "--witness", vkey)...)
			if !strings.Contains(out, "cosignatures of 1 of the given witnesses") {
				t.Errorf("with the witness that cosigned:\n%s", out)
			}
			if code, out, errs := c.run(append(tc.args, "--witness", never)...); code != exitIntegrity || !strings.Contains(out+errs, "none of the given witnesses") {
				t.Errorf("with a witness that never cosigned: exit %d\n%s%s", code, out, errs)
			}
			if code, out, errs := c.run(append(tc.args, "--witness", vkey, "--witness", never, "--witness-threshold", "2")...); code != exitIntegrity || !strings.Contains(out+errs, "1 of the given witnesses' cosignatures; 2 are needed") {
				t.Errorf("threshold 2 with one cosignature: exit %d\n%s%s", code, out, errs)
			}
		})
	}
}
