package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/ingest"
)

func startFake(t *testing.T, o faketenant.Options) faketenant.Info {
	t.Helper()
	ft, err := faketenant.New(o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info, err := ft.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ft.Close() })
	return info
}

func connectArgs(info faketenant.Info, name string, extra ...string) []string {
	return append([]string{"tenant", "add", name, "--tenant-id", info.TenantID, "--client-id", info.ClientID,
		"--graph-endpoint", info.GraphEndpoint, "--login-endpoint", info.LoginEndpoint, "--ca-file", info.CAFile}, extra...)
}

func TestBackupCommands(t *testing.T) {
	info := startFake(t, faketenant.Options{Seed: 4})
	c := newCLI(t)
	c.ok("init")
	t.Setenv("FAKE_SECRET", info.ClientSecret)
	var added map[string]any
	jsonDoc(t, c.ok(append([]string{"--json"}, connectArgs(info, "contoso", "--client-secret-env", "FAKE_SECRET")...)...), &added)
	conn, _ := os.ReadFile(filepath.Join(c.data, "tenants", "contoso", "connection.json"))
	for _, where := range []string{string(conn), toJSON(added)} {
		if strings.Contains(where, info.ClientSecret) {
			t.Errorf("the client secret was written out: %s", where)
		}
	}
	if !strings.Contains(string(conn), `"client_secret_env": "FAKE_SECRET"`) {
		t.Errorf("connection.json = %s", conn)
	}
	c.ok("tenant", "test", "contoso")

	var res struct {
		Status    string
		Accounts  int
		ItemsNew  int `json:"items_new"`
		Workloads map[string]struct {
			ItemsNew int `json:"items_new"`
		}
		Checkpoint  struct{ Size uint64 }
		FailedItems []any `json:"failed_items"`
	}
	code, out, errs := c.run("--json", "--tenant", "contoso", "backup")
	if code != 0 {
		t.Fatalf("backup --json: exit %d: %s", code, errs)
	}
	jsonDoc(t, out, &res)
	// Progress goes to stderr as JSON lines, the last one at the end.
	var last struct{ Progress ingest.Progress }
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Progress.Accounts == 0 ||
		last.Progress.AccountsDone != last.Progress.Accounts || last.Progress.MailSeen != last.Progress.MailExpected || last.Progress.MailExpected == 0 {
		t.Errorf("backup --json's last progress line: %v\n%s", err, errs)
	}
	sum := 0
	for _, w := range []string{"mail", "calendar", "contacts", "onedrive", "sharepoint", "teams"} {
		if res.Workloads[w].ItemsNew == 0 {
			t.Errorf("backup captured nothing of %s", w)
		}
		sum += res.Workloads[w].ItemsNew
	}
	if res.Status != "completed" || res.Accounts != len(info.Users)+len(info.Others) || sum != res.ItemsNew || res.Checkpoint.Size == 0 || res.FailedItems == nil {
		t.Errorf("backup --json = %s", out)
	}
	if strings.Contains(out, info.ClientSecret) {
		t.Error("backup output holds the client secret")
	}
	var st struct {
		Workloads map[string]struct{ Items, Versions, Tombstones int }
		Accounts  []struct {
			UPN, State, Kind string
			LastSuccess      map[string]string `json:"last_success"`
		}
		LastRun map[string]any `json:"last_run"`
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "status"), &st)
	items := 0
	for _, w := range st.Workloads {
		items += w.Items
	}
	if items != res.ItemsNew || len(st.Accounts) != 24 || st.LastRun["status"] != "completed" {
		t.Errorf("status = %+v", st)
	}
	states, kinds := map[string]int{}, map[string]int{}
	for _, a := range st.Accounts {
		kinds[a.Kind]++
		if a.Kind == "user" {
			states[a.State]++
		}
	}
	if states["disabled"] != 1 || states["unlicensed"] != 1 || states["deleted"] != 1 {
		t.Errorf("employees' states = %v", states)
	}
	if kinds["shared"] != 1 || kinds["room"] != 1 || kinds["guest"] != 1 || kinds["user"] != 15 {
		t.Errorf("account kinds = %v, want 15 users, a shared mailbox, a room and a guest", kinds)
	}
	if human := c.ok("--tenant", "contoso", "status"); !strings.Contains(human, " room ") || !strings.Contains(human, " guest ") {
		t.Errorf("status does not show the account kinds:\n%s", human)
	}

	// Unknown workload and workloads not captured yet are usage errors.
	if code, _, errs := c.run("--tenant", "contoso", "backup", "--workloads", "fax"); code != exitUsage || !strings.Contains(errs, "unknown workload") {
		t.Errorf("--workloads fax: %d %s", code, errs)
	}
	// A missing secret is named.
	t.Setenv("FAKE_SECRET", "")
	if code, _, errs := c.run("--tenant", "contoso", "backup"); code != exitUsage || !strings.Contains(errs, "FAKE_SECRET") {
		t.Errorf("unset secret variable: %d %s", code, errs)
	}
	// A wrong secret fails clearly and stores nothing new.
	t.Setenv("FAKE_SECRET", "wrong")
	code, _, errs = c.run("--tenant", "contoso", "backup")
	if code != exitError || !strings.Contains(errs, "AADSTS7000215") {
		t.Errorf("wrong secret: exit %d, %s", code, errs)
	}
	c.ok("--tenant", "contoso", "verify")
}

