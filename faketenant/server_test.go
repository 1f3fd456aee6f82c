package faketenant

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type client struct {
	t     *testing.T
	http  *http.Client
	info  Info
	token string
}

func start(t *testing.T, o Options) (*Server, *client) {
	t.Helper()
	s, err := New(o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &client{t: t, info: info, http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return s, c
}

func (c *client) getToken(id, secret string) (int, map[string]any) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := c.http.PostForm(c.info.LoginEndpoint+"/"+c.info.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func (c *client) get(u string, out any) int {
	c.t.Helper()
	if !strings.HasPrefix(u, "https://") {
		u = c.info.GraphEndpoint + "/v1.0" + u
	}
	req, _ := http.NewRequest("GET", u, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			if bp, ok := out.(*[]byte); ok {
				*bp = b
			} else {
				c.t.Fatalf("GET %s: %v: %s", u, err, b)
			}
		}
	}
	return resp.StatusCode
}

type page struct {
	Value     []map[string]any `json:"value"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
	Error     struct{ Code string }
}

func TestTokenFlow(t *testing.T) {
	_, c := start(t, Options{})
	tests := []struct {
		name, id, secret string
		status           int
		want             string
	}{
		{"good", c.info.ClientID, c.info.ClientSecret, 200, ""},
		{"wrong secret", c.info.ClientID, "nope", 401, "AADSTS7000215"},
		{"unknown client", "00000000-0000-0000-0000-000000000000", c.info.ClientSecret, 400, "AADSTS700016"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.getToken(tt.id, tt.secret)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", status, tt.status, body)
			}
			if tt.want != "" && !strings.Contains(body["error_description"].(string), tt.want) {
				t.Errorf("error_description = %v, want %s", body["error_description"], tt.want)
			}
		})
	}
	var p page
	if got := c.get("/users", &p); got != 401 {
		t.Errorf("GET /users without a token = %d, want 401", got)
	}
}

func TestUsersPagingAndDeleted(t *testing.T) {
	s, c := start(t, Options{PageSize: 4})
	_, tok := c.getToken(c.info.ClientID, c.info.ClientSecret)
	c.token = tok["access_token"].(string)
	var users []map[string]any
	next := "/users?$select=id,userPrincipalName,accountEnabled"
	pages := 0
	for next != "" {
		var p page
		if st := c.get(next, &p); st != 200 {
			t.Fatalf("GET %s = %d", next, st)
		}
		users = append(users, p.Value...)
		next = p.NextLink
		pages++
	}
	// 14 employees not deleted, a shared mailbox, a room and a guest.
	if len(users) != 17 || pages != 5 {
		t.Errorf("users = %d in %d pages, want 17 in 5", len(users), pages)
	}
	if _, ok := users[0]["displayName"]; ok {
		t.Error("$select did not restrict properties")
	}
	var del page
	c.get("/directory/deletedItems/microsoft.graph.user", &del)
	if len(del.Value) != 1 || del.Value[0]["deletedDateTime"] == nil {
		t.Errorf("deleted users = %v", del.Value)
	}
	if len(s.Info().Departed) != 3 {
		t.Errorf("departed = %v, want 3", s.Info().Departed)
	}
}

func TestMessagesDelta(t *testing.T) {
	s, c := start(t, Options{PageSize: 5})
	_, tok := c.getToken(c.info.ClientID, c.info.ClientSecret)
	c.token = tok["access_token"].(string)
	user := c.info.Users[0]
	var folders page
	c.get("/users/"+user+"/mailFolders", &folders)
	var inbox string
	for _, f := range folders.Value {
		if f["displayName"] == "Inbox" {
			inbox = f["id"].(string)
		}
	}
	sync := func(link string) (ids map[string]bool, removed []string, delta string) {
		ids = map[string]bool{}
		for link != "" {
			var p page
			if st := c.get(link, &p); st != 200 {
				t.Fatalf("GET %s = %d %s", link, st, p.Error.Code)
			}
			for _, v := range p.Value {
				if _, ok := v["@removed"]; ok {
					removed = append(removed, v["id"].(string))
				} else {
					ids[v["id"].(string)] = true
					// The $select of the first request holds in every
					// link Graph returns: no body, the subject, and the
					// annotations whatever was selected.
					if _, ok := v["body"]; ok {
						t.Errorf("a delta asked with $select=subject returned the body")
					}
					if v["subject"] == nil || v["@odata.etag"] == nil {
						t.Errorf("a delta asked with $select=subject: subject %v, @odata.etag %v", v["subject"], v["@odata.etag"])
					}
				}
			}
			link, delta = p.NextLink, p.DeltaLink
		}
		return
	}
	first, _, delta := sync("/users/" + user + "/mailFolders/" + inbox + "/messages/delta()?$select=subject")
	want := 0
	for _, it := range s.Truth() {
		if it.Account == user && it.Path == "Inbox" {
			want++
		}
	}
	if len(first) != want || delta == "" {
		t.Fatalf("initial sync: %d messages, delta %q; want %d", len(first), delta, want)
	}
	// Nothing changed: an empty round.
	again, removed, delta2 := sync(delta)
	if len(again) != 0 || len(removed) != 0 {
		t.Errorf("delta with no changes returned %d items, %d removed", len(again), len(removed))
	}
	// MIME is served as stored.
	var mime []byte
	for id := range first {
		c.get("/users/"+user+"/messages/"+id+"/$value", &mime)
		// Without $select a message carries its whole body.
		var m struct{ Body struct{ Content string } }
		c.get("/users/"+user+"/messages/"+id, &m)
		if !strings.Contains(m.Body.Content, "Kind regards,") {
			t.Errorf("message body = %.80q…, want the whole text", m.Body.Content)
		}
		break
	}
	if !strings.HasPrefix(string(mime), "From: ") || !strings.Contains(string(mime), "\r\n") {
		t.Errorf("MIME = %.60q", mime)
	}
	if _, err := s.Mutate(Mutation{Scenario: "activity", User: user}); err != nil {
		t.Fatal(err)
	}
	changed, removed, _ := sync(delta2)
	if len(changed) != 3 || len(removed) != 1 {
		t.Errorf("after activity: %d changed, %d removed; want 3 (2 new, 1 read) and 1", len(changed), len(removed))
	}
	// Expired tokens answer 410 syncStateNotFound.
	s.SetFaults(0, 0, 0, 1)
	var p page
	if st := c.get(delta2, &p); st != 410 || p.Error.Code != "syncStateNotFound" {
		t.Errorf("expired delta = %d %q, want 410 syncStateNotFound", st, p.Error.Code)
	}
}

func TestFaults(t *testing.T) {
	s, c := start(t, Options{Fault429: 1})
	_, tok := c.getToken(c.info.ClientID, c.info.ClientSecret)
	c.token = tok["access_token"].(string)
	req, _ := http.NewRequest("GET", c.info.GraphEndpoint+"/v1.0/users", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("status %d Retry-After %q, want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.SetFaults(0, 0, 1, 0)
	if _, err := c.http.Do(req); err == nil {
		t.Error("dropped connection fault returned a response")
	}
}

func TestDamagedAnswers(t *testing.T) {
	s, c := start(t, Options{FaultMalformed: 1})
	_, tok := c.getToken(c.info.ClientID, c.info.ClientSecret)
	c.token = tok["access_token"].(string)
	var raw []byte
	if st := c.get("/users", &raw); st != 200 || json.Valid(raw) {
		t.Errorf("malformed fault: status %d, body valid JSON: %v", st, json.Valid(raw))
	}
	s.SetDamage(0, 1, 0)
	var d map[string]any
	c.get("/users/"+c.info.Users[0]+"/drive", &d)
	var page map[string]any
	s.SetDamage(0, 0, 0)
	c.get("/drives/"+d["id"].(string)+"/items/root/delta()", &page)
	var file string
	for _, v := range page["value"].([]any) {
		if _, ok := v.(map[string]any)["file"]; ok {
			file = v.(map[string]any)["id"].(string)
			break
		}
	}
	req, _ := http.NewRequest("GET", c.info.GraphEndpoint+"/v1.0/drives/"+d["id"].(string)+"/items/"+file+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil || resp.StatusCode != 302 {
		t.Fatalf("content: %v %v", err, resp)
	}
	s.SetDamage(0, 1, 0)
	dl, err := c.http.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(dl.Body)
	if err == nil {
		t.Error("a short body was read without error")
	}
	if s.Stats().Short == 0 || s.Stats().Malformed == 0 {
		t.Errorf("stats = %+v", s.Stats())
	}
}
