package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/holdfast/holdfast/alert"
)

func TestAlertWebhookFromTheCLI(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	var mu sync.Mutex
	var bodies [][]byte
	var sigs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, sigs = append(bodies, b), append(sigs, r.Header.Get("X-Holdfast-Signature"))
		mu.Unlock()
	}))
	defer srv.Close()
	var added struct{ ID, Secret, Destination string }
	jsonDoc(t, c.ok("alert", "webhook-add", srv.URL+"/hook/SECRETPATH", "--json"), &added)
	if added.Secret == "" || strings.Contains(added.Destination, "SECRETPATH") {
		t.Fatalf("webhook-add: %+v", added)
	}
	if out := c.ok("alert", "list"); strings.Contains(out, "SECRETPATH") || strings.Contains(out, added.Secret) || !strings.Contains(out, added.ID) {
		t.Errorf("alert list shows a secret, or not the webhook:\n%s", out)
	}
	out := c.ok("alert", "test", "--tenant", "contoso")
	if !strings.Contains(out, "ok") || len(bodies) != 1 {
		t.Fatalf("alert test: %q, %d deliveries", out, len(bodies))
	}
	if sigs[0] != alert.Signature(added.Secret, bodies[0]) {
		t.Errorf("signature %s does not match the secret webhook-add printed", sigs[0])
	}
	var e alert.Event
	if json.Unmarshal(bodies[0], &e) != nil || e.Tenant != "contoso" || e.Event != alert.JobFailed {
		t.Errorf("event: %s", bodies[0])
	}
	c.ok("alert", "webhook-remove", added.ID)
	if code, _, _ := c.run("alert", "test"); code != 0 {
		t.Errorf("alert test with no channel: exit %d", code)
	}
}