func TestTenantTestNamesMissingPermissions(t *testing.T) {
	info := startFake(t, faketenant.Options{Seed: 4, Roles: []string{"User.Read.All", "Mail.Read"}})
	c := newCLI(t)
	c.ok("init")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte(info.ClientSecret+"\n"), 0o600)
	c.ok(connectArgs(info, "contoso", "--client-secret-file", secret)...)
	code, out, errs := c.run("tenant", "test", "contoso")
	if code != exitError {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"mail       ok", "MISSING permission Files.Read.All", "MISSING permission ChannelMessage.Read.All, Chat.Read.All"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant test output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "teams") {
		t.Errorf("stderr = %q", errs)
	}
}

func TestTenantAddRejectsBadConnections(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "add", "a", "--tenant-id", "t", "--client-id", "c"}, "exactly one of"},
		{[]string{"tenant", "add", "a", "--tenant-id", "t", "--client-id", "c", "--client-secret-env", "X", "--cloud", "mars"}, "unknown cloud"},
		{[]string{"tenant", "add", "a", "--tenant-id", "t", "--client-id", "c", "--client-secret-env", "X", "--graph-endpoint", "https://graph.microsoft.us/v1.0"}, "without /v1.0"},
		{[]string{"tenant", "add", "a", "--tenant-id", "t", "--client-id", "c", "--client-secret-file", "/nonexistent"}, "no such file"},
	} {
		if code, _, errs := c.run(tt.args...); code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 mentioning %q", tt.args, code, errs, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(c.data, "tenants", "a")); err == nil {
		t.Error("a rejected tenant add created the tenant")
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCertificateCredentialAndClouds(t *testing.T) {
	info := startFake(t, faketenant.Options{Seed: 4, ItemsPerUser: 6})
	c := newCLI(t)
	c.ok("init")
	// A self-signed certificate with its key, as an app registration holds.
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "holdfast-test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(certFile, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...), 0o600)
	c.ok(connectArgs(info, "certs", "--client-cert", certFile)...)
	var res struct{ Status string }
	jsonDoc(t, c.ok("--json", "--tenant", "certs", "backup", "--workloads", "mail"), &res)
	if res.Status != "completed" {
		t.Errorf("backup with a certificate credential: %s", res.Status)
	}
	// National clouds map to Microsoft's hosts.
	for cloud, want := range map[string]string{"usgov": "https://graph.microsoft.us", "usgovdod": "https://dod-graph.microsoft.us", "china": "https://microsoftgraph.chinacloudapi.cn"} {
		name := "cloud-" + cloud
		c.ok("tenant", "add", name, "--tenant-id", "t", "--client-id", "c", "--client-secret-env", "X", "--cloud", cloud)
		conn, _ := os.ReadFile(filepath.Join(c.data, "tenants", name, "connection.json"))
		if !strings.Contains(string(conn), `"graph_endpoint": "`+want+`"`) {
			t.Errorf("--cloud %s: connection %s, want graph endpoint %s", cloud, conn, want)
		}
	}
}

// The story of issue 4 on files: back up, the client folder is overwritten,
// back up again, restore the folder as of the run before the disaster, and
// get the original bytes back.
func TestRestoreClientFolderAfterDisaster(t *testing.T) {
	ft, info, c := connectedFake(t, 6)
	var before struct{ Run string }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "backup", "--workloads", "onedrive"), &before)
	originals := map[string]string{} // item id → sha256
	for _, it := range ft.Truth() {
		if it.Workload == "onedrive" && it.Path == faketenant.ClientFolder && it.Account == info.Users[0] {
			originals[it.ID] = it.SHA256
		}
	}
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "overwrite-folder"}); err != nil {
		t.Fatal(err)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "onedrive")

	out := filepath.Join(t.TempDir(), "restored")
	var res struct {
		Status string
		Items  int
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "onedrive",
		"--path", faketenant.ClientFolder, "--run", before.Run, "--to-dir", out), &res)
	if res.Status != "completed" || res.Items != len(originals) || len(originals) == 0 {
		t.Fatalf("restore: %+v, want %d files", res, len(originals))
	}
	var man struct {
		Files []struct{ Item, SHA256, Path string }
	}
	b, _ := os.ReadFile(filepath.Join(out, "MANIFEST.json"))
	json.Unmarshal(b, &man)
	for _, f := range man.Files {
		data, _ := os.ReadFile(filepath.Join(out, f.Path))
		sum := sha256.Sum256(data)
		if want := originals[f.Item]; hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s restored with content %x, the original was %s", f.Path, sum[:6], want[:12])
		}
	}
	// The restore is evidence in the log, and so is a restore test.
	var log struct{ Count int }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "log", "--type", "restore.performed"), &log)
	if log.Count != 1 {
		t.Errorf("restore.performed records = %d, want 1", log.Count)
	}
	var rt struct {
		Status   string
		Verified int
		Test     bool
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore-test", "--sample", "10"), &rt)
	if rt.Status != "passed" || rt.Verified < 10 || !rt.Test {
		t.Errorf("restore-test = %+v", rt)
	}
	// Never overwrite; and into the tenant is not built yet.
	if code, _, errs := c.run("--tenant", "contoso", "restore", "--account", info.Users[0], "--to-dir", out); code != exitUsage || !strings.Contains(errs, "never overwrites") {
		t.Errorf("restore into a non-empty directory: %d %s", code, errs)
	}

	// Into the tenant: a new folder in the same OneDrive, the original tree
	// below it, the original bytes, and nothing else changed.
	beforeRestore := truthBy(ft)
	var tr struct {
		Status, Target string
		Items          int
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "onedrive",
		"--path", faketenant.ClientFolder, "--run", before.Run, "--to-tenant"), &tr)
	if tr.Status != "completed" || tr.Items != len(originals) || !strings.Contains(tr.Target, "Holdfast restore ") {
		t.Fatalf("restore --to-tenant: %+v", tr)
	}
	originalBytes := map[string]bool{}
	for _, sha := range originals {
		originalBytes[sha] = true
	}
	if restored := restoredClientFolder(t, ft, beforeRestore, info.Users[0], originalBytes); restored != len(originals) {
		t.Errorf("%d files restored into the tenant, want %d", restored, len(originals))
	}
	// A second restore in the same second would need the same folder name:
	// it must fail, not merge or overwrite.
	code, _, errs := c.run("--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "onedrive",
		"--path", faketenant.ClientFolder, "--run", before.Run, "--to-tenant")
	if code == exitOK {
		// The clock moved to the next second; the collision was not tested.
		t.Log("second restore got a new folder name")
	} else if !strings.Contains(errs, "already exists") {
		t.Errorf("second restore: exit %d, %s", code, errs)
	}
}

