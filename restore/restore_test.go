package restore

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fixture builds a store whose log holds, at known times: a file edited
// three times then deleted, a message with an attachment, an event with
// an attachment, a contact and a Teams thread.
func fixture(t *testing.T) (*store.Store, []time.Time) {
	t.Helper()
	ctx := context.Background()
	d := store.DataDir{Dir: t.TempDir()}
	if _, err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddTenant(ctx, "acme", store.AddTenantOptions{Now: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	now := t0
	s, err := d.OpenTenant(ctx, "acme", store.OpenTenantOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	put := func(typ string, data map[string]any, contents ...string) {
		var refs []store.Ref
		for _, c := range contents {
			ref, err := s.PutBytes(ctx, []byte(c))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		if _, err := s.Append(ctx, typ, data, refs...); err != nil {
			t.Fatal(err)
		}
	}
	file := func(n int) map[string]any {
		return map[string]any{"account": "alice@contoso.example", "workload": "onedrive", "item": "F1", "path": "/Clients/Harbour", "file": map[string]any{"name": "ledger.csv"}, "change": fmt.Sprint(n)}
	}
	var moments []time.Time
	for v := 1; v <= 4; v++ {
		now = t0.Add(time.Duration(v) * time.Hour)
		put(record.TypeItemVersion, file(v), "ledger version "+string(rune('0'+v)))
		moments = append(moments, now)
	}
	now = t0.Add(5 * time.Hour)
	put(record.TypeTombstone, map[string]any{"account": "alice@contoso.example", "workload": "onedrive", "item": "F1", "path": "/Clients/Harbour"})
	moments = append(moments, now)

	now = t0.Add(30 * time.Minute)
	mime := "From: \"Ben\" <ben@contoso.example>\r\nTo: alice@contoso.example\r\nSubject: VAT return\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nPlease find attached.\r\n--b1\r\nContent-Type: text/csv; name=\"q1.csv\"\r\nContent-Disposition: attachment; filename=\"q1.csv\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYSxiLGMK\r\n--b1--\r\n"
	put(record.TypeItemVersion, map[string]any{"account": "alice@contoso.example", "workload": "mail", "item": "M1", "path": "Inbox/Clients", "mail": map[string]any{"subject": "VAT return"}}, mime)
	event := `{"id":"E1","iCalUId":"uid-1","subject":"Year-end review; Harbour, Ltd","body":{"content":"Agenda attached"},"start":{"dateTime":"2026-03-02T10:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-03-02T11:00:00.0000000","timeZone":"UTC"},"location":{"displayName":"Harbour offices"},"organizer":{"emailAddress":{"name":"Alice","address":"alice@contoso.example"}},"attendees":[{"type":"required","emailAddress":{"name":"Ben","address":"ben@contoso.example"}}]}`
	put(record.TypeItemVersion, map[string]any{"account": "alice@contoso.example", "workload": "calendar", "item": "E1", "path": "Calendar", "pim": map[string]any{"title": "Year-end review", "attachments": []any{map[string]any{"name": "agenda.txt"}}}}, event, "1. Accounts\n")
	contact := `{"id":"C1","displayName":"Gail Harbour","givenName":"Gail","surname":"Harbour","companyName":"Harbour Bakery Ltd","emailAddresses":[{"name":"Gail","address":"gail@harbour.example"}],"businessPhones":["+44 20 7946 0000"]}`
	put(record.TypeItemVersion, map[string]any{"account": "alice@contoso.example", "workload": "contacts", "item": "C1", "path": "Contacts", "pim": map[string]any{"title": "Gail Harbour"}}, contact)
	for i, m := range []string{
		`{"id":"100","createdDateTime":"2026-03-01T09:00:00Z","from":{"user":{"displayName":"Alice"}},"body":{"contentType":"html","content":"<p>New engagement</p>"}}`,
		`{"id":"101","replyToId":"100","createdDateTime":"2026-03-01T09:05:00Z","from":{"user":{"displayName":"Ben"}},"body":{"contentType":"html","content":"<script>x</script>Great"}}`,
	} {
		item := []string{"100", "100/101"}[i]
		put(record.TypeItemVersion, map[string]any{"account": "team:Contoso", "workload": "teams", "item": item, "path": "Contoso/General", "pim": map[string]any{"title": "m"}}, m)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return s, moments
}

func TestPointInTime(t *testing.T) {
	ctx := context.Background()
	s, moments := fixture(t)
	for v := 1; v <= 4; v++ {
		got, err := Select(ctx, s, Scope{Account: "alice@contoso.example", Workload: holdfast.OneDrive, At: moments[v-1].Add(time.Minute)})
		if err != nil || len(got) != 1 {
			t.Fatalf("at version %d: %v %v", v, got, err)
		}
		var buf bytes.Buffer
		s.ReadContent(ctx, got[0].Refs[0], &buf)
		if want := "ledger version " + string(rune('0'+v)); buf.String() != want {
			t.Errorf("at %v: content %q, want %q", moments[v-1], buf.String(), want)
		}
	}
	after := moments[4].Add(time.Minute)
	if got, _ := Select(ctx, s, Scope{Workload: holdfast.OneDrive, At: after}); len(got) != 0 {
		t.Errorf("a deleted file came back without --include-deleted: %v", got)
	}
	got, err := Select(ctx, s, Scope{Workload: holdfast.OneDrive, At: after, IncludeDeleted: true})
	if err != nil || len(got) != 1 || !got[0].Deleted {
		t.Fatalf("with --include-deleted: %v %v", got, err)
	}
	var buf bytes.Buffer
	s.ReadContent(ctx, got[0].Refs[0], &buf)
	if buf.String() != "ledger version 4" {
		t.Errorf("deleted file restored as %q, want its last version", buf.String())
	}
}

func TestSelectRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := fixture(t)
	for name, sc := range map[string]Scope{
		"unknown account":     {Account: "nobody@contoso.example"},
		"before first backup": {At: t0.Add(-24 * time.Hour)},
		"path never existed":  {Account: "alice@contoso.example", Path: "/No/Such/Folder"},
		"unknown run":         {Run: "20260101T000000Z-000000"},
	} {
		if _, err := Select(ctx, s, sc); !holdfast.Is(holdfast.Invalid, err) {
			t.Errorf("%s: %v, want an Invalid error", name, err)
		}
	}
}

func TestExportDirAndZip(t *testing.T) {
	ctx := context.Background()
	s, moments := fixture(t)
	vs, err := Select(ctx, s, Scope{At: moments[2].Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	var calls, done, total int64
	res, err := Export(ctx, s, vs, dir, ExportOptions{Progress: func(d, n int64) { calls, done, total = calls+1, d, n }})
	if err != nil || len(res.Failures) > 0 {
		t.Fatalf("export: %v %v", err, res)
	}
	if done != int64(len(vs)) || total != int64(len(vs)) || calls < 2 {
		t.Errorf("progress ended at %d of %d after %d calls, want %d of %d, told as it went", done, total, calls, len(vs), len(vs))
	}
	if res.Items != 6 {
		t.Errorf("items = %d, want 6 (file, message, event, contact, 2 Teams messages)", res.Items)
	}
	files := map[string][]byte{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	checkExport(t, files)

	zf := filepath.Join(t.TempDir(), "out.zip")
	if _, err := Export(ctx, s, vs, zf, ExportOptions{Zip: true}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zf)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	zfiles := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		zfiles[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	checkExport(t, zfiles)

	// Never overwrite.
	if _, err := Export(ctx, s, vs, dir, ExportOptions{}); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("export into a non-empty directory: %v, want Invalid", err)
	}
	if _, err := Export(ctx, s, vs, zf, ExportOptions{Zip: true}); !holdfast.Is(holdfast.Invalid, err) {
		t.Errorf("export onto an existing zip: %v, want Invalid", err)
	}
}

func checkExport(t *testing.T, files map[string][]byte) {
	t.Helper()
	var man struct{ Files []ManifestEntry }
	if err := json.Unmarshal(files["MANIFEST.json"], &man); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	for _, e := range man.Files {
		sum := sha256.Sum256(files[e.Path])
		if hex.EncodeToString(sum[:]) != e.SHA256 {
			t.Errorf("%s: hash does not match the manifest", e.Path)
		}
	}
	found := map[string]bool{}
	for name, data := range files {
		switch {
		case strings.HasSuffix(name, "ledger.csv"):
			found["file"] = true
			if string(data) != "ledger version 3" {
				t.Errorf("file at version 3 exported as %q", data)
			}
		case strings.HasSuffix(name, ".eml"):
			found["eml"] = true
			msg, err := mail.ReadMessage(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			mr := multipart.NewReader(msg.Body, params["boundary"])
			attached := false
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				attached = attached || p.FileName() == "q1.csv"
			}
			if !attached {
				t.Errorf("%s: the attachment did not survive", name)
			}
		case strings.HasSuffix(name, ".ics"):
			found["ics"] = true
			props := parseContentLines(t, name, data, "VCALENDAR")
			if props["SUMMARY"] != `Year-end review\; Harbour\, Ltd` || props["DTSTART"] != "20260302T100000Z" || props["UID"] != "uid-1" {
				t.Errorf("%s: %v", name, props)
			}
		case strings.HasSuffix(name, ".vcf"):
			found["vcf"] = true
			props := parseContentLines(t, name, data, "VCARD")
			if props["FN"] != "Gail Harbour" || props["EMAIL;TYPE=INTERNET"] != "gail@harbour.example" {
				t.Errorf("%s: %v", name, props)
			}
		case strings.Contains(name, "attachments/agenda.txt"):
			found["event attachment"] = true
		case strings.HasSuffix(name, "transcript.html"):
			found["transcript"] = true
			if strings.Contains(string(data), "<script>") {
				t.Errorf("the transcript runs a message's HTML")
			}
		case strings.HasSuffix(name, "messages.json"):
			var ms []map[string]any
			if json.Unmarshal(data, &ms) != nil || len(ms) != 2 {
				t.Errorf("%s: %s", name, data)
			}
		}
	}
	for _, k := range []string{"file", "eml", "ics", "vcf", "event attachment", "transcript"} {
		if !found[k] {
			t.Errorf("no %s in the export: %v", k, keys(files))
		}
	}
}

// parseContentLines unfolds RFC 5545/vCard content lines, checks BEGIN/END
// nesting and CRLF endings, and returns the properties.
func parseContentLines(t *testing.T, name string, data []byte, outer string) map[string]string {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("%s: lines must end with CRLF", name)
	}
	unfolded := strings.ReplaceAll(string(data), "\r\n ", "")
	props := map[string]string{}
	var stack []string
	sc := bufio.NewScanner(strings.NewReader(unfolded))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Errorf("%s: malformed line %q", name, line)
			continue
		}
		switch k {
		case "BEGIN":
			stack = append(stack, v)
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != v {
				t.Errorf("%s: END:%s does not close %v", name, v, stack)
			} else {
				stack = stack[:len(stack)-1]
			}
		default:
			props[k] = v
		}
	}
	if len(stack) != 0 || !strings.HasPrefix(unfolded, "BEGIN:"+outer) {
		t.Errorf("%s: unbalanced %v", name, stack)
	}
	return props
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
