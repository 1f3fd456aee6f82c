package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/record"

	"github.com/holdfast/holdfast/access"
)

func TestReportsThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	// As of a moment after the fixture's last checkpoint (a report as of
	// now, truncated to the second, may fall just before it).
	to := time.Now().UTC().Add(2 * time.Second).Format(time.RFC3339)
	w := f.do(access.Auditor, "POST", "/api/v1/tenants/contoso/reports", map[string]any{"kind": "procedures", "to": to})
	var rec struct {
		SHA256 string `json:"sha256"`
		File   string `json:"file"`
		Actor  string `json:"actor"`
	}
	if json.Unmarshal(w.Body.Bytes(), &rec); w.Code != http.StatusCreated || rec.SHA256 == "" || rec.Actor != "auditor1 (API, 192.0.2.1)" {
		t.Fatalf("issue: %d %s", w.Code, w.Body)
	}
	var list struct{ Reports []struct{ SHA256 string } }
	json.Unmarshal(f.do(access.Technician, "GET", "/api/v1/tenants/contoso/reports", nil).Body.Bytes(), &list)
	if len(list.Reports) != 1 || list.Reports[0].SHA256 != rec.SHA256 {
		t.Errorf("list: %+v", list)
	}
	dl := f.do(access.Auditor, "GET", "/api/v1/tenants/contoso/reports/"+rec.SHA256, nil)
	sum := sha256.Sum256(dl.Body.Bytes())
	if dl.Code != 200 || hex.EncodeToString(sum[:]) != rec.SHA256 || dl.Header().Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %d %s, %d bytes", dl.Code, dl.Header(), dl.Body.Len())
	}
	verify := func(pdf []byte) (int, map[string]any) {
		req := httptest.NewRequest("POST", "/api/v1/tenants/contoso/reports/verify", strings.NewReader(string(pdf)))
		req.Header.Set("Authorization", "Bearer "+f.tokens[access.Auditor])
		req.Header.Set("Content-Type", "application/pdf")
		rw := httptest.NewRecorder()
		f.h.ServeHTTP(rw, req)
		var out map[string]any
		json.Unmarshal(rw.Body.Bytes(), &out)
		return rw.Code, out
	}
	if code, out := verify(dl.Body.Bytes()); code != 200 || out["valid"] != true {
		t.Errorf("verify the report: %d %v", code, out)
	}
	forged := append([]byte(nil), dl.Body.Bytes()...)
	i := strings.Index(string(forged), "Holdfast")
	forged[i] = 'h'
	if code, out := verify(forged); code != 200 || out["valid"] != false {
		t.Errorf("verify a changed report: %d %v, want valid false", code, out)
	}
	// A report changed on disk after it was issued is not served.
	os.WriteFile(rec.File, forged, 0o644)
	if w := f.do(access.Auditor, "GET", "/api/v1/tenants/contoso/reports/"+rec.SHA256, nil); w.Code != 500 || !strings.Contains(w.Body.String(), "the log recorded") {
		t.Errorf("download of a changed report: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Auditor, "GET", "/api/v1/tenants/contoso/reports/"+strings.Repeat("0", 64), nil); w.Code != 404 {
		t.Errorf("an unknown report: %d", w.Code)
	}
}

