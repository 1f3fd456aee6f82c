package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/faketenant"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/ingest/graph"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

type env struct {
	t      *testing.T
	ft     *faketenant.Server
	info   faketenant.Info
	data   store.DataDir
	client *graph.Client
}

func newEnv(t *testing.T, o faketenant.Options) *env {
	t.Helper()
	state := t.TempDir()
	ft, err := faketenant.New(o, state)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ft.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ft.Close() })
	d := newDataDir(t, "contoso")
	c, err := graph.New(connOf(info, false))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ft: ft, info: info, data: d, client: c}
}

// connOf is the connection to a fake tenant, metered within the limits the
// fake tenant enforces (at its scale); noMeter turns metering off.
func connOf(info faketenant.Info, noMeter bool) graph.Conn {
	return graph.Conn{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		GraphEndpoint: info.GraphEndpoint, LoginEndpoint: info.LoginEndpoint, CAFile: info.CAFile, NoMeter: noMeter, Limits: info.Limits}
}

// newDataDir initialises a data directory with one tenant.
func newDataDir(t testing.TB, tenant string) store.DataDir {
	t.Helper()
	d := store.DataDir{Dir: filepath.Join(t.TempDir(), "data")}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(context.Background(), tenant, store.AddTenantOptions{}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) backup(workloads ...holdfast.Workload) *ingest.Result {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	defer s.Close(ctx)
	res, err := ingest.Run(ctx, e.client, s, ingest.Options{Workloads: workloads, Throttled: e.client.Throttled})
	if err != nil {
		e.t.Fatalf("backup: %v (result %+v)", err, res)
	}
	return res
}

type version struct {
	account, item, path, change, sha, title string
	deleted, folder                         bool
	attachments                             int
}

// captured returns, per account|item, the latest version the store holds,
// with its content hash checked by reading it back.
func (e *env) captured() map[string]version {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]version{}
	err = s.Records(ctx, 0, func(_ []byte, r store.Record) error {
		var d struct {
			Account, Item, Path, Change string
			File                        *struct{ Folder bool }
			PIM                         *struct{ Title string }
		}
		switch r.Type {
		case record.TypeItemVersion:
			json.Unmarshal(r.Data, &d)
			v := version{account: d.Account, item: d.Item, path: d.Path, change: d.Change, folder: d.File != nil && d.File.Folder, attachments: max(len(r.Refs)-1, 0)}
			for _, ref := range r.Refs[min(1, len(r.Refs)):] {
				// Attachments read back whole.
				if err := s.ReadContent(ctx, ref, io.Discard); err != nil {
					return err
				}
			}
			if d.PIM != nil {
				v.title = d.PIM.Title
			}
			if len(r.Refs) > 0 {
				var buf bytes.Buffer
				if err := s.ReadContent(ctx, r.Refs[0], &buf); err != nil {
					return err
				}
				sum := sha256.Sum256(buf.Bytes())
				v.sha = hex.EncodeToString(sum[:])
				if d.PIM != nil {
					// The content is the item's Graph JSON.
					var content struct {
						Subject, DisplayName, ID string
						Body                     struct{ Content string }
					}
					err := json.Unmarshal(buf.Bytes(), &content)
					if err != nil || !strings.HasSuffix(d.Item, content.ID) ||
						(content.Subject != d.PIM.Title && content.DisplayName != d.PIM.Title && !strings.HasPrefix(content.Body.Content, d.PIM.Title)) {
						e.t.Errorf("%s: stored JSON %.200s does not describe %q (%v)", d.Item, buf.Bytes(), d.PIM.Title, err)
					}
				}
			}
			out[d.Account+"|"+d.Item] = v
		case record.TypeTombstone:
			json.Unmarshal(r.Data, &d)
			v := out[d.Account+"|"+d.Item]
			v.deleted = true
			out[d.Account+"|"+d.Item] = v
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// compare checks that the latest live versions of files and messages
// equal the fake tenant's truth.
func (e *env) compare() {
	e.t.Helper()
	truth := e.ft.Truth()
	got := e.captured()
	live := 0
	for _, v := range got {
		if !v.deleted && !v.folder {
			live++
		}
	}
	for _, it := range truth {
		v, ok := got[it.Account+"|"+it.ID]
		switch {
		case !ok || v.deleted:
			e.t.Errorf("%s %s (%s) was not captured", it.Account, it.ID, it.Path)
		case it.Workload == "calendar" && v.attachments != it.Attachments:
			e.t.Errorf("%s %s: captured %d attachments, the event has %d", it.Account, it.ID, v.attachments, it.Attachments)
		case it.SHA256 == "" && v.title != it.Title[:min(len(it.Title), 200)]:
			e.t.Errorf("%s %s: captured %q, tenant holds %q", it.Account, it.ID, v.title, it.Title)
		case it.SHA256 != "" && v.sha != it.SHA256:
			e.t.Errorf("%s %s: captured content %s, tenant holds %s", it.Account, it.ID, v.sha[:12], it.SHA256[:12])
		case v.path != it.Path:
			e.t.Errorf("%s %s: captured in %q, tenant has it in %q", it.Account, it.ID, v.path, it.Path)
		}
	}
	if live != len(truth) {
		e.t.Errorf("store holds %d live items, tenant %d", live, len(truth))
	}
}

var workloads = holdfast.Workloads

func TestBackupEndToEnd(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 7})
	res := e.backup(workloads...)
	truth := e.ft.Truth()
	files, libFiles := 0, 0
	for _, it := range truth {
		switch it.Workload {
		case "onedrive":
			files++
		case "sharepoint":
			libFiles++
		}
	}
	files += libFiles
	mail := 0
	for _, it := range truth {
		if it.Workload == "mail" {
			mail++
		}
	}
	if res.Status != ingest.StatusCompleted || res.Workloads[holdfast.Mail].ItemsNew != mail || res.Accounts != len(e.info.Users)+len(e.info.Others) {
		t.Fatalf("first run: status %s, mail new %d (tenant has %d), accounts %d; failures %v", res.Status, res.Workloads[holdfast.Mail].ItemsNew, mail, res.Accounts, res.FailedItems)
	}
	for _, w := range []holdfast.Workload{holdfast.Calendar, holdfast.Contacts, holdfast.Teams} {
		if res.Workloads[w].ItemsNew == 0 {
			t.Errorf("%s: nothing captured: %+v", w, res.Workloads[w])
		}
	}
	// Files, plus the folders they live in.
	if od := res.Workloads[holdfast.OneDrive]; od.ItemsNew <= files-libFiles || od.Bytes == 0 {
		t.Errorf("onedrive: %+v for %d files", od, files-libFiles)
	}
	if sp := res.Workloads[holdfast.SharePoint]; sp.ItemsNew <= libFiles || sp.Bytes == 0 {
		t.Errorf("sharepoint: %+v for %d files", sp, libFiles)
	}
	sort.Strings(res.Departed)
	want := append([]string(nil), e.info.Departed...)
	sort.Strings(want)
	if strings.Join(res.Departed, ",") != strings.Join(want, ",") || len(want) != 3 {
		t.Errorf("departed = %v, want the 3 employees who left %v (not the shared, room or guest accounts %v)", res.Departed, want, e.info.Others)
	}
	// The accounts that are not employees are recorded as what they are.
	states := strings.Join(e.records(record.TypeAccountState), "\n")
	for upn, kind := range e.info.Others {
		if !strings.Contains(states, `"account":"`+upn+`"`) || (kind != "guest" && !strings.Contains(states, `"kind":"`+kind+`"`)) {
			t.Errorf("%s (%s): account.state records do not say its kind:\n%s", upn, kind, states)
		}
	}
	if len(res.FailedItems) != 0 {
		t.Errorf("accounts without a mailbox or a OneDrive made items fail: %v", res.FailedItems)
	}
	e.compare()

	// No changes: nothing new.
	res = e.backup(workloads...)
	if res.ItemsNew+res.ItemsChanged+res.ItemsDeleted != 0 {
		t.Errorf("run without changes captured %+v", res.Counts)
	}

	// Activity: per account two new, one changed, one deleted message and
	// one new, one changed, one deleted file.
	m, err := e.ft.Mutate(faketenant.Mutation{Scenario: "activity"})
	if err != nil {
		t.Fatal(err)
	}
	mutated := (m.Items - 5) / 12 // per account: 4 mail, 3 drive, 3 calendar and 2 contact changes; 5 in Teams
	res = e.backup(workloads...)
	if c := res.Workloads[holdfast.Mail]; c.ItemsNew != 2*mutated || c.ItemsChanged != mutated || c.ItemsDeleted != mutated {
		t.Errorf("mail after activity in %d accounts: %+v; want %d new, %d changed, %d deleted", mutated, c, 2*mutated, mutated, mutated)
	}
	if c := res.Workloads[holdfast.OneDrive]; c.ItemsNew != mutated || c.ItemsChanged != mutated || c.ItemsDeleted != mutated {
		t.Errorf("onedrive after activity in %d accounts: %+v; want %d each", mutated, c, mutated)
	}
	if c := res.Workloads[holdfast.Calendar]; c.ItemsNew != mutated || c.ItemsChanged != mutated || c.ItemsDeleted != mutated {
		t.Errorf("calendar after activity in %d accounts: %+v; want %d each", mutated, c, mutated)
	}
	if c := res.Workloads[holdfast.Contacts]; c.ItemsNew != mutated || c.ItemsChanged != 0 || c.ItemsDeleted != mutated {
		t.Errorf("contacts after activity in %d accounts: %+v; want %d new, %d deleted", mutated, c, mutated, mutated)
	}
	// Teams: a new thread and a reply to an old one, a reply edited and
	// one deleted, a chat message edited, one deleted, one posted.
	if c := res.Workloads[holdfast.Teams]; c.ItemsNew != 3 || c.ItemsChanged != 2 || c.ItemsDeleted != 2 {
		t.Errorf("teams after activity: %+v; want 3 new, 2 changed, 2 deleted", c)
	}
	e.compare()

	// The disaster: an employee overwrites the whole client folder. Every
	// file gets a new version; the versions from before stay.
	before := e.captured()
	m, err = e.ft.Mutate(faketenant.Mutation{Scenario: "overwrite-folder"})
	if err != nil || m.Items == 0 {
		t.Fatalf("overwrite-folder: %v %+v", err, m)
	}
	res = e.backup(workloads...)
	if c := res.Workloads[holdfast.OneDrive]; c.ItemsChanged != m.Items {
		t.Errorf("after overwriting %d files: %+v", m.Items, c)
	}
	e.compare()
	old := e.versions(func(v version) bool { return v.path == faketenant.ClientFolder })
	for k, v := range before {
		if v.path == faketenant.ClientFolder && !v.folder && !old[k+"|"+v.sha] {
			t.Errorf("the pre-disaster version of %s is no longer in the store", k)
		}
	}

	// A user leaves: the account is recorded as departed, data stays.
	if _, err := e.ft.Mutate(faketenant.Mutation{Scenario: "delete-user", User: e.info.Users[2]}); err != nil {
		t.Fatal(err)
	}
	before = e.captured()
	e.backup(workloads...)
	after := e.captured()
	kept := 0
	for k, v := range before {
		if v.account == e.info.Users[2] && !after[k].deleted {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("the departed user's captured mail was not kept")
	}
	groups := e.records(record.TypeGroups)
	if len(groups) != 1 || !strings.Contains(groups[0], `"team":true`) || !strings.Contains(groups[0], "Partners") {
		t.Errorf("directory.groups records = %v, want one listing the team and the security group", groups)
	}
	departed := e.records(record.TypeAccountDeparted)
	if !strings.Contains(strings.Join(departed, "\n"), e.info.Users[2]) || !strings.Contains(strings.Join(departed, "\n"), `"reason":"deleted"`) {
		t.Errorf("account.departed records = %v, want one for %s", departed, e.info.Users[2])
	}
}

// versions returns account|item|sha of every version that matches keep.
func (e *env) versions(keep func(version) bool) map[string]bool {
	ctx := context.Background()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	s.Records(ctx, 0, func(_ []byte, r store.Record) error {
		var d struct{ Account, Item, Path string }
		if r.Type != record.TypeItemVersion || len(r.Refs) == 0 {
			return nil
		}
		json.Unmarshal(r.Data, &d)
		h := sha256.New()
		if err := s.ReadContent(ctx, r.Refs[0], h); err != nil {
			return err
		}
		v := version{account: d.Account, item: d.Item, path: d.Path, sha: hex.EncodeToString(h.Sum(nil))}
		if keep(v) {
			out[d.Account+"|"+d.Item+"|"+v.sha] = true
		}
		return nil
	})
	return out
}

func (e *env) records(typ string) []string {
	ctx := context.Background()
	s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{ReadOnly: true})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	s.Records(ctx, 0, func(raw []byte, r store.Record) error {
		if r.Type == typ {
			out = append(out, string(raw))
		}
		return nil
	})
	return out
}

func TestBackupUnderFaults(t *testing.T) {
	clean := newEnv(t, faketenant.Options{Seed: 3})
	clean.backup(workloads...)
	want := clean.captured()

	e := newEnv(t, faketenant.Options{Seed: 3, Fault429: 0.3, Fault503: 0.1, FaultReset: 0.05, RetryAfter: -1})
	res := e.backup(workloads...)
	// Expired delta tokens on the second run force full resyncs.
	e.ft.SetFaults(0.3, 0.1, 0.05, 1)
	res2 := e.backup(workloads...)
	st := e.ft.Stats()
	if st.Throttled == 0 || st.Resets == 0 || st.Expired == 0 {
		t.Fatalf("faults were not injected: %+v", st)
	}
	if res.Status != ingest.StatusCompleted || res2.Status != ingest.StatusCompleted || res2.Resyncs == 0 {
		t.Errorf("runs under faults: %s / %s (resyncs %d), failures %v", res.Status, res2.Status, res2.Resyncs, res2.FailedItems)
	}
	if res2.ItemsNew+res2.ItemsChanged+res2.ItemsDeleted != 0 {
		t.Errorf("resync after expired tokens captured %+v, want nothing new", res2.Counts)
	}
	got := e.captured()
	if len(got) != len(want) {
		t.Errorf("faulty runs captured %d items, clean run %d", len(got), len(want))
	}
	for k, v := range want {
		if g := got[k]; g.sha != v.sha || g.change != v.change || g.deleted != v.deleted {
			t.Errorf("%s: faulty run %+v, clean run %+v", k, g, v)
		}
	}
	e.compare()
	for _, typ := range []string{record.TypeRunFinished, record.TypeItemFailed} {
		for _, r := range e.records(typ) {
			if strings.Contains(r, "tempauth") || strings.Contains(r, "sig=") {
				t.Errorf("a %s record holds a pre-authenticated URL: %s", typ, r)
			}
		}
	}
	t.Logf("fault stats: %+v", st)
}

// Damaged answers — malformed JSON pages, downloads cut short of their
// Content-Length, files with a byte flipped in transit — fail the items or folders they hit, clearly and without
// advancing their delta links; the next clean run captures everything.
func TestDamagedAnswers(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 9})
	e.ft.SetDamage(0.05, 0.2, 0.2)
	res := e.backup(workloads...)
	st := e.ft.Stats()
	if st.Malformed == 0 || st.Short == 0 || st.Corrupt == 0 {
		t.Fatalf("no damage injected: %+v", st)
	}
	if res.Status != ingest.StatusWithFailures || len(res.FailedItems) == 0 {
		t.Fatalf("run with damaged answers: %s, %d failures", res.Status, len(res.FailedItems))
	}
	reasons := ""
	for _, f := range res.FailedItems {
		reasons += f.Reason + "\n"
	}
	if !strings.Contains(reasons, "EOF") || !strings.Contains(reasons, "QuickXorHash") {
		t.Errorf("failure reasons do not say what went wrong:\n%s", reasons)
	}
	e.ft.SetDamage(0, 0, 0)
	res = e.backup(workloads...)
	if res.Status != ingest.StatusCompleted {
		t.Fatalf("clean run after damage: %s %v", res.Status, res.FailedItems)
	}
	e.compare()
	ctx := context.Background()
	s, _ := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	defer s.Close(ctx)
	if rep, err := s.Verify(ctx, store.VerifyOptions{}); err != nil || !rep.OK {
		t.Errorf("verify: %v %v", err, rep.Failures)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 5})
	ctx := context.Background()
	tests := []struct {
		name string
		conn graph.Conn
		want string
	}{
		{"wrong secret", graph.Conn{TenantID: e.info.TenantID, ClientID: e.info.ClientID, ClientSecret: "wrong"}, "AADSTS7000215"},
		{"unknown tenant", graph.Conn{TenantID: "00000000-1111-2222-3333-444444444444", ClientID: e.info.ClientID, ClientSecret: e.info.ClientSecret}, "AADSTS90002"},
		{"unknown client", graph.Conn{TenantID: e.info.TenantID, ClientID: "00000000-1111-2222-3333-444444444444", ClientSecret: e.info.ClientSecret}, "AADSTS700016"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.conn.GraphEndpoint, tt.conn.LoginEndpoint, tt.conn.CAFile = e.info.GraphEndpoint, e.info.LoginEndpoint, e.info.CAFile
			c, err := graph.New(tt.conn)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Accounts(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !holdfast.Is(holdfast.Permission, err) {
				t.Errorf("Accounts = %v, want a permission error naming %s", err, tt.want)
			}
		})
	}
	for _, bad := range []string{"http://graph.example", "https://graph.microsoft.com/v1.0", "not a url"} {
		if _, err := graph.New(graph.Conn{TenantID: "t", ClientID: "c", ClientSecret: "s", GraphEndpoint: bad, LoginEndpoint: "https://login.example"}); !holdfast.Is(holdfast.Invalid, err) {
			t.Errorf("graph endpoint %q: %v, want Invalid", bad, err)
		}
	}
	// A 401 mid-run fails the run clearly and keeps what was stored.
	e.backup(holdfast.Mail)
	before := len(e.captured())
	e.ft.Mutate(faketenant.Mutation{Scenario: "activity"})
	e.ft.RevokeTokens()
	s, _ := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	res, err := ingest.Run(ctx, e.client, s, ingest.Options{Workloads: []holdfast.Workload{holdfast.Mail}})
	s.Close(ctx)
	if err == nil || res.Status != ingest.StatusFailed || !strings.Contains(res.Error, "401") {
		t.Errorf("run with revoked tokens: err %v, result %+v; want a failed run naming the 401", err, res)
	}
	if after := len(e.captured()); after < before {
		t.Errorf("a failed run lost data: %d items before, %d after", before, after)
	}
	s, _ = e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
	defer s.Close(ctx)
	if rep, err := s.Verify(ctx, store.VerifyOptions{}); err != nil || !rep.OK {
		t.Errorf("verify after a failed run: %v %v", err, rep.Failures)
	}
	_ = fmt.Sprint
}

