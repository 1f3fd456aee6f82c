package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Accounts and the directory: who is captured, and who has left.

// noteGroups records the directory's groups when they changed.
func (r *runner) noteGroups(ctx context.Context) error {
	groups, err := r.src.Groups(ctx)
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Reason: "list groups: " + err.Error()})
		return nil
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	b, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if digest == r.state.groups {
		return nil
	}
	if _, err := r.st.Append(ctx, record.TypeGroups, record.Groups{Groups: groups, SHA256: digest, Run: r.id}); err != nil {
		return err
	}
	r.state.groups = digest
	return nil
}

// noteAccount records an account's state when it changed since the last run.
func (r *runner) noteAccount(ctx context.Context, a holdfast.Account) error {
	now := r.opts.Now().UTC()
	cur := a.State()
	kind := ""
	if !a.Employee() {
		kind = a.Kind
	}
	// The state remembered is the state with the kind: a room found to be
	// a room is recorded again, once.
	key := cur
	if kind != "" {
		key = cur + "/" + kind
	}
	prev, seen := r.state.accounts[a.ID]
	if a.Departed() {
		r.res.Departed = append(r.res.Departed, a.UPN)
	}
	if seen && prev == key {
		return nil
	}
	prevState, _, _ := strings.Cut(prev, "/")
	rec := record.AccountState{Account: a.UPN, AccountID: a.ID, State: cur, Kind: kind, Previous: prevState, FirstSeen: now}
	if _, err := r.st.Append(ctx, record.TypeAccountState, rec); err != nil {
		return err
	}
	if a.Departed() {
		rec.Reason = cur
		if a.Deleted != nil {
			rec.FirstSeen = a.Deleted.UTC()
		}
		if _, err := r.st.Append(ctx, record.TypeAccountDeparted, rec); err != nil {
			return err
		}
	}
	r.state.accounts[a.ID] = key
	return nil
}

func (r *runner) account(ctx context.Context, a holdfast.Account) error {
	for _, w := range r.opts.Workloads {
		switch w {
		case holdfast.Mail:
			if err := r.mailbox(ctx, a); err != nil {
				return err
			}
		case holdfast.OneDrive:
			if err := r.oneDrive(ctx, a); err != nil {
				return err
			}
		case holdfast.Calendar:
			if err := r.pim(ctx, a, holdfast.Calendar, r.src.Calendars, r.src.EventsDelta); err != nil {
				return err
			}
		case holdfast.Contacts:
			if err := r.pim(ctx, a, holdfast.Contacts, r.src.ContactFolders, r.src.ContactsDelta); err != nil {
				return err
			}
		case holdfast.Teams:
			if err := r.userChats(ctx, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// RefreshDirectory records the accounts whose state changed since the log
// last said (account.state, and account.departed for departures) without
// capturing anything, so that a departure is on record — and policies see
// it — before the next backup. It returns how many accounts changed.
func RefreshDirectory(ctx context.Context, src interface {
	Accounts(ctx context.Context) ([]holdfast.Account, error)
}, st Store, now time.Time) (int, error) {
	const op = "refresh directory"
	state, err := loadState(ctx, st)
	if err != nil {
		return 0, holdfast.E(op, err)
	}
	accounts, err := src.Accounts(ctx)
	if err != nil {
		return 0, holdfast.E(op, err)
	}
	r := &runner{st: st, state: state, opts: Options{Now: func() time.Time { return now }}, res: &Result{}}
	changed := 0
	for _, a := range accounts {
		prev, seen := state.accounts[a.ID]
		if err := r.noteAccount(ctx, a); err != nil {
			return changed, holdfast.E(op, err)
		}
		if !seen || prev != state.accounts[a.ID] {
			changed++
		}
	}
	if err := st.Flush(ctx); err != nil {
		return changed, holdfast.E(op, err)
	}
	return changed, nil
}

// Directory is what the accounts part reads of the tenant.
type Directory interface {
	// Accounts lists every user, soft-deleted ones included.
	Accounts(ctx context.Context) ([]holdfast.Account, error)
	// Groups lists every directory group.
	Groups(ctx context.Context) ([]Group, error)
}
