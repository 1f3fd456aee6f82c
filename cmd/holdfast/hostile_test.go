package main

import (
	"archive/zip"
	"encoding/csv"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/faketenant"
)

// noControl fails if s holds a character that could drive a terminal.
func noControl(t *testing.T, what, s string, allowNewlines bool) {
	t.Helper()
	for _, r := range s {
		if holdfast.IsControl(r) && !(allowNewlines && (r == '\n')) {
			t.Errorf("%s holds %U: %q", what, r, s)
			return
		}
	}
}

// TestHostileNames: captured content holding terminal escapes, bidi
// overrides, newlines, names that clean to the same name and long names of
// two-byte characters is backed up, searched, restored, tested and
// exported without driving the terminal, without control characters in
// any file name, and without a false integrity failure.
func TestHostileNames(t *testing.T) {
	ft, info, c := connectedFake(t, 11)
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "hostile-names"}); err != nil {
		t.Fatal(err)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail,onedrive")
	alice := info.Users[0]

	out := c.ok("--tenant", "contoso", "search", "invoice")
	noControl(t, "search output", out, true)
	if !strings.Contains(out, `\x1b[31mURGENT`) || !strings.Contains(out, `\u202e`) {
		t.Errorf("search output does not show the escapes visibly:\n%s", out)
	}
	var js struct {
		Hits []struct{ Title string }
	}
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "search", "invoice"), &js)
	exact := false
	for _, h := range js.Hits {
		exact = exact || h.Title == faketenant.HostileSubject
	}
	if !exact {
		t.Errorf("--json does not carry the subject exactly: %+v", js.Hits)
	}

	// Folders are captured but are not documents.
	folders := c.search("filename:hostile")
	if folders.Total != 1 || folders.Hits[0].Kind != "folder" {
		t.Errorf("the Hostile folder: %+v, want one hit of kind folder", folders)
	}
	if docs := c.search("kind:docs filename:hostile"); docs.Total != 0 {
		t.Errorf("kind:docs finds %d folders", docs.Total)
	}
	if docs := c.search("kind:docs x.txt"); docs.Total != 2 {
		t.Errorf("kind:docs x.txt finds %d, want the 2 files", docs.Total)
	}

	dir := filepath.Join(t.TempDir(), "restore")
	out = c.ok("--tenant", "contoso", "restore", "--account", alice, "--workload", "onedrive", "--path", faketenant.HostileFolder, "--to-dir", dir)
	noControl(t, "restore output", out, true)
	var names []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		noControl(t, "restored path", rel, false)
		if !utf8.ValidString(rel) {
			t.Errorf("restored path %q is not valid UTF-8", rel)
		}
		if !d.IsDir() && d.Name() != "MANIFEST.json" {
			names = append(names, rel)
		}
		return nil
	})
	if len(names) != len(faketenant.HostileFiles) {
		t.Errorf("restored %d files, want %d: %q", len(names), len(faketenant.HostileFiles), names)
	}
	contents := map[string]bool{}
	for _, n := range names {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		contents[string(b)] = true
	}
	for name, content := range faketenant.HostileFiles {
		if !contents[content] {
			t.Errorf("%q was not restored (its content is missing)", name)
		}
	}
	out = c.ok("--tenant", "contoso", "restore-test", "--sample", "100000")
	if !strings.Contains(out, "passed") {
		t.Errorf("restore-test: %s", out)
	}

	c.ok("--tenant", "contoso", "hold", "create", "--case", "Hostile", "--custodian", alice, "--reason", "test")
	pkg := filepath.Join(t.TempDir(), "hostile.zip")
	c.ok("--tenant", "contoso", "export", "--case", "Hostile", "--query", "kind:docs OR URGENT", "--out", pkg)
	key := strings.TrimSpace(c.ok("log-key"))
	c.ok("verify-export", pkg, "--key", key)
	zr, err := zip.OpenReader(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		noControl(t, "package path", f.Name, false)
	}
}