// Mail back into the mailbox: a deleted client folder, restored from the
// captured MIME under a new top-level folder with its tree.
func TestRestoreMailIntoTenant(t *testing.T) {
	ft, info, c := connectedFake(t, 8)
	var before struct{ Run string }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "backup", "--workloads", "mail"), &before)
	const path = "Inbox/Clients/Harbour Bakery"
	originals := map[string]bool{}
	for _, it := range ft.Truth() {
		if it.Workload == "mail" && it.Path == path && it.Account == info.Users[0] {
			originals[it.SHA256] = true
		}
	}
	if m, err := ft.Mutate(faketenant.Mutation{Scenario: "delete-folder", Path: path}); err != nil || m.Items != len(originals) {
		t.Fatalf("delete-folder: %v %+v", err, m)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail")
	var tr struct {
		Status string
		Items  int
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "mail",
		"--path", path, "--run", before.Run, "--to-tenant"), &tr)
	if tr.Status != "completed" || tr.Items != len(originals) || len(originals) == 0 {
		t.Fatalf("restore: %+v, want %d messages", tr, len(originals))
	}
	back := 0
	for _, it := range ft.Truth() {
		if it.Workload == "mail" && strings.HasPrefix(it.Path, "Holdfast restore ") && strings.HasSuffix(it.Path, "/"+path) {
			if !originals[it.SHA256] {
				t.Errorf("restored message %s does not hold an original's MIME", it.ID)
			}
			back++
		}
	}
	if back != len(originals) {
		t.Errorf("%d messages back in the mailbox, want %d", back, len(originals))
	}
	// Calendars and contacts go back into a new calendar and contact folder.
	c.ok("--tenant", "contoso", "backup", "--workloads", "calendar,contacts,teams")
	titles := map[string]int{}
	for _, it := range ft.Truth() {
		if it.Account == info.Users[0] && (it.Workload == "calendar" || it.Workload == "contacts") {
			titles[fmt.Sprint(it.Workload, "|", it.Title, "|", it.Attachments)]++
		}
	}
	c.skew += time.Second // a later second: a new restore folder name
	var pr struct {
		Status string
		Items  int
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "calendar", "--to-tenant"), &pr)
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "restore", "--account", info.Users[0], "--workload", "contacts", "--to-tenant"), &pr)
	for _, it := range ft.Truth() {
		if it.Account == info.Users[0] && strings.HasPrefix(it.Path, "Holdfast restore ") && (it.Workload == "calendar" || it.Workload == "contacts") {
			titles[fmt.Sprint(it.Workload, "|", it.Title, "|", it.Attachments)]--
		}
	}
	for k, n := range titles {
		if n != 0 {
			t.Errorf("%s: %d more originals than restored copies", k, n)
		}
	}
	// Teams messages cannot go back through Graph: a clear error.
	if code, _, errs := c.run("--tenant", "contoso", "restore", "--account", "team:Contoso Accountants", "--workload", "teams", "--to-tenant"); code != exitUsage || !strings.Contains(errs, "cannot be restored into the tenant") {
		t.Errorf("--to-tenant of Teams: %d %s", code, errs)
	}
}

