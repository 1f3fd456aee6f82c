package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest/quickxor"
	"github.com/holdfast/holdfast/store"
)

// Options configure a backup run.
type Options struct {
	Workloads []holdfast.Workload
	// Accounts is how many mailboxes are backed up at once (default 4).
	Accounts int
	// PerMailbox bounds concurrent content downloads per mailbox; Graph
	// allows 4 concurrent requests per mailbox per app (default 4).
	PerMailbox int
	Now        func() time.Time
	// Progress, if set, is called after each page with running totals,
	// from the run's workers: concurrently.
	Progress func(Counts)
	// Throttled reports the time spent waiting on throttling so far.
	Throttled func() time.Duration
	// CommitInterval is how often finished folders' delta links are made
	// durable (default 2s; they always are at the end of a run).
	CommitInterval time.Duration
}

// Counts are a run's totals, overall or for one workload.
type Counts struct {
	ItemsNew     int   `json:"items_new"`
	ItemsChanged int   `json:"items_changed"`
	ItemsDeleted int   `json:"items_deleted"`
	Bytes        int64 `json:"bytes"`
}

// Result is a run's outcome, as backup --json prints it.
type Result struct {
	Run         string                       `json:"run"`
	Status      string                       `json:"status"` // completed, completed_with_failures, failed
	Error       string                       `json:"error,omitempty"`
	Accounts    int                          `json:"accounts"`
	Departed    []string                     `json:"departed"`
	Counts                                   // items_new, items_changed, items_deleted, bytes
	FailedItems []FailedItem                 `json:"failed_items"`
	Workloads   map[holdfast.Workload]Counts `json:"workloads"`
	Resyncs     int                          `json:"resyncs"`
	ThrottledS  float64                      `json:"throttled_s"`
	DurationS   float64                      `json:"duration_s"`
	Checkpoint  *CheckpointInfo              `json:"checkpoint,omitempty"`
}

// CheckpointInfo names the checkpoint a run ended with.
type CheckpointInfo struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
}

// Run statuses.
const (
	StatusCompleted    = "completed"
	StatusWithFailures = "completed_with_failures"
	StatusFailed       = "failed"
)

// known is what the store already holds about one item.
type known struct {
	change  string
	deleted bool
	stream  string
	path    string
	name    string // drive items: for rebuilding paths
	parent  string
	// placeholder marks a drive folder (or the root) learned from a page to
	// resolve paths but not recorded as a version.
	placeholder bool
}

// state is what earlier runs recorded, rebuilt from the log at the start.
type state struct {
	items    map[string]*known // workload|account id|item id
	links    map[string]string // stream → delta link
	accounts map[string]string // account id → last recorded state, "state/kind" for an account that is not an employee
	groups   string            // digest of the last recorded group list
}

func itemKey(w holdfast.Workload, accountID, item string) string {
	return string(w) + "|" + accountID + "|" + item
}

func loadState(ctx context.Context, st Store) (*state, error) {
	s := &state{items: map[string]*known{}, links: map[string]string{}, accounts: map[string]string{}}
	// Decode only the fields needed, from only the record types needed:
	// this runs at the start of every backup over the whole log.
	// The fields ingest needs of the records it rebuilds state from.
	type fields struct {
		AccountID string            `json:"account_id"`
		Workload  holdfast.Workload `json:"workload"`
		Item      string            `json:"item"`
		Change    string            `json:"change"`
		Stream    string            `json:"stream"`
		Path      string            `json:"path"`
		Link      string            `json:"link"`
		State     string            `json:"state"`
		Kind      string            `json:"kind"`
		SHA256    string            `json:"sha256"`
		Parent    string            `json:"parent"`
		File      struct {
			Name string `json:"name"`
		} `json:"file"`
	}
	var rec struct {
		Type string `json:"type"`
		Data fields `json:"data"`
	}
	types := []string{store.TypeItemVersion, store.TypeTombstone, store.TypeDeltaPosition, TypeAccountState, TypeGroups, TypeDeletedUnseen}
	err := st.Scan(ctx, 0, types, func(raw []byte) error {
		rec.Data = fields{}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return holdfast.E("ingest: read the log", holdfast.Integrity, err)
		}
		d := rec.Data
		switch rec.Type {
		case store.TypeItemVersion:
			s.items[itemKey(d.Workload, d.AccountID, d.Item)] = &known{change: d.Change, stream: d.Stream, path: d.Path, name: d.File.Name, parent: d.Parent}
		case store.TypeTombstone:
			if it := s.items[itemKey(d.Workload, d.AccountID, d.Item)]; it != nil {
				it.deleted = true
			}
		case TypeDeletedUnseen:
			s.items[itemKey(d.Workload, d.AccountID, d.Item)] = &known{deleted: true, stream: d.Stream, path: d.Path}
		case store.TypeDeltaPosition:
			s.links[d.Stream] = d.Link
		case TypeAccountState:
			s.accounts[d.AccountID] = d.State
			if d.Kind != "" {
				s.accounts[d.AccountID] = d.State + "/" + d.Kind
			}
		case TypeGroups:
			s.groups = d.SHA256
		}
		return nil
	})
	if err != nil {
		return nil, holdfast.E("ingest: read the log", err)
	}
	return s, nil
}

