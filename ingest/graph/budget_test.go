package graph

import (
	"context"
	"testing"
	"time"
)

func TestBudgetClass(t *testing.T) {
	for path, want := range map[string]string{
		"/v1.0/users/u1/mailFolders/x/messages/delta()": "exchange:u1",
		"/v1.0/users/u1/messages/m/$value":              "exchange:u1",
		"/v1.0/users/u2/calendars/c/events/delta()":     "exchange:u2",
		"/v1.0/users/u1/drive":                          "sharepoint",
		"/v1.0/drives/d/items/root/delta()":             "sharepoint",
		"/v1.0/sites":                                   "sharepoint",
		"/v1.0/teams/t/channels":                        "teams",
		"/v1.0/users/u1/chats":                          "teams",
		"/v1.0/users":                                   "directory",
		"/download/abc":                                 "sharepoint",
		"/v1.0/groups":                                  "directory",
	} {
		if _, got := budgetClass(path); got != want {
			t.Errorf("budgetClass(%q) = %q, want %q", path, got, want)
		}
	}
}

// A budget spaces requests out once its burst is spent: 5 requests at 10/s
// with a burst of 2 need at least 0.3 s of waiting, and other mailboxes'
// budgets are untouched.
func TestBudgetWaits(t *testing.T) {
	b := newBudgets(map[string]Budget{"exchange": {Rate: 10, Burst: 2}})
	var waited time.Duration
	for i := 0; i < 5; i++ {
		d, err := b.wait(context.Background(), "/v1.0/users/a/messages")
		if err != nil {
			t.Fatal(err)
		}
		waited += d
	}
	if waited < 250*time.Millisecond {
		t.Errorf("5 requests at 10/s, burst 2: waited %v, want at least 0.3 s", waited)
	}
	if d, _ := b.wait(context.Background(), "/v1.0/users/b/messages"); d != 0 {
		t.Errorf("another mailbox waited %v on the first mailbox's budget", d)
	}
	if d, _ := b.wait(context.Background(), "/v1.0/teams"); d != 0 {
		t.Errorf("an unbudgeted class waited %v", d)
	}
}