// connectedFake starts a fake tenant and a data directory with tenant
// contoso connected to it (secret in FAKE_SECRET).
func connectedFake(t *testing.T, seed uint64) (*faketenant.Server, faketenant.Info, *cli) {
	t.Helper()
	return connectedFakeWith(t, faketenant.Options{Seed: seed})
}

// connectedFakeWith is connectedFake with a fake tenant of these options.
func connectedFakeWith(t *testing.T, o faketenant.Options) (*faketenant.Server, faketenant.Info, *cli) {
	t.Helper()
	ft, err := faketenant.New(o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info, err := ft.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ft.Close() })
	c := newCLI(t)
	c.ok("init")
	t.Setenv("FAKE_SECRET", info.ClientSecret)
	c.ok(connectArgs(info, "contoso", "--client-secret-env", "FAKE_SECRET")...)
	return ft, info, c
}

// truthBy is the fake tenant's items' content, by account|item.
func truthBy(ft *faketenant.Server) map[string]string {
	out := map[string]string{}
	for _, it := range ft.Truth() {
		out[it.Account+"|"+it.ID] = it.SHA256
	}
	return out
}

// restoredClientFolder checks a restore of the client folder into the
// tenant against what was there before it: nothing changed, every new item
// under "/Holdfast restore …" + ClientFolder in account's drive, holding
// bytes among originals. It returns how many items the restore added.
func restoredClientFolder(t *testing.T, ft *faketenant.Server, before map[string]string, account string, originals map[string]bool) int {
	t.Helper()
	restored := 0
	for _, it := range ft.Truth() {
		if sha, ok := before[it.Account+"|"+it.ID]; ok {
			if sha != it.SHA256 {
				t.Errorf("the restore changed %s %s", it.Account, it.Path)
			}
			continue
		}
		if it.Account != account || !strings.HasPrefix(it.Path, "/Holdfast restore ") || !strings.HasSuffix(it.Path, faketenant.ClientFolder) {
			t.Errorf("unexpected new item %s %s", it.Account, it.Path)
			continue
		}
		if !originals[it.SHA256] {
			t.Errorf("restored file %s holds %.12s, not an original's bytes", it.Path, it.SHA256)
		}
		restored++
	}
	return restored
}