// streamKey names a stream: workload, account id and folder id.
func streamKey(w holdfast.Workload, accountID, folderID string) string {
	return string(w) + "/" + accountID + "/" + folderID
}

// runner carries one run's shared state.
type runner struct {
	src   Source
	st    Store
	opts  Options
	id    string
	state *state

	mu       sync.Mutex
	res      *Result
	perWl    map[holdfast.Workload]*Counts
	start    time.Time
	failures []FailedItem

	chatsDone  map[string]bool // chats captured this run
	posMu      sync.Mutex      // serialises commitPositions
	positions  []deltaPosition // finished streams whose links await a flush
	lastCommit time.Time
}

func newRunID(now time.Time) string {
	b := make([]byte, 3)
	rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Run backs up the tenant behind src into st.
func Run(ctx context.Context, src Source, st Store, opts Options) (*Result, error) {
	const op = "backup"
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Accounts <= 0 {
		opts.Accounts = 4
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = 2 * time.Second
	}
	if opts.PerMailbox <= 0 || opts.PerMailbox > 4 {
		opts.PerMailbox = 4
	}
	if len(opts.Workloads) == 0 {
		opts.Workloads = holdfast.Workloads
	}
	r := &runner{src: src, st: st, opts: opts, start: opts.Now(), perWl: map[holdfast.Workload]*Counts{}, lastCommit: time.Now(), chatsDone: map[string]bool{}}
	r.id = newRunID(r.start)
	r.res = &Result{Run: r.id, Workloads: map[holdfast.Workload]Counts{}, FailedItems: []FailedItem{}, Departed: []string{}}
	for _, w := range opts.Workloads {
		r.perWl[w] = &Counts{}
	}
	var err error
	if r.state, err = loadState(ctx, st); err != nil {
		return nil, err
	}
	if _, err := st.Append(ctx, store.TypeRunStarted, map[string]any{"run": r.id, "workloads": opts.Workloads, "started": r.start.UTC()}); err != nil {
		return nil, holdfast.E(op, err)
	}
	runErr := r.run(ctx)
	return r.finish(ctx, runErr)
}

func (r *runner) run(ctx context.Context) error {
	accounts, err := r.src.Accounts(ctx)
	if err != nil {
		return holdfast.E("discover accounts", err)
	}
	sort.Slice(accounts, func(i, j int) bool { return accounts[i].UPN < accounts[j].UPN })
	r.res.Accounts = len(accounts)
	for _, a := range accounts {
		if err := r.noteAccount(ctx, a); err != nil {
			return err
		}
	}
	if err := r.noteGroups(ctx); err != nil {
		return err
	}
	jobs := make(chan holdfast.Account)
	errs := make(chan error, len(accounts)+len(r.opts.Workloads))
	var wg sync.WaitGroup
	for i := 0; i < r.opts.Accounts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				if err := r.account(ctx, a); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, a := range accounts {
		if a.Deleted != nil {
			continue // soft-deleted: Graph no longer serves the mailbox; captured data stays
		}
		select {
		case jobs <- a:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	for _, w := range r.opts.Workloads {
		if ctx.Err() != nil {
			break
		}
		var err error
		switch w {
		case holdfast.SharePoint:
			err = r.sharePoint(ctx)
		case holdfast.Teams:
			err = r.channels(ctx)
		}
		if err != nil {
			errs <- err
		}
	}
	close(errs)
	for err := range errs {
		return err // the first run-level error
	}
	return ctx.Err()
}

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
	if _, err := r.st.Append(ctx, TypeGroups, map[string]any{"groups": groups, "sha256": digest, "run": r.id}); err != nil {
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
	rec := accountState{Account: a.UPN, AccountID: a.ID, State: cur, Kind: kind, Previous: prevState, FirstSeen: now}
	if _, err := r.st.Append(ctx, TypeAccountState, rec); err != nil {
		return err
	}
	if a.Departed() {
		rec.Reason = cur
		if a.Deleted != nil {
			rec.FirstSeen = a.Deleted.UTC()
		}
		if _, err := r.st.Append(ctx, TypeAccountDeparted, rec); err != nil {
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

func (r *runner) fail(f FailedItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, f)
}

func (r *runner) count(w holdfast.Workload, f func(c *Counts)) {
	r.mu.Lock()
	c := r.perWl[w]
	f(c)
	snapshot := r.totalsLocked()
	r.mu.Unlock()
	if r.opts.Progress != nil {
		r.opts.Progress(snapshot)
	}
}

func (r *runner) totalsLocked() Counts {
	var t Counts
	for _, c := range r.perWl {
		t.ItemsNew += c.ItemsNew
		t.ItemsChanged += c.ItemsChanged
		t.ItemsDeleted += c.ItemsDeleted
		t.Bytes += c.Bytes
	}
	return t
}

// isFatal reports errors that end the whole run rather than one item:
// authentication failures and a cancelled context.
func isFatal(err error) bool {
	return holdfast.Is(holdfast.Permission, err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (r *runner) mailbox(ctx context.Context, a holdfast.Account) error {
	folders, err := r.src.MailFolders(ctx, a.ID)
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
// pageWalker follows one stream's delta from link, recording what it sees
// in seen; ok is false when an item failed in a way that must be retried.
type pageWalker func(link string, seen map[string]bool, ok *bool) (string, error)

// stream runs one stream: delta from the stored link, a full resync when
// the link expired, tombstones for what a resync no longer shows, and the
// new link recorded once the items it covers are durable.
func (r *runner) stream(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, folder, path string, walk pageWalker) error {
	r.mu.Lock()
	link := r.state.links[key]
	r.mu.Unlock()
	seen := map[string]bool{}
	ok := true
	newLink, err := walk(link, seen, &ok)
	resync := false
	if errors.Is(err, ErrDeltaExpired) {
		// Fall back to a full enumeration, deduplicated against the store.
		r.mu.Lock()
		r.res.Resyncs++
		r.mu.Unlock()
		resync = true
		clear(seen)
		newLink, err = walk("", seen, &ok)
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: w, Path: path, Reason: "delta: " + err.Error()})
		return nil
	}
	if resync && link != "" {
		// Items the store holds in this stream that a full enumeration no
		// longer shows were deleted while the delta token was lost.
		if err := r.tombstoneUnseen(ctx, a, w, key, seen, "not present in a full resync after the delta token expired"); err != nil {
			return err
		}
	}
	if !ok {
		return nil // keep the old link: the failed items are tried again next run
	}
	r.mu.Lock()
	r.state.links[key] = newLink
	r.positions = append(r.positions, deltaPosition{Stream: key, Account: a.UPN, Workload: w, Folder: folder, Path: path, Link: newLink, Run: r.id})
	r.mu.Unlock()
	return r.commitPositions(ctx, false)
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

// oneDrive runs the stream of a user's OneDrive.
func (r *runner) oneDrive(ctx context.Context, a holdfast.Account) error {
	driveID, err := r.src.UserDrive(ctx, a.ID)
	if errors.Is(err, ErrGone) {
		return nil // no OneDrive (unlicensed, room, guest): nothing to capture
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: holdfast.OneDrive, Reason: "find the drive: " + err.Error()})
		return nil
	}
	return r.driveStream(ctx, a, holdfast.OneDrive, driveID, "")
}

// pim runs a stream per calendar or contact folder of a user.
func (r *runner) pim(ctx context.Context, a holdfast.Account, w holdfast.Workload,
	list func(context.Context, string) ([]Container, error),
	delta func(ctx context.Context, userID, containerID, link string, page func([]JSONItem) error) (string, error)) error {
	containers, err := list(ctx, a.ID)
	if errors.Is(err, ErrGone) {
		return nil // no mailbox: nothing to capture
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: w, Reason: "list " + string(w) + " folders: " + err.Error()})
		return nil
	}
	for _, c := range containers {
		key := streamKey(w, a.ID, c.ID)
		err := r.stream(ctx, a, w, key, c.ID, c.Name, func(link string, seen map[string]bool, ok *bool) (string, error) {
			return delta(ctx, a.ID, c.ID, link, func(items []JSONItem) error {
				var attach func(id string) ([]Attachment, error)
				if w == holdfast.Calendar {
					attach = func(id string) ([]Attachment, error) { return r.src.EventAttachments(ctx, a.ID, c.ID, id) }
				}
				good, err := r.pimPageWith(ctx, a, w, key, c.Name, items, seen, attach)
				*ok = *ok && good
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pimPage captures one page of items whose JSON is the content: contacts,
// Teams messages.
func (r *runner) pimPage(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, path string, items []JSONItem, seen map[string]bool) error {
	_, err := r.pimPageWith(ctx, a, w, key, path, items, seen, nil)
	return err
}

// pimPageWith is pimPage that also stores the attachments of items that
// have them (events), as further refs of the version. It reports false when
// an item's attachments could not be fetched (tried again next run).
func (r *runner) pimPageWith(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, path string, items []JSONItem, seen map[string]bool,
	attachments func(id string) ([]Attachment, error)) (bool, error) {
	ok := true
	for _, it := range items {
		r.mu.Lock()
		known := r.state.items[itemKey(w, a.ID, it.ID)]
		r.mu.Unlock()
		if it.Removed {
			switch {
			case known != nil && !known.deleted:
				if err := r.tombstone(ctx, a, w, key, path, it.ID, "deleted"); err != nil {
					return false, err
				}
			case known == nil && !it.Deleted.IsZero():
				// Deleted before any capture, yet listed: evidence that it
				// existed, once.
				if err := r.deletedUnseen(ctx, a, w, key, path, it); err != nil {
					return false, err
				}
			}
			continue
		}
		seen[it.ID] = true
		if known != nil && !known.deleted && known.change == it.ChangeKey {
			continue
		}
		meta := &PIMMeta{Title: it.Title, Modified: it.Modified}
		var extra []store.Ref
		if it.HasAttachments && attachments != nil {
			atts, err := attachments(it.ID)
			if err != nil {
				if isFatal(err) {
					return false, err
				}
				r.fail(FailedItem{Account: a.UPN, Workload: w, Item: it.ID, Path: path, Reason: "attachments: " + err.Error()})
				ok = false
				continue
			}
			for _, at := range atts {
				ref, err := r.st.PutBytes(ctx, at.Content)
				if err != nil {
					return false, err
				}
				extra = append(extra, ref)
				meta.Attachments = append(meta.Attachments, at)
			}
		}
		ref, err := r.st.PutBytes(ctx, it.Content)
		if err != nil {
			return false, err
		}
		v := itemVersion{Account: a.UPN, AccountID: a.ID, Workload: w, Item: it.ID, Path: path, Stream: key, Run: r.id, Change: it.ChangeKey, PIM: meta}
		if err := r.recordVersion(ctx, v, known == nil || known.deleted, append([]store.Ref{ref}, extra...)...); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// channels runs a stream per channel of every team. Every run lists the
// whole channel — every root message, whatever its age, with all its
// replies (ChannelThreads) — because channel delta reaches back only eight
// months and returns no replies: only the full list captures every post and
// every new, edited or deleted reply by means the reference documents.
// Items the store holds that the list no longer shows were deleted
// outright. A team stands in for the account.
func (r *runner) channels(ctx context.Context) error {
	const w = holdfast.Teams
	teams, err := r.src.Teams(ctx)
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Workload: w, Reason: "list teams: " + err.Error()})
		return nil
	}
	for _, tm := range teams {
		a := holdfast.Account{ID: tm.ID, UPN: "team:" + tm.Name, DisplayName: tm.Name, Enabled: true, Licensed: true}
		for _, ch := range tm.Channels {
			key := streamKey(w, tm.ID, ch.ID)
			path := tm.Name + "/" + ch.Name
			err := r.stream(ctx, a, w, key, ch.ID, path, func(link string, seen map[string]bool, ok *bool) (string, error) {
				err := r.src.ChannelThreads(ctx, tm.ID, ch.ID, func(root JSONItem, replies []JSONItem) error {
					hosted := map[string]func(id string) ([]byte, error){
						root.ID: func(id string) ([]byte, error) { return r.src.ChannelHostedContent(ctx, tm.ID, ch.ID, root.ID, "", id) },
					}
					for i := range replies {
						replyID := replies[i].ID
						replies[i].ID = root.ID + "/" + replyID
						hosted[replies[i].ID] = func(id string) ([]byte, error) {
							return r.src.ChannelHostedContent(ctx, tm.ID, ch.ID, root.ID, replyID, id)
						}
					}
					good, err := r.teamsPage(ctx, a, key, path, append([]JSONItem{root}, replies...), seen, hosted)
					*ok = *ok && good
					return err
				})
				if err != nil {
					return "", err
				}
				if link != "" && *ok {
					if err := r.tombstoneUnseen(ctx, a, w, key, seen, "no longer in the channel's full list of messages"); err != nil {
						return "", err
					}
				}
				return "listed " + r.opts.Now().UTC().Format(time.RFC3339), nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// teamsPage records Teams messages, with the hosted contents (pasted
// images) their bodies refer to as further refs, fetched by fetch[item].
func (r *runner) teamsPage(ctx context.Context, a holdfast.Account, key, path string, items []JSONItem, seen map[string]bool,
	fetch map[string]func(id string) ([]byte, error)) (bool, error) {
	byID := map[string]JSONItem{}
	for i := range items {
		items[i].HasAttachments = len(items[i].Hosted) > 0
		byID[items[i].ID] = items[i]
	}
	return r.pimPageWith(ctx, a, holdfast.Teams, key, path, items, seen, func(id string) ([]Attachment, error) {
		var out []Attachment
		for n, hid := range byID[id].Hosted {
			b, err := fetch[id](hid)
			if err != nil {
				return nil, err
			}
			ct := http.DetectContentType(b)
			name := fmt.Sprintf("hosted %d%s", n+1, extensionOf(ct))
			out = append(out, Attachment{Name: name, ContentType: ct, HostedID: hid, Content: b})
		}
		return out, nil
	})
}

// extensionOf is a file extension for a sniffed content type.
func extensionOf(ct string) string {
	switch strings.TrimSpace(strings.Split(ct, ";")[0]) {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	}
	return ".bin"
}

// userChats captures the chats a user is in, each once per run whichever
// member lists it first. Chats have no delta in Graph v1.0: a chat's
// position is the newest lastModifiedDateTime captured, and the next run
// asks for messages modified after it.
func (r *runner) userChats(ctx context.Context, a holdfast.Account) error {
	const w = holdfast.Teams
	chats, err := r.src.UserChats(ctx, a.ID)
	if errors.Is(err, ErrGone) {
		return nil
	}
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Account: a.UPN, Workload: w, Reason: "list chats: " + err.Error()})
		return nil
	}
	for _, c := range chats {
		r.mu.Lock()
		done := r.chatsDone[c.ID]
		r.chatsDone[c.ID] = true
		r.mu.Unlock()
		if done {
			continue
		}
		chat := holdfast.Account{ID: c.ID, UPN: "chat:" + c.ID, DisplayName: c.Name, Enabled: true, Licensed: true}
		key := streamKey(w, c.ID, "messages")
		path := "chats/" + c.ID
		err := r.stream(ctx, chat, w, key, c.ID, path, func(since string, seen map[string]bool, ok *bool) (string, error) {
			newest := since
			err := r.src.ChatMessages(ctx, c.ID, since, func(items []JSONItem) error {
				for _, it := range items {
					if ts := it.Modified.Format(time.RFC3339Nano); !it.Modified.IsZero() && ts > newest {
						newest = ts
					}
				}
				hosted := map[string]func(id string) ([]byte, error){}
				for _, it := range items {
					msgID := it.ID
					hosted[msgID] = func(id string) ([]byte, error) { return r.src.ChatHostedContent(ctx, c.ID, msgID, id) }
				}
				good, err := r.teamsPage(ctx, chat, key, path, items, seen, hosted)
				*ok = *ok && good
				return err
			})
			return newest, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sharePoint runs a stream per document library of every site. A site
// stands in for the account: its id and web URL.
func (r *runner) sharePoint(ctx context.Context) error {
	sites, err := r.src.Sites(ctx)
	if err != nil {
		if isFatal(err) {
			return err
		}
		r.fail(FailedItem{Workload: holdfast.SharePoint, Reason: "list sites: " + err.Error()})
		return nil
	}
	for _, st := range sites {
		a := holdfast.Account{ID: st.ID, UPN: st.WebURL, DisplayName: st.Name, Enabled: true, Licensed: true}
		for _, lib := range st.Libraries {
			if err := r.driveStream(ctx, a, holdfast.SharePoint, lib.ID, lib.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// driveStream runs one drive's stream. library, for document libraries,
// prefixes every path.
func (r *runner) driveStream(ctx context.Context, a holdfast.Account, w holdfast.Workload, driveID, library string) error {
	key := streamKey(w, a.ID, driveID)
	root := "/"
	if library != "" {
		root = "/" + library
	}
	return r.stream(ctx, a, w, key, driveID, root, func(link string, seen map[string]bool, ok *bool) (string, error) {
		return r.src.DriveDelta(ctx, driveID, link, func(items []DriveItem) error {
			good, err := r.drivePage(ctx, a, w, driveID, library, key, items, seen)
			*ok = *ok && good
			return err
		})
	})
}

// commitPositions records the delta links of finished streams. The items a
// link covers must be durable before the link is, so it flushes first.
// Flushing after every folder would write a tiny pack per folder, so
// positions wait until a few seconds have passed or the run ends; a crash
// in between only means those folders are walked again, and every item
// they show is already stored and skipped.
func (r *runner) commitPositions(ctx context.Context, force bool) error {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	r.mu.Lock()
	due := len(r.positions) > 0 && (force || time.Since(r.lastCommit) > r.opts.CommitInterval || len(r.positions) >= 500)
	r.mu.Unlock()
	if !due {
		return nil
	}
	if err := r.st.Flush(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	ps := r.positions
	r.positions = nil
	r.lastCommit = time.Now()
	r.mu.Unlock()
	for _, p := range ps {
		if _, err := r.st.Append(ctx, store.TypeDeltaPosition, p); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) tombstoneUnseen(ctx context.Context, a holdfast.Account, w holdfast.Workload, key string, seen map[string]bool, reason string) error {
	type gone struct{ id, path string }
	var gs []gone
	prefix := itemKey(w, a.ID, "")
	r.mu.Lock()
	for k, it := range r.state.items {
		if it.stream == key && !it.deleted && !it.placeholder && strings.HasPrefix(k, prefix) && !seen[k[len(prefix):]] {
			gs = append(gs, gone{k[len(prefix):], it.path})
		}
	}
	r.mu.Unlock()
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	for _, g := range gs {
		if err := r.tombstone(ctx, a, w, key, g.path, g.id, reason); err != nil {
			return err
		}
	}
	return nil
}

// deletedUnseen records an item that was deleted before it was ever
// captured: its id, thread and deletion time, as the source still lists it.
func (r *runner) deletedUnseen(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, path string, it JSONItem) error {
	rec := deletedUnseen{Account: a.UPN, AccountID: a.ID, Workload: w, Item: it.ID, Path: path, Stream: key, Run: r.id, Deleted: it.Deleted}
	if root, _, ok := strings.Cut(it.ID, "/"); ok {
		rec.Thread = root
	}
	if _, err := r.st.Append(ctx, TypeDeletedUnseen, rec); err != nil {
		return err
	}
	r.mu.Lock()
	r.state.items[itemKey(w, a.ID, it.ID)] = &known{deleted: true, stream: key, path: path}
	r.mu.Unlock()
	return nil
}

func (r *runner) tombstone(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, path, id, reason string) error {
	if _, err := r.st.Append(ctx, store.TypeTombstone, tombstone{Account: a.UPN, AccountID: a.ID, Workload: w, Item: id, Path: path, Stream: key, Run: r.id, Reason: reason}); err != nil {
		return err
	}
	r.mu.Lock()
	if it := r.state.items[itemKey(w, a.ID, id)]; it != nil {
		it.deleted = true
	}
	r.mu.Unlock()
	r.count(w, func(c *Counts) { c.ItemsDeleted++ })
	return nil
}

// download is one content download of a page.
type download struct {
	id    string
	isNew bool
	ref   store.Ref
	err   error
}

// fetchAll downloads the jobs' content into the store, PerMailbox at a time.
func (r *runner) fetchAll(ctx context.Context, jobs []*download, open func(id string) (io.ReadCloser, error)) {
	sem := make(chan struct{}, r.opts.PerMailbox)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func(j *download) {
			defer wg.Done()
			defer func() { <-sem }()
			rc, err := open(j.id)
			if err != nil {
				j.err = err
				return
			}
			defer rc.Close()
			j.ref, j.err = r.st.PutBlob(ctx, rc)
		}(j)
	}
	wg.Wait()
}

// failed records a download's failure; it reports whether the failure
// must be retried (false for items that vanished at the source) and
// returns a fatal error as is.
func (r *runner) failed(a holdfast.Account, w holdfast.Workload, path string, j *download) (retry bool, fatal error) {
	if isFatal(j.err) {
		return false, j.err
	}
	reason := j.err.Error()
	retry = true
	if errors.Is(j.err, ErrGone) {
		reason, retry = "vanished before it could be downloaded (deleted at the source)", false
	}
	r.fail(FailedItem{Account: a.UPN, Workload: w, Item: j.id, Path: path, Reason: reason})
	return retry, nil
}

// recordVersion appends an item.version and updates the run's state.
func (r *runner) recordVersion(ctx context.Context, v itemVersion, isNew bool, refs ...store.Ref) error {
	if _, err := r.st.Append(ctx, store.TypeItemVersion, v, refs...); err != nil {
		return err
	}
	var size int64
	for _, ref := range refs {
		size += ref.Size
	}
	r.mu.Lock()
	r.state.items[itemKey(v.Workload, v.AccountID, v.Item)] = &known{change: v.Change, stream: v.Stream, path: v.Path, name: v.name(), parent: v.Parent}
	r.mu.Unlock()
	r.count(v.Workload, func(c *Counts) {
		if isNew {
			c.ItemsNew++
		} else {
			c.ItemsChanged++
		}
		c.Bytes += size
	})
	return nil
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
		v := itemVersion{Account: a.UPN, AccountID: a.ID, Workload: holdfast.Mail, Item: j.id, Path: f.Path, Stream: key, Run: r.id, Change: m.ChangeKey, Mail: &m}
		if err := r.recordVersion(ctx, v, j.isNew, j.ref); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// drivePath is the folder path of a drive item's parent ("/" for the
// root), rebuilt from parent ids because delta omits paths.
func (r *runner) drivePath(w holdfast.Workload, accountID, library, parentID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := []string{}
	if library != "" {
		parts = append(parts, library)
	}
	n0 := len(parts)
	for id, hops := parentID, 0; id != "" && hops < 64; hops++ {
		n := r.state.items[itemKey(w, accountID, id)]
		if n == nil || n.parent == "" {
			break // the root (or an unknown parent: placed at the root)
		}
		parts = append(parts[:n0], append([]string{n.name}, parts[n0:]...)...)
		id = n.parent
	}
	return "/" + strings.Join(parts, "/")
}

// drivePage captures one delta page of a drive.
func (r *runner) drivePage(ctx context.Context, a holdfast.Account, w holdfast.Workload, driveID, library, key string, items []DriveItem, seen map[string]bool) (bool, error) {
	// Learn the page's folders first, so that children resolve their paths
	// whatever the order of the page.
	r.mu.Lock()
	for _, it := range items {
		if it.Deleted {
			continue
		}
		k := itemKey(w, a.ID, it.ID)
		if n := r.state.items[k]; n != nil {
			n.name, n.parent = it.Meta.Name, it.ParentID
		} else if it.Folder || it.Root {
			r.state.items[k] = &known{name: it.Meta.Name, parent: it.ParentID, stream: key, placeholder: true}
		}
	}
	r.mu.Unlock()
	type pending struct {
		it   DriveItem
		path string
	}
	var jobs []*download
	files := map[string]pending{}
	for _, it := range items {
		r.mu.Lock()
		known := r.state.items[itemKey(w, a.ID, it.ID)]
		r.mu.Unlock()
		path := r.drivePath(w, a.ID, library, it.ParentID)
		if it.Deleted {
			if known != nil && !known.deleted && !known.placeholder {
				if err := r.tombstone(ctx, a, w, key, known.path, it.ID, "deleted"); err != nil {
					return false, err
				}
			}
			continue
		}
		if it.Root {
			continue
		}
		seen[it.ID] = true
		if known != nil && !known.deleted && known.change == it.ETag {
			continue
		}
		isNew := known == nil || known.deleted || known.placeholder
		if it.Folder {
			meta := it.Meta
			meta.Folder = true
			v := itemVersion{Account: a.UPN, AccountID: a.ID, Workload: w, Item: it.ID, Path: path, Stream: key, Run: r.id, Change: it.ETag, Parent: it.ParentID, File: &meta}
			if err := r.recordVersion(ctx, v, isNew); err != nil {
				return false, err
			}
			continue
		}
		files[it.ID] = pending{it, path}
		jobs = append(jobs, &download{id: it.ID, isNew: isNew})
	}
	// QuickXorHash each download as it streams into the store, to check it
	// against what Graph reported.
	var dmu sync.Mutex
	digests := map[string]*quickxor.Digest{}
	r.fetchAll(ctx, jobs, func(id string) (io.ReadCloser, error) {
		rc, err := r.src.DriveItemContent(ctx, driveID, id)
		if err != nil {
			return nil, err
		}
		d := quickxor.New()
		dmu.Lock()
		digests[id] = d
		dmu.Unlock()
		return struct {
			io.Reader
			io.Closer
		}{io.TeeReader(rc, d), rc}, nil
	})
	ok := true
	for _, j := range jobs {
		p := files[j.id]
		if j.err == nil {
			j.err = checkHashes(p.it.Meta, j.ref, digests[j.id])
		}
		if j.err != nil {
			retry, err := r.failed(a, w, p.path, j)
			if err != nil {
				return false, err
			}
			ok = ok && !retry
			continue
		}
		meta := p.it.Meta
		v := itemVersion{Account: a.UPN, AccountID: a.ID, Workload: w, Item: j.id, Path: p.path, Stream: key, Run: r.id, Change: p.it.ETag, Parent: p.it.ParentID, File: &meta}
		if err := r.recordVersion(ctx, v, j.isNew, j.ref); err != nil {
			return false, err
		}
	}
	return ok, nil
}

// checkHashes compares downloaded content with what Graph said of it: a
// truncated or altered download is a failure, never a silent version.
func checkHashes(m FileMeta, ref store.Ref, qx *quickxor.Digest) error {
	if m.Size > 0 && ref.Size != m.Size {
		return fmt.Errorf("downloaded %d bytes, Graph reported %d", ref.Size, m.Size)
	}
	if h := m.Hashes["quickXorHash"]; h != "" && qx != nil && qx.Base64() != h {
		return fmt.Errorf("content QuickXorHash %s differs from Graph's %s", qx.Base64(), h)
	}
	if h := m.Hashes["sha256Hash"]; h != "" && !strings.EqualFold(h, ref.SHA256.String()) {
		return fmt.Errorf("content SHA-256 %s differs from Graph's %s", ref.SHA256.Short(), strings.ToLower(h)[:12])
	}
	return nil
}

// finish logs the run's outcome and ends it with a checkpoint.
func (r *runner) finish(ctx context.Context, runErr error) (*Result, error) {
	res := r.res
	r.mu.Lock()
	res.Counts = r.totalsLocked()
	for w, c := range r.perWl {
		res.Workloads[w] = *c
	}
	res.FailedItems = append(res.FailedItems, r.failures...)
	r.mu.Unlock()
	res.DurationS = r.opts.Now().Sub(r.start).Seconds()
	if r.opts.Throttled != nil {
		res.ThrottledS = r.opts.Throttled().Seconds()
	}
	switch {
	case runErr != nil:
		res.Status = StatusFailed
		res.Error = runErr.Error()
	case len(res.FailedItems) > 0:
		res.Status = StatusWithFailures
	default:
		res.Status = StatusCompleted
	}
	// Even a failed run records what it captured; use a fresh context so a
	// cancelled run still closes its books.
	fctx := context.WithoutCancel(ctx)
	if err := r.commitPositions(fctx, true); err != nil {
		return res, err
	}
	for _, f := range res.FailedItems {
		if _, err := r.st.Append(fctx, TypeItemFailed, map[string]any{"run": r.id, "failure": f}); err != nil {
			return res, err
		}
	}
	summary := *res
	if len(summary.FailedItems) > 100 {
		summary.FailedItems = summary.FailedItems[:100]
	}
	if _, err := r.st.Append(fctx, store.TypeRunFinished, summary); err != nil {
		return res, err
	}
	c, _, err := r.st.Checkpoint(fctx)
	if err != nil {
		return res, err
	}
	res.Checkpoint = &CheckpointInfo{Size: c.Size, Root: hex.EncodeToString(c.Root)}
	if runErr != nil {
		return res, runErr
	}
	return res, nil
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
