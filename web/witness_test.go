package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/holdfast/holdfast/access"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/witness"
)

// TestWitnessesAPI: an admin adds a witness, which cosigns at once; an
// auditor reads where it stands; a technician may not remove it; the
// admin does, and the change is in the log.
func TestWitnessesAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := f.app.Open(ctx, "contoso", app.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.Config()
	s.Close(ctx)
	dir := t.TempDir()
	skey, vkey, _ := witness.GenerateKey("w.example/api")
	signer, _ := witness.ParseSignerKey(skey, nil)
	if err := witness.AddLog(filepath.Join(dir, "w"), cfg.Origin, cfg.LogKey); err != nil {
		t.Fatal(err)
	}
	w, err := witness.Open(filepath.Join(dir, "w"), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	hs := httptest.NewServer(w)
	defer hs.Close()

	path := "/api/v1/tenants/contoso/witnesses"
	if r := f.do(access.Technician, "POST", path, map[string]string{"url": hs.URL, "vkey": vkey}); r.Code != http.StatusForbidden {
		t.Errorf("a technician adding a witness: %d", r.Code)
	}
	if r := f.do(access.Admin, "POST", path, map[string]string{"url": hs.URL, "vkey": "nonsense"}); r.Code != http.StatusBadRequest {
		t.Errorf("a malformed vkey: %d %s", r.Code, r.Body)
	}
	r := f.do(access.Admin, "POST", path, map[string]string{"url": hs.URL, "vkey": vkey})
	if r.Code != http.StatusCreated {
		t.Fatalf("add: %d %s", r.Code, r.Body)
	}
	r = f.do(access.Auditor, "GET", path, nil)
	var got struct {
		Witnesses []struct {
			Name     string `json:"name"`
			Cosigned uint64 `json:"cosigned_size"`
			Latest   uint64 `json:"checkpoint_size"`
		} `json:"witnesses"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &got); err != nil || len(got.Witnesses) != 1 {
		t.Fatalf("list: %d %s", r.Code, r.Body)
	}
	if ws := got.Witnesses[0]; ws.Name != "w.example/api" || ws.Cosigned == 0 || ws.Cosigned != ws.Latest {
		t.Errorf("the witness's status: %+v; want the newest checkpoint cosigned", ws)
	}
	del := path + "?name=" + url.QueryEscape("w.example/api")
	if r := f.do(access.Technician, "DELETE", del, nil); r.Code != http.StatusForbidden {
		t.Errorf("a technician removing a witness: %d", r.Code)
	}
	if r := f.do(access.Admin, "DELETE", del, nil); r.Code != http.StatusNoContent {
		t.Fatalf("remove: %d %s", r.Code, r.Body)
	}
	ws, err := f.app.Witnesses(ctx, "contoso")
	if err != nil || len(ws) != 0 {
		t.Errorf("after removal: %v, %v", ws, err)
	}
}
