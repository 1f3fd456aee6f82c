package ingest

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Mail: a stream per mail folder, messages fetched as MIME.

// survey is an account's mail folders as listed before the accounts start.
type survey struct {
	done    chan struct{} // closed when folders and err are set
	folders []MailFolder
	err     error
}

// surveyWait is the longest a run waits for its mailboxes' folder lists
// before starting the accounts. Once 90 % of the lists have come, it waits
// at most as long again for the rest: a mailbox Graph is throttling must
// not hold back the others; it starts when its list comes, as if empty.
const surveyWait = 30 * time.Second

// survey lists every mailbox's folders before the accounts start, Accounts
// at a time: their item counts (told to the tracker) order the accounts
// largest first and give the run's progress its total. It returns once
// every list came, or as surveyWait says.
func (r *runner) survey(ctx context.Context, accounts []holdfast.Account) {
	if !slices.Contains(r.opts.Workloads, holdfast.Mail) || len(accounts) == 0 {
		return
	}
	var mu sync.Mutex
	all := make(chan struct{})
	most := make(chan struct{}) // closed when 90 % of the lists came
	need, came := (len(accounts)*9+9)/10, 0
	start := time.Now()
	r.mu.Lock()
	for _, a := range accounts {
		r.surveyed[a.ID] = &survey{done: make(chan struct{})}
	}
	r.mu.Unlock()
	go func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, r.opts.Accounts)
		for _, a := range accounts {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				folders, err := r.src.MailFolders(ctx, a.ID)
				var n int64
				for _, f := range folders {
					n += f.Items
				}
				r.mu.Lock()
				sv := r.surveyed[a.ID]
				sv.folders, sv.err = folders, err
				r.mu.Unlock()
				close(sv.done)
				r.track.expect(a.ID, n)
				mu.Lock()
				if came++; came == need {
					close(most)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(all)
	}()
	t := time.NewTimer(surveyWait)
	defer t.Stop()
	select {
	case <-all:
	case <-most:
		rest := time.NewTimer(max(time.Since(start), time.Second))
		defer rest.Stop()
		select {
		case <-all:
		case <-rest.C:
		case <-t.C:
		case <-ctx.Done():
		}
	case <-t.C:
	case <-ctx.Done():
	}
}

func (r *runner) mailbox(ctx context.Context, a holdfast.Account) error {
	r.mu.Lock()
	sv := r.surveyed[a.ID]
	r.mu.Unlock()
	var folders []MailFolder
	var err error
	if sv != nil {
		select {
		case <-sv.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.mu.Lock()
		folders, err = sv.folders, sv.err
		r.mu.Unlock()
	} else {
		folders, err = r.src.MailFolders(ctx, a.ID)
	}
	if errors.Is(err, ErrGone) {
		return nil // no mailbox (unlicensed, room, guest): nothing to capture
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: holdfast.Mail, Reason: "list mail folders: " + err.Error()})
		return nil
	}
	for _, f := range folders {
		if err := r.mailFolder(ctx, a, f); err != nil {
			return err
		}
	}
	return nil
}

// mailFolder runs one mail folder's stream.
func (r *runner) mailFolder(ctx context.Context, a holdfast.Account, f MailFolder) error {
	key := streamKey(holdfast.Mail, a.ID, f.ID)
	return r.stream(ctx, a, holdfast.Mail, key, f.ID, f.Path, func(link string, seen map[string]bool, ok *bool) (string, error) {
		return r.src.MessagesDelta(ctx, a.ID, f.ID, link, func(changes []MessageChange) error {
			good, err := r.messagesPage(ctx, a, f, key, changes, seen)
			*ok = *ok && good
			return err
		})
	})
}

// messagesPage captures one delta page of a mail folder. It reports false
// when an item failed in a way that must be retried.
func (r *runner) messagesPage(ctx context.Context, a holdfast.Account, f MailFolder, key string, changes []MessageChange, seen map[string]bool) (bool, error) {
	var jobs []*download
	meta := map[string]MessageMeta{}
	for _, ch := range changes {
		r.mu.Lock()
		it := r.state.items[itemKey(holdfast.Mail, a.ID, ch.ID)]
		r.mu.Unlock()
		if ch.Removed {
			if it != nil && !it.deleted {
				if err := r.tombstone(ctx, a, holdfast.Mail, key, f.Path, ch.ID, "deleted"); err != nil {
					return false, err
				}
			}
			continue
		}
		seen[ch.ID] = true
		r.track.seen(a.ID)
		if it != nil && !it.deleted && it.change == ch.Meta.ChangeKey {
			continue // already captured: a rerun or a resync
		}
		meta[ch.ID] = ch.Meta
		jobs = append(jobs, &download{id: ch.ID, isNew: it == nil || it.deleted})
	}
	r.fetchAll(ctx, jobs, func(id string) (io.ReadCloser, error) { return r.src.MessageMIME(ctx, a.ID, id) })
	ok := true
	for _, j := range jobs {
		if j.err != nil {
			retry, err := r.failed(a, holdfast.Mail, f.Path, j)
			if err != nil {
				return false, err
			}
			ok = ok && !retry
			continue
		}
		m := meta[j.id]
		v := record.ItemVersion{Account: a.UPN, AccountID: a.ID, Workload: holdfast.Mail, Item: j.id, Path: f.Path, Stream: key, Run: r.id, Change: m.ChangeKey, Mail: &m}
		if err := r.recordVersion(ctx, v, j.isNew, j.ref); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// MailSource is what the mail part reads of the tenant.
type MailSource interface {
	// MailFolders lists every mail folder of a mailbox, child folders too.
	MailFolders(ctx context.Context, userID string) ([]MailFolder, error)
	// MessagesDelta follows a folder's message delta from link ("" for an
	// initial sync), calling page for each page, and returns the new delta
	// link.
	MessagesDelta(ctx context.Context, userID, folderID, link string, page func([]MessageChange) error) (string, error)
	// MessageMIME streams a message's MIME exactly as stored.
	MessageMIME(ctx context.Context, userID, messageID string) (io.ReadCloser, error)
}