// addMail logs a captured message of account in tenant.
func addMail(t *testing.T, f *fixture, tenant, account, subject string) {
	t.Helper()
	ctx := context.Background()
	s, err := f.app.Open(ctx, tenant, app.Write)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	msg := "From: bob@fabrikam.example\r\nTo: " + account + "\r\nSubject: " + subject + "\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + subject + "@x>\r\n\r\nPlease pay the " + subject + ".\r\n"
	ref, err := s.PutBytes(ctx, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	v := record.ItemVersion{Account: account, AccountID: "u-" + account, Workload: holdfast.Mail, Item: "AAMk-" + subject, Path: "Inbox", Stream: "s", Run: "r", Change: "c",
		Mail: &record.MessageMeta{Subject: subject, From: "bob@fabrikam.example", To: []string{account}, Received: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}}
	if _, err := s.Append(ctx, record.TypeItemVersion, v, ref); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExportsThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	f.srv.exportWait = time.Minute // answered when written (the background case is the next test)
	addMail(t, f, "contoso", "ann@contoso.example", "invoice")
	if w := f.do(access.Legal, "POST", "/api/v1/tenants/contoso/holds", map[string]any{"case": "Smith", "custodians": []string{"ann@contoso.example"}, "reason": "litigation"}); w.Code != 201 {
		t.Fatalf("hold: %d %s", w.Code, w.Body)
	}
	w := f.do(access.Legal, "POST", "/api/v1/tenants/contoso/exports", map[string]any{"case": "Smith", "query": "invoice"})
	var out struct {
		ID     string
		Export struct {
			SHA256 string `json:"package_sha256"`
		}
	}
	if json.Unmarshal(w.Body.Bytes(), &out); w.Code != 201 || out.ID == "" {
		t.Fatalf("export: %d %s", w.Code, w.Body)
	}
	var list struct{ Exports []struct{ ID string } }
	json.Unmarshal(f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports", nil).Body.Bytes(), &list)
	if len(list.Exports) != 1 || list.Exports[0].ID != out.ID {
		t.Errorf("list: %+v", list)
	}
	dl := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports/"+out.ID, nil)
	sum := sha256.Sum256(dl.Body.Bytes())
	if dl.Code != 200 || hex.EncodeToString(sum[:]) != out.Export.SHA256 {
		t.Fatalf("download: %d, sha256 %x, want %s", dl.Code, sum, out.Export.SHA256)
	}
	// An export another tenant's user guesses is not there.
	if w := f.do(access.Legal, "GET", "/api/v1/tenants/fabrikam/exports/"+out.ID, nil); w.Code != 404 {
		t.Errorf("another tenant's export: %d", w.Code)
	}
	// A zip dropped into the directory without an export record is not served.
	stray := filepath.Join(f.app.Data().Dir, "exports", "contoso", "20261206T000000Z-0123456789abcdef.zip")
	os.WriteFile(stray, []byte("PK"), 0o644)
	if w := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports/20261206T000000Z-0123456789abcdef", nil); w.Code != 404 {
		t.Errorf("an unlogged zip: %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{"..%2F..%2Faccess.json", "x", "20261206T000000Z-0123456789abcdeg"} {
		if w := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports/"+bad, nil); w.Code != 400 && w.Code != 404 {
			t.Errorf("export id %q: %d", bad, w.Code)
		}
	}
}

func TestUsersAndTokensThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	if w := f.do(access.Admin, "POST", "/api/v1/users", map[string]any{"name": "legal2", "role": "legal", "tenants": []string{"contoso"}, "password": "another long password"}); w.Code != 201 {
		t.Fatalf("add user: %d %s", w.Code, w.Body)
	}
	w := f.do(access.Admin, "POST", "/api/v1/tokens", map[string]any{"user": "legal2", "name": "review tool", "expires_days": 7})
	var out struct {
		Token string
		About struct{ ID string }
	}
	if json.Unmarshal(w.Body.Bytes(), &out); w.Code != 201 || out.Token == "" {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	f.tokens["legal2"] = out.Token
	if w := f.do("legal2", "GET", "/api/v1/tenants/contoso/holds", nil); w.Code != 200 {
		t.Errorf("the new token: %d %s", w.Code, w.Body)
	}
	if w := f.do(access.Admin, "GET", "/api/v1/users", nil); strings.Contains(w.Body.String(), "argon2id") {
		t.Errorf("users shows password hashes: %s", w.Body)
	}
	if w := f.do(access.Admin, "DELETE", "/api/v1/tokens/"+out.About.ID, nil); w.Code != 204 {
		t.Errorf("revoke: %d %s", w.Code, w.Body)
	}
	if w := f.do("legal2", "GET", "/api/v1/tenants/contoso/holds", nil); w.Code != 401 {
		t.Errorf("a revoked token: %d", w.Code)
	}
}

func TestRestoreToAZipThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	addMail(t, f, "contoso", "ann@contoso.example", "invoice")
	w := f.do(access.Admin, "POST", "/api/v1/tenants/contoso/restores/zip", map[string]any{"account": "ann@contoso.example", "workload": "mail"})
	var out struct {
		ID      string
		Restore struct{ Items int }
	}
	if json.Unmarshal(w.Body.Bytes(), &out); w.Code != 201 || out.ID == "" || out.Restore.Items != 1 {
		t.Fatalf("restore to a zip: %d %s", w.Code, w.Body)
	}
	dl := f.do(access.Admin, "GET", "/api/v1/tenants/contoso/restores/"+out.ID, nil)
	if dl.Code != 200 || !strings.HasPrefix(dl.Body.String(), "PK") || !strings.Contains(dl.Body.String(), "MANIFEST.json") {
		t.Errorf("download: %d, %d bytes", dl.Code, dl.Body.Len())
	}
	if w := f.do(access.Technician, "POST", "/api/v1/tenants/contoso/restores", map[string]any{"account": "ann@contoso.example"}); w.Code != 400 || !strings.Contains(w.Body.String(), "no connection") {
		t.Errorf("into the tenant without a connection: %d %s", w.Code, w.Body)
	}
}