// TestExportLoadFile: one row per document with its own DocID, event
// attachments in their parent's family, every Teams message its own row
// with its sender as custodian, CC and dates filled; the DAT format.
func TestExportLoadFile(t *testing.T) {
	_, info, c := connectedFake(t, 4)
	c.ok("--tenant", "contoso", "backup")
	alice := info.Users[0]
	c.ok("--tenant", "contoso", "hold", "create", "--case", "All", "--custodian", alice, "--reason", "test")
	var held struct{ Total int }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "hold", "show", "--case", "All"), &held)
	teams := c.search("custodian:"+alice+" (kind:microsoftteams OR kind:im)", "--all-versions")

	pkg := filepath.Join(t.TempDir(), "all.zip")
	c.ok("--tenant", "contoso", "export", "--case", "All", "--query", "kind:email OR kind:meetings OR kind:microsoftteams OR kind:im", "--out", pkg)
	key := strings.TrimSpace(c.ok("log-key"))
	c.ok("verify-export", pkg, "--key", key)
	rows := loadRows(t, pkg, "loadfile.csv", func(b []byte) [][]string {
		r, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	rows = rows[1:]
	ids := map[string]bool{}
	kinds := map[string]int{} // documents by kind, attachments apart
	teamsAttachments := 0
	families, withCC, events := 0, 0, 0
	for _, r := range rows {
		id := r[col["DocID"]]
		if ids[id] {
			t.Errorf("DocID %s is on two rows", id)
		}
		ids[id] = true
		if r[col["ParentDocID"]] == "" {
			kinds[r[col["Kind"]]]++
		} else if k := r[col["Kind"]]; k == "im" || k == "microsoftteams" {
			teamsAttachments++ // a pasted image of a message
		}
		if p := r[col["ParentDocID"]]; p != "" {
			families++
			if !ids[p] || r[col["BegAttach"]] != p || r[col["EndAttach"]] == "" {
				t.Errorf("attachment %s: parent %q, BegAttach %q, EndAttach %q", id, p, r[col["BegAttach"]], r[col["EndAttach"]])
			}
		}
		if r[col["CC"]] != "" {
			withCC++
		}
		if r[col["Kind"]] == "meetings" && r[col["ParentDocID"]] == "" {
			events++
			if r[col["Subject"]] == "" || r[col["Sent"]] == "" {
				t.Errorf("event row %s has no subject or date: %q", id, r)
			}
		}
		if r[col["MD5"]] == "" || r[col["SHA256"]] == "" || r[col["NativePath"]] == "" || r[col["Custodian"]] == "" {
			t.Errorf("row %s lacks a hash, native path or custodian: %q", id, r)
		}
	}
	if families == 0 || withCC == 0 || events == 0 {
		t.Errorf("%d attachment rows, %d rows with CC, %d events; want some of each", families, withCC, events)
	}
	if got := kinds["microsoftteams"] + kinds["im"]; got != teams.Total || teamsAttachments == 0 {
		t.Errorf("%d Teams rows (and %d of their hosted contents), the search finds %d Teams message versions", got, teamsAttachments, teams.Total)
	}
	for _, r := range rows {
		if k := r[col["Kind"]]; (k == "microsoftteams" || k == "im") && !strings.EqualFold(r[col["Custodian"]], alice) {
			t.Errorf("Teams row %s: custodian %q, want the sender %s", r[col["DocID"]], r[col["Custodian"]], alice)
		}
	}

	dat := filepath.Join(t.TempDir(), "all-dat.zip")
	c.ok("--tenant", "contoso", "export", "--case", "All", "--query", "kind:email", "--load-file", "dat", "--out", dat)
	c.ok("verify-export", dat, "--key", key)
	drows := loadRows(t, dat, "loadfile.dat", func(b []byte) [][]string {
		if !strings.HasPrefix(string(b), "\ufeffþDocIDþ\x14þParentDocIDþ") {
			t.Fatalf("DAT header: %q", b[:min(len(b), 60)])
		}
		r, err := parseDATForTest(b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
	if len(drows) < 2 || len(drows[0]) != len(rows[0]) {
		t.Errorf("DAT: %d rows of %d columns", len(drows), len(drows[0]))
	}
	if code, _, errs := c.run("--tenant", "contoso", "export", "--case", "All", "--query", "x", "--load-file", "xml", "--out", filepath.Join(t.TempDir(), "x.zip")); code != exitUsage {
		t.Errorf("--load-file xml: exit %d %s", code, errs)
	}
}

func loadRows(t *testing.T, pkg, name string, parse func([]byte) [][]string) [][]string {
	t.Helper()
	zr, err := zip.OpenReader(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			return parse(b)
		}
	}
	t.Fatalf("%s is not in the package", name)
	return nil
}

func parseDATForTest(b []byte) ([][]string, error) {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(string(b), "\ufeff"), "\r\n"), "\r\n") {
		var row []string
		for _, f := range strings.Split(line, "\x14") {
			row = append(row, strings.Trim(f, "þ"))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// TestHoldOnAnUnseenCustodianWarns: a misspelt custodian is said, in
// words and in --json, and the hold is still placed.
func TestHoldOnAnUnseenCustodianWarns(t *testing.T) {
	_, info, c := connectedFake(t, 3)
	c.ok("--tenant", "contoso", "backup", "--workloads", "mail")
	var out struct {
		Held    int      `json:"held_versions"`
		Unknown []string `json:"unknown_custodians"`
	}
	code, stdout, stderr := c.run("--json", "--tenant", "contoso", "hold", "create", "--case", "C1", "--custodian", info.Users[0], "--custodian", "alcie@contoso.example", "--reason", "r")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	jsonDoc(t, stdout, &out)
	if len(out.Unknown) != 1 || out.Unknown[0] != "alcie@contoso.example" || out.Held == 0 {
		t.Errorf("hold create --json = %+v, want alcie named unknown", out)
	}
	if !strings.Contains(stderr, "warning: nothing has been captured for custodian alcie@contoso.example") {
		t.Errorf("no warning on stderr: %q", stderr)
	}
	human := c.ok("--tenant", "contoso", "hold", "create", "--case", "C2", "--custodian", info.Users[1], "--reason", "r")
	if strings.Contains(human, "warning") {
		t.Errorf("a warning for a known custodian: %q", human)
	}
}

// TestTeamsTranscriptAndHostedContents: a chat restored to files has its
// pasted images byte for byte, listed in the manifest, and a transcript
// that shows formatting but in which no script, event handler, frame,
// style sheet or remote image survives.
func TestTeamsTranscriptAndHostedContents(t *testing.T) {
	ft, _, c := connectedFake(t, 13)
	if _, err := ft.Mutate(faketenant.Mutation{Scenario: "hostile-names"}); err != nil {
		t.Fatal(err)
	}
	c.ok("--tenant", "contoso", "backup", "--workloads", "teams")
	var st struct{ Accounts []struct{ UPN string } }
	jsonDoc(t, c.ok("--json", "--tenant", "contoso", "status"), &st)
	want := map[string]bool{}
	for _, imgs := range ft.HostedContents() {
		for _, b := range imgs {
			want[string(b)] = true
		}
	}
	found, transcripts, hosted, sawHostile := map[string]bool{}, 0, 0, false
	for _, a := range st.Accounts {
		if !strings.HasPrefix(a.UPN, "chat:") && !strings.HasPrefix(a.UPN, "team:") {
			continue
		}
		dir := filepath.Join(t.TempDir(), "r")
		c.ok("--tenant", "contoso", "restore", "--account", a.UPN, "--workload", "teams", "--to-dir", dir)
		var man struct {
			Files []struct{ Path, Parent, Item string }
		}
		b, _ := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
		if err := json.Unmarshal(b, &man); err != nil {
			t.Fatal(err)
		}
		for _, f := range man.Files {
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
			if err != nil {
				t.Fatalf("%s is in the manifest but not written: %v", f.Path, err)
			}
			switch {
			case strings.Contains(f.Path, "/hosted contents/"):
				hosted++
				found[string(data)] = true
				if f.Parent == "" || f.Item == "" {
					t.Errorf("hosted content %s: parent %q, item %q; want its conversation and message", f.Path, f.Parent, f.Item)
				}
			case strings.HasSuffix(f.Path, "transcript.html"):
				transcripts++
				html := string(data)
				for _, bad := range []string{"<script", "onclick", "onerror", "tracker.example", "javascript:", "<iframe", "evil.example", "@import"} {
					if strings.Contains(strings.ToLower(html), bad) {
						t.Errorf("%s holds %q", f.Path, bad)
					}
				}
				if strings.Contains(html, "Invoice attached") {
					sawHostile = true
					if !strings.Contains(html, "<b>bold stays</b>") {
						t.Errorf("%s lost the message's formatting", f.Path)
					}
				}
				if strings.Contains(html, "&lt;p&gt;") {
					t.Errorf("%s shows HTML as escaped source", f.Path)
				}
			}
		}
	}
	if transcripts == 0 || hosted != len(want) || !sawHostile {
		t.Fatalf("%d transcripts (the hostile message in one: %v), %d hosted contents restored; the tenant has %d", transcripts, sawHostile, hosted, len(want))
	}
	for b := range want {
		if !found[b] {
			t.Error("a hosted content was not restored byte for byte")
		}
	}
}
