package ingest

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/holdfast/holdfast"
)

// Progress is where a run stands: what it captured, per account what is
// done and what remains, and an estimate of the time left once the counts
// are known (a first backup knows its mailboxes' item counts; an
// incremental run cannot know how much changed until it has looked).
type Progress struct {
	Counts
	Phase        string            `json:"phase"` // accounts, sharepoint, teams, finishing
	ElapsedS     float64           `json:"elapsed_s"`
	Accounts     int               `json:"accounts"` // accounts to back up
	AccountsDone int               `json:"accounts_done"`
	Running      int               `json:"running"`
	MailExpected int64             `json:"mail_expected,omitempty"` // messages the mailboxes hold, as their folders count them
	MailSeen     int64             `json:"mail_seen"`               // messages looked at so far
	RemainingS   float64           `json:"remaining_s,omitempty"`   // estimate, from the mail done and to do
	PerAccount   []AccountProgress `json:"per_account,omitempty"`   // largest first
	Throttled    float64           `json:"throttled_s,omitempty"`   // time requests waited on Graph's throttling answers
}

// AccountProgress is one account's part of a run.
type AccountProgress struct {
	Account      string `json:"account"`
	State        string `json:"state"` // queued, running, done
	MailSeen     int64  `json:"mail_seen"`
	MailExpected int64  `json:"mail_expected,omitempty"`
}

// Account states in Progress.
const (
	AccountQueued  = "queued"
	AccountRunning = "running"
	AccountDone    = "done"
)

// tracker follows a run's accounts for Progress.
type tracker struct {
	mu       sync.Mutex
	phase    string
	order    []*accountTrack // largest first
	byID     map[string]*accountTrack
	expected int64
}

type accountTrack struct {
	upn      string
	state    atomic.Value // string
	mailSeen atomic.Int64
	expected int64 // set under tracker.mu
}

func newTracker() *tracker {
	return &tracker{phase: "accounts", byID: map[string]*accountTrack{}}
}

func (t *tracker) add(a holdfast.Account) {
	at := &accountTrack{upn: a.UPN}
	at.state.Store(AccountQueued)
	t.mu.Lock()
	t.order = append(t.order, at)
	t.byID[a.ID] = at
	t.mu.Unlock()
}

// expect sets how many messages an account's mailbox holds.
func (t *tracker) expect(accountID string, n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at := t.byID[accountID]; at != nil {
		t.expected += n - at.expected
		at.expected = n
	}
}

// reorder lists the accounts in the order they are started.
func (t *tracker) reorder(accounts []holdfast.Account) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.order = t.order[:0]
	for _, a := range accounts {
		if at := t.byID[a.ID]; at != nil {
			t.order = append(t.order, at)
		}
	}
}

func (t *tracker) account(id string) *accountTrack {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

func (t *tracker) setPhase(p string) {
	t.mu.Lock()
	t.phase = p
	t.mu.Unlock()
}

// seen counts a message looked at in an account's mailbox: captured, or
// already held.
func (t *tracker) seen(accountID string) {
	if at := t.account(accountID); at != nil {
		at.mailSeen.Add(1)
	}
}

// sizes is what each account's mailbox holds, as far as the survey knows.
func (t *tracker) sizes() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.byID))
	for id, at := range t.byID {
		out[id] = at.expected
	}
	return out
}

func (t *tracker) state(accountID, s string) {
	if at := t.account(accountID); at != nil {
		at.state.Store(s)
	}
}

// snapshot is the run's Progress now.
func (t *tracker) snapshot(c Counts, elapsed time.Duration) Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := Progress{Counts: c, Phase: t.phase, ElapsedS: elapsed.Seconds(), Accounts: len(t.order), MailExpected: t.expected}
	for _, at := range t.order {
		ap := AccountProgress{Account: at.upn, State: at.state.Load().(string), MailSeen: at.mailSeen.Load(), MailExpected: at.expected}
		switch ap.State {
		case AccountDone:
			p.AccountsDone++
		case AccountRunning:
			p.Running++
		}
		p.MailSeen += ap.MailSeen
		p.PerAccount = append(p.PerAccount, ap)
	}
	if p.MailExpected > 0 && p.MailSeen > 0 && p.Phase == "accounts" {
		left := max(p.MailExpected-p.MailSeen, 0)
		p.RemainingS = elapsed.Seconds() * float64(left) / float64(p.MailSeen)
	}
	return p
}

// largestFirst orders accounts by the messages their mailboxes hold,
// largest first (by UPN among equals), so that a run does not end with one
// huge mailbox going on alone.
func largestFirst(accounts []holdfast.Account, size map[string]int64) {
	sort.SliceStable(accounts, func(i, j int) bool {
		si, sj := size[accounts[i].ID], size[accounts[j].ID]
		if si != sj {
			return si > sj
		}
		return accounts[i].UPN < accounts[j].UPN
	})
}