// TestLongExportRunsInTheBackground: an export that does not end within
// the wait is answered 202; its status tells its progress and then its
// result, and the package downloads once done.
func TestLongExportRunsInTheBackground(t *testing.T) {
	f := newFixture(t)
	f.srv.exportWait = 0
	for i := 0; i < 5; i++ {
		addMail(t, f, "contoso", "ann@contoso.example", fmt.Sprint("invoice ", i))
	}
	if w := f.do(access.Legal, "POST", "/api/v1/tenants/contoso/holds", map[string]any{"case": "Smith", "custodians": []string{"ann@contoso.example"}, "reason": "litigation"}); w.Code != 201 {
		t.Fatalf("hold: %d %s", w.Code, w.Body)
	}
	w := f.do(access.Legal, "POST", "/api/v1/tenants/contoso/exports", map[string]any{"case": "Smith", "query": "invoice"})
	var x job
	if err := json.Unmarshal(w.Body.Bytes(), &x); err != nil || w.Code != http.StatusAccepted || x.Status != "running" || !strings.HasSuffix(w.Header().Get("Location"), "/exports/"+x.ID+"/status") {
		t.Fatalf("a long export: %d %s %v, want 202 running with its status's location", w.Code, w.Body, w.Header())
	}
	for deadline := time.Now().Add(30 * time.Second); x.Status == "running"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the export did not end")
		}
		w := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports/"+x.ID+"/status", nil)
		x = job{}
		if err := json.Unmarshal(w.Body.Bytes(), &x); err != nil || w.Code != http.StatusOK {
			t.Fatalf("status: %d %s", w.Code, w.Body)
		}
	}
	if x.Status != "done" || x.Total != 5 || x.Done != 5 || x.Export == nil {
		t.Fatalf("the export ended %+v, want done with 5 of 5 versions read", x)
	}
	dl := f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports/"+x.ID, nil)
	if sum := sha256.Sum256(dl.Body.Bytes()); dl.Code != 200 || hex.EncodeToString(sum[:]) != x.Export.SHA256 {
		t.Errorf("download: %d, sha256 %x, want %s", dl.Code, sum, x.Export.SHA256)
	}
	if w := f.do(access.Legal, "GET", "/api/v1/tenants/fabrikam/exports/"+x.ID+"/status", nil); w.Code != http.StatusNotFound {
		t.Errorf("another tenant's export status: %d, want 404", w.Code)
	}
	// A failing export is told as failed, with the reason.
	w = f.do(access.Legal, "POST", "/api/v1/tenants/contoso/exports", map[string]any{"case": "Nosuch", "query": "invoice"})
	json.Unmarshal(w.Body.Bytes(), &x)
	for deadline := time.Now().Add(30 * time.Second); x.Status == "running" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		json.Unmarshal(f.do(access.Legal, "GET", "/api/v1/tenants/contoso/exports/"+x.ID+"/status", nil).Body.Bytes(), &x)
	}
	if x.Status != "failed" || !strings.Contains(x.Error, "no case") {
		t.Errorf("an export of no case: %+v, want failed naming it", x)
	}
}