// Files above Graph's 4 MB simple-upload limit go through an upload
// session in 320 KiB multiples, without the bearer token on the session
// URL; folders collide rather than merge.
func TestDriveWrites(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 2, ItemsPerUser: 4})
	ctx := context.Background()
	drive, err := e.client.UserDrive(ctx, e.info.Users[0])
	if err != nil {
		t.Fatal(err)
	}
	dir, err := e.client.CreateFolder(ctx, drive, "root", "Restore target")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreateFolder(ctx, drive, "root", "Restore target"); !errors.Is(err, graph.ErrExists) {
		t.Errorf("second folder of the same name: %v, want ErrExists", err)
	}
	big := bytes.Repeat([]byte("ledger line, "), 700_000) // ~9 MB
	small := []byte("a small note")
	for name, data := range map[string][]byte{"big.csv": big, "small.txt": small} {
		if _, err := e.client.UploadFile(ctx, drive, dir, name, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
	}
	want := map[string]bool{}
	for _, d := range [][]byte{big, small} {
		sum := sha256.Sum256(d)
		want[hex.EncodeToString(sum[:])] = true
	}
	for _, it := range e.ft.Truth() {
		if it.Path == "/Restore target" {
			delete(want, it.SHA256)
		}
	}
	if len(want) != 0 {
		t.Errorf("%d uploaded files are missing or differ in the tenant", len(want))
	}
}

