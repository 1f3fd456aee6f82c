package graph

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Budget is a request rate a class of Graph requests may use: Rate
// requests per second with bursts of Burst.
type Budget struct {
	Rate  float64
	Burst float64
}

// DefaultBudgets follow Microsoft's published service limits, so that a
// backup stays under them instead of living on 429s: Outlook allows 10,000
// requests per 10 minutes per mailbox per app (mail, calendars, contacts
// are budgeted per mailbox); the other classes are tenant-wide and
// conservative. A zero Rate means unlimited.
var DefaultBudgets = map[string]Budget{
	"exchange":   {Rate: 10000.0 / 600, Burst: 200},
	"sharepoint": {Rate: 100, Burst: 200},
	"teams":      {Rate: 30, Burst: 60},
	"directory":  {Rate: 50, Burst: 100},
}

type bucket struct {
	tokens float64
	last   time.Time
}

// budgets meters requests per class (and per mailbox for Exchange).
type budgets struct {
	limits  map[string]Budget
	mu      sync.Mutex
	buckets map[string]*bucket
}

func newBudgets(limits map[string]Budget) *budgets {
	return &budgets{limits: limits, buckets: map[string]*bucket{}}
}

// classify names the budget a request draws from: exchange:USER for a
// mailbox's mail, calendars and contacts; sharepoint for drives, sites and
// file downloads;
// teams for teams and chats; directory for the rest.
func budgetClass(path string) (class, key string) {
	p := strings.Split(strings.Trim(path, "/"), "/")
	if len(p) > 0 && p[0] == "v1.0" {
		p = p[1:]
	}
	switch {
	case len(p) >= 3 && p[0] == "users":
		switch p[2] {
		case "messages", "mailFolders", "calendars", "events", "contacts", "contactFolders", "mailboxSettings":
			return "exchange", "exchange:" + p[1]
		case "drive":
			return "sharepoint", "sharepoint"
		case "chats":
			return "teams", "teams"
		}
	case len(p) >= 1 && (p[0] == "drives" || p[0] == "sites" || p[0] == "download"):
		return "sharepoint", "sharepoint"
	case len(p) >= 1 && (p[0] == "teams" || p[0] == "chats"):
		return "teams", "teams"
	}
	return "directory", "directory"
}

// wait blocks until the request's budget has a token; it returns how long
// it waited.
func (b *budgets) wait(ctx context.Context, path string) (time.Duration, error) {
	if b == nil {
		return 0, nil
	}
	class, key := budgetClass(path)
	lim, ok := b.limits[class]
	if !ok || lim.Rate <= 0 {
		return 0, nil
	}
	b.mu.Lock()
	bk := b.buckets[key]
	now := time.Now()
	if bk == nil {
		bk = &bucket{tokens: lim.Burst, last: now}
		b.buckets[key] = bk
	}
	bk.tokens = min(lim.Burst, bk.tokens+now.Sub(bk.last).Seconds()*lim.Rate)
	bk.last = now
	bk.tokens--
	var d time.Duration
	if bk.tokens < 0 {
		d = time.Duration(-bk.tokens / lim.Rate * float64(time.Second))
	}
	b.mu.Unlock()
	if d <= 0 {
		return 0, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return d, nil
	case <-ctx.Done():
		return d, ctx.Err()
	}
}
