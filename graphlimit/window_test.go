package graphlimit

import (
	"net/url"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

func TestAllowIsASlidingWindow(t *testing.T) {
	w := NewWindow(10, 10*time.Second, 10, 0)
	for i := 0; i < 10; i++ {
		if ok, _ := w.Allow(t0.Add(time.Duration(i)*100*time.Millisecond), 1); !ok {
			t.Fatalf("request %d of 10 refused", i+1)
		}
	}
	ok, after := w.Allow(t0.Add(time.Second), 1)
	if ok {
		t.Fatal("the 11th request in 10 s was admitted")
	}
	if want := 9 * time.Second; after != want {
		t.Errorf("retry after: got %v, want %v", after, want)
	}
	if ok, _ := w.Allow(t0.Add(9999*time.Millisecond), 1); ok {
		t.Error("admitted before the first requests' slot left the window")
	}
	if ok, _ := w.Allow(t0.Add(10*time.Second), 1); !ok {
		t.Error("refused once the first requests left the window")
	}
}

func TestAllowSpreadOut(t *testing.T) {
	// One request a second for a minute against 10 per 10 s: never refused.
	w := NewWindow(10, 10*time.Second, 10, 0)
	for i := 0; i < 60; i++ {
		if ok, _ := w.Allow(t0.Add(time.Duration(i)*time.Second), 1); !ok {
			t.Fatalf("request at %ds refused", i)
		}
	}
}

// TestReservationsStayWithinTheServersWindow: a client reserving 1,000
// requests as fast as it can, sending each when its reservation says (and
// arriving up to one slot later), is never refused by a server enforcing
// the same limit, and is not slower than the limit allows by more than the
// lag.
func TestReservationsStayWithinTheServersWindow(t *testing.T) {
	for _, cost := range []float64{1, 2} {
		client := NewWindow(100, 10*time.Second, 100, 1)
		server := NewWindow(100, 10*time.Second, 100, 0)
		now := t0
		for i := 0; i < 1000; i++ {
			wait := client.Reserve(now, cost)
			send := now.Add(wait)
			if ok, after := server.Allow(send.Add(90*time.Millisecond), cost); !ok {
				t.Fatalf("cost %v: request %d refused (retry after %v)", cost, i, after)
			}
		}
		last := client.start(client.last)
		n := 1000 * cost / 100 // windows' worth of units
		lower := time.Duration(n-1) * 10 * time.Second
		if got := last.Sub(t0); got < lower || got > lower*103/100+time.Second {
			t.Errorf("cost %v: the last request went at %v, want about %v", cost, got, lower)
		}
	}
}

func TestCosts(t *testing.T) {
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	for _, c := range []struct {
		name  string
		parts []string
		q     url.Values
		sp    float64
	}{
		{"initial delta", []string{"drives", "d", "items", "root", "delta()"}, q(""), 2},
		{"delta with a token", []string{"drives", "d", "items", "root", "delta()"}, q("token=abc"), 1},
		{"delta page", []string{"drives", "d", "items", "root", "delta()"}, q("$skiptoken=abc"), 1},
		{"download", []string{"download", "tok"}, q(""), 1},
		{"children", []string{"drives", "d", "items", "x", "children"}, q(""), 2},
		{"permissions", []string{"drives", "d", "items", "x"}, q("$expand=permissions"), 5},
		{"one item", []string{"drives", "d", "items", "x"}, q(""), 1},
	} {
		if got := SharePointCost(c.parts, c.q); got != c.sp {
			t.Errorf("SharePoint %s: got %v, want %v", c.name, got, c.sp)
		}
	}
	for _, c := range []struct {
		parts []string
		q     url.Values
		want  float64
	}{
		{[]string{"users"}, q(""), 2},
		{[]string{"users"}, q("$select=id"), 1},
		{[]string{"users"}, q("$select=id&$top=10"), 1},
		{[]string{"groups"}, q("$expand=members"), 2},
		{[]string{"groups"}, q("$top=5"), 1},
	} {
		if got := DirectoryCost(c.parts, c.q); got != c.want {
			t.Errorf("directory %v %v: got %v, want %v", c.parts, c.q, got, c.want)
		}
	}
	if SharePointUnits(15) != 1200 || SharePointUnits(2000) != 2400 || SharePointUnits(60000) != 6000 {
		t.Error("SharePoint units by licences")
	}
	if DirectoryUnits(15) != 3500 || DirectoryUnits(50) != 5000 || DirectoryUnits(501) != 8000 {
		t.Error("directory units by users")
	}
}

// Limits by tenant size: what is set stays, the rest follows Microsoft's
// tiers.
func TestWithDefaults(t *testing.T) {
	l := Limits{SharePointUnits: 10}.WithDefaults(2000, 600)
	if l.SharePointUnits != 10 || l.DirectoryUnits != 8000 || l.MailboxRequests != MailboxRequests || l.Scale != 1 {
		t.Errorf("got %+v", l)
	}
	if l := (Limits{}).WithDefaults(2000, 2100); l.SharePointUnits != 2400 || l.DirectoryUnits != 8000 {
		t.Errorf("2,000 licences, 2,100 users: got %+v", l)
	}
}