// TestLongRunSignsAsItGoes: a run signs a checkpoint of what it has made
// durable every CheckpointInterval, not only at its end, so a first backup
// that takes hours never leaves hours of the log unsigned; every one of
// those checkpoints is stored and verifies.
func TestLongRunSignsAsItGoes(t *testing.T) {
	e := newEnv(t, faketenant.Options{Seed: 7, Users: 3, ItemsPerUser: 8})
	ctx := context.Background()
	count := func(o ingest.Options) (int, []uint64) {
		t.Helper()
		s, err := e.data.OpenTenant(ctx, "contoso", store.OpenTenantOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		before, _ := s.CheckpointSizes(ctx)
		o.Workloads = []holdfast.Workload{holdfast.Mail}
		if _, err := ingest.Run(ctx, e.client, s, o); err != nil {
			t.Fatal(err)
		}
		after, err := s.CheckpointSizes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range after {
			if _, err := s.CheckpointAt(ctx, size); err != nil {
				t.Errorf("checkpoint %d: %v", size, err)
			}
		}
		return len(after) - len(before), after
	}
	if n, sizes := count(ingest.Options{CommitInterval: time.Nanosecond, CheckpointInterval: time.Nanosecond}); n < 3 {
		t.Errorf("a run signing as it goes issued %d checkpoints (%v), want one per finished folder and one at its end", n, sizes)
	}
	if _, err := e.ft.Mutate(faketenant.Mutation{Scenario: "activity"}); err != nil {
		t.Fatal(err)
	}
	if n, sizes := count(ingest.Options{}); n != 1 {
		t.Errorf("a short run with the defaults issued %d checkpoints (%v), want 1, at its end", n, sizes)
	}
}
