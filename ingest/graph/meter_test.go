package graph

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

func TestChargesByRequest(t *testing.T) {
	for _, c := range []struct {
		url, key string
	}{
		{"https://graph.microsoft.com/v1.0/users/u1/mailFolders/x/messages/delta()", "mailbox/u1"},
		{"https://graph.microsoft.com/v1.0/users/u2/messages/m/$value", "mailbox/u2"},
		{"https://graph.microsoft.com/v1.0/users/u1/drive", "sharepoint"},
		{"https://graph.microsoft.com/v1.0/teams/t/channels/c/messages", "teams/messages"},
		{"https://graph.microsoft.com/v1.0/users", "directory"},
		// A pre-authenticated download URL is SharePoint's, whatever its path.
		{"https://contoso.sharepoint.com/_layouts/15/download.aspx?UniqueId=x", "sharepoint"},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		if got := charges(req, "graph.microsoft.com"); got[0].Key != c.key {
			t.Errorf("%s: charged to %q, want %q", c.url, got[0].Key, c.key)
		}
	}
}

// At most 4 requests in flight per mailbox: a fifth waits until one ends;
// another mailbox does not wait.
func TestMeterMailboxConcurrency(t *testing.T) {
	m := newMeter(graphlimit.Limits{})
	ctx := context.Background()
	a := []graphlimit.Charge{{Service: graphlimit.Exchange, Key: "mailbox/a", Cost: 1}}
	var releases []func()
	for i := 0; i < 4; i++ {
		r, err := m.acquire(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	got := make(chan func(), 1)
	go func() { r, _ := m.acquire(ctx, a); got <- r }()
	if _, err := m.acquire(ctx, []graphlimit.Charge{{Service: graphlimit.Exchange, Key: "mailbox/b", Cost: 1}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
		t.Fatal("a fifth request to one mailbox went while four were in flight")
	case <-time.After(100 * time.Millisecond):
	}
	releases[0]()
	releases[0]() // releasing twice frees one slot only
	select {
	case r := <-got:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the fifth request did not go when one ended")
	}
	m.mu.Lock()
	held := len(m.slots["mailbox/a"])
	m.mu.Unlock()
	if held != 3 {
		t.Errorf("slots held: got %d, want 3", held)
	}
}

// Once the tenant's size is known, its tenant-wide windows take the
// limits of its tier, and a figure set explicitly stays.
func TestMeterSized(t *testing.T) {
	m := newMeter(graphlimit.Limits{DirectoryUnits: 7})
	sp := []graphlimit.Charge{{Service: graphlimit.SharePoint, Key: "sharepoint", Cost: 1}}
	if _, err := m.acquire(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	m.sized(3000, 3200)
	if got := m.windows["sharepoint"].Limit(); got != 2400 {
		t.Errorf("SharePoint units for 3,000 licences: got %v, want 2,400", got)
	}
	if m.lim.DirectoryUnits != 7 {
		t.Errorf("directory units set to 7: got %d", m.lim.DirectoryUnits)
	}
}
