package ingest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Options configure a backup run.
type Options struct {
	Workloads []holdfast.Workload
	// Accounts bounds how many of this run's accounts are in progress at
	// once (default: as many as Pool allows). All of a tenant's accounts
	// may progress together; Graph's limits are per mailbox.
	Accounts int
	// Pool is the process's budget of accounts in progress, shared fairly
	// with the other runs drawing on it (default: a pool of this run's
	// own, of Accounts or DefaultAccounts slots).
	Pool *Pool
	// PerMailbox bounds concurrent content downloads per mailbox; Graph
	// allows 4 concurrent requests per mailbox per app (default 4).
	PerMailbox int
	Now        func() time.Time
	// Actor is who started the run (a person, the scheduler), for run.started.
	Actor string
	// Progress, if set, is called with where the run stands about twice a
	// second and once at its end, from one goroutine.
	Progress func(Progress)
	// Throttled reports the time spent waiting on throttling so far.
	Throttled func() time.Duration
	// CommitInterval is how often finished folders' delta links are made
	// durable (default 2s; they always are at the end of a run).
	CommitInterval time.Duration
	// CheckpointInterval is how often a long run signs a checkpoint of
	// what it has made durable so far (default 10 minutes; a run always
	// signs one at its end), so that no more than that much of the log is
	// ever unsigned while a first backup takes hours.
	CheckpointInterval time.Duration
}

// Counts are a run's totals, overall or for one workload.
type Counts = record.Counts

// Result is a run's outcome, as backup --json prints it: what run.finished
// records, and the checkpoint the run ended with.
type Result struct {
	record.RunFinished
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
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
	var rec struct {
		Type string      `json:"type"`
		Data stateFields `json:"data"`
	}
	err := st.Scan(ctx, 0, stateTypes, func(raw []byte) error {
		rec.Data = stateFields{}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return holdfast.E("ingest: read the log", holdfast.Integrity, err)
		}
		d := rec.Data
		switch rec.Type {
		case record.TypeItemVersion:
			s.items[itemKey(d.Workload, d.AccountID, d.Item)] = &known{change: d.Change, stream: d.Stream, path: d.Path, name: d.File.Name, parent: d.Parent}
		case record.TypeTombstone:
			if it := s.items[itemKey(d.Workload, d.AccountID, d.Item)]; it != nil {
				it.deleted = true
			}
		case record.TypeDeletedUnseen:
			s.items[itemKey(d.Workload, d.AccountID, d.Item)] = &known{deleted: true, stream: d.Stream, path: d.Path}
		case record.TypeDeltaPosition:
			s.links[d.Stream] = d.Link
		case record.TypeAccountState:
			s.accounts[d.AccountID] = d.State
			if d.Kind != "" {
				s.accounts[d.AccountID] = d.State + "/" + d.Kind
			}
		case record.TypeGroups:
			s.groups = d.SHA256
		}
		return nil
	})
	if err != nil {
		return nil, holdfast.E("ingest: read the log", err)
	}
	return s, nil
}

// stateFields is the projection of the record types loadState reads
// (stateTypes) onto the members it needs: every member is one of those
// types' (TestStateFieldsAreRecordMembers), so the projection cannot drift
// from record's declarations.
type stateFields struct {
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

// stateTypes are the record types loadState reads.
var stateTypes = []string{record.TypeItemVersion, record.TypeTombstone, record.TypeDeltaPosition, record.TypeAccountState, record.TypeGroups, record.TypeDeletedUnseen}

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

	track    *tracker
	surveyed map[string]*survey // account id → its mail folders, listed before the accounts start

	chatsDone  map[string]bool        // chats captured this run
	posMu      sync.Mutex             // serialises commitPositions
	positions  []record.DeltaPosition // finished streams whose links await a flush
	lastCommit time.Time
	lastSigned time.Time // the last checkpoint this run signed (or its start)
}

func newRunID(now time.Time) string {
	return now.UTC().Format("20060102T150405Z") + "-" + holdfast.RandomHex(3)
}

// Run backs up the tenant behind src into st.
func Run(ctx context.Context, src Source, st Store, opts Options) (*Result, error) {
	const op = "backup"
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Pool == nil {
		opts.Pool = NewPool(opts.Accounts)
	}
	if opts.Accounts <= 0 || opts.Accounts > opts.Pool.Size() {
		opts.Accounts = opts.Pool.Size()
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = 2 * time.Second
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = 10 * time.Minute
	}
	if opts.PerMailbox <= 0 || opts.PerMailbox > 4 {
		opts.PerMailbox = 4
	}
	if len(opts.Workloads) == 0 {
		opts.Workloads = holdfast.Workloads
	}
	r := &runner{src: src, st: st, opts: opts, start: opts.Now(), perWl: map[holdfast.Workload]*Counts{}, lastCommit: time.Now(), lastSigned: time.Now(), chatsDone: map[string]bool{}, track: newTracker(), surveyed: map[string]*survey{}}
	r.id = newRunID(r.start)
	r.res = &Result{RunFinished: record.RunFinished{Run: r.id, Workloads: map[holdfast.Workload]Counts{}, FailedItems: []FailedItem{}, Departed: []string{}}}
	for _, w := range opts.Workloads {
		r.perWl[w] = &Counts{}
	}
	var err error
	if r.state, err = loadState(ctx, st); err != nil {
		return nil, err
	}
	if _, err := st.Append(ctx, record.TypeRunStarted, record.RunStarted{Run: r.id, Workloads: opts.Workloads, Started: r.start.UTC(), Actor: opts.Actor}); err != nil {
		return nil, holdfast.E(op, err)
	}
	stop := r.reportProgress()
	runErr := r.run(ctx)
	r.track.setPhase("finishing")
	stop()
	return r.finish(ctx, runErr)
}

// reportProgress calls Options.Progress twice a second until stopped, and
// once more when stopped.
func (r *runner) reportProgress() (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				r.opts.Progress(r.progress())
				return
			case <-tick.C:
				r.opts.Progress(r.progress())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *runner) progress() Progress {
	r.mu.Lock()
	c := r.totalsLocked()
	r.mu.Unlock()
	p := r.track.snapshot(c, time.Since(r.start))
	if r.opts.Throttled != nil {
		p.Throttled = r.opts.Throttled().Seconds()
	}
	return p
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
	var live []holdfast.Account
	for _, a := range accounts {
		if a.Deleted == nil { // soft-deleted: Graph no longer serves the mailbox; captured data stays
			live = append(live, a)
		}
	}
	for _, a := range live {
		r.track.add(a)
	}
	r.survey(ctx, live)
	largestFirst(live, r.track.sizes())
	r.track.reorder(live)
	errs := make(chan error, len(live)+len(r.opts.Workloads))
	var wg sync.WaitGroup
	mine := make(chan struct{}, r.opts.Accounts)
	for _, a := range live {
		select {
		case mine <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if err := r.opts.Pool.acquire(ctx, r); err != nil {
			<-mine
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-mine }()
			defer r.opts.Pool.release(r)
			r.track.state(a.ID, AccountRunning)
			if err := r.account(ctx, a); err != nil {
				errs <- err
			}
			r.track.state(a.ID, AccountDone)
		}()
	}
	wg.Wait()
	for _, w := range r.opts.Workloads {
		if ctx.Err() != nil {
			break
		}
		var err error
		switch w {
		case holdfast.SharePoint:
			r.track.setPhase("sharepoint")
			err = r.sharePoint(ctx)
		case holdfast.Teams:
			r.track.setPhase("teams")
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

func (r *runner) fail(f FailedItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, f)
}

func (r *runner) count(w holdfast.Workload, f func(c *Counts)) {
	r.mu.Lock()
	f(r.perWl[w])
	r.mu.Unlock()
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
	r.positions = append(r.positions, record.DeltaPosition{Stream: key, Account: a.UPN, Workload: w, Folder: folder, Path: path, Link: newLink, Run: r.id})
	r.mu.Unlock()
	return r.commitPositions(ctx, false)
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
		if _, err := r.st.Append(ctx, record.TypeDeltaPosition, p); err != nil {
			return err
		}
	}
	if !force && time.Since(r.lastSigned) > r.opts.CheckpointInterval {
		if _, _, err := r.st.Checkpoint(ctx); err != nil {
			return err
		}
		r.lastSigned = time.Now()
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
	rec := record.DeletedUnseen{Account: a.UPN, AccountID: a.ID, Workload: w, Item: it.ID, Path: path, Stream: key, Run: r.id, Deleted: it.Deleted}
	if root, _, ok := strings.Cut(it.ID, "/"); ok {
		rec.Thread = root
	}
	if _, err := r.st.Append(ctx, record.TypeDeletedUnseen, rec); err != nil {
		return err
	}
	r.mu.Lock()
	r.state.items[itemKey(w, a.ID, it.ID)] = &known{deleted: true, stream: key, path: path}
	r.mu.Unlock()
	return nil
}

func (r *runner) tombstone(ctx context.Context, a holdfast.Account, w holdfast.Workload, key, path, id, reason string) error {
	if _, err := r.st.Append(ctx, record.TypeTombstone, record.Tombstone{Account: a.UPN, AccountID: a.ID, Workload: w, Item: id, Path: path, Stream: key, Run: r.id, Reason: reason}); err != nil {
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
func (r *runner) recordVersion(ctx context.Context, v record.ItemVersion, isNew bool, refs ...store.Ref) error {
	if _, err := r.st.Append(ctx, record.TypeItemVersion, v, refs...); err != nil {
		return err
	}
	var size int64
	for _, ref := range refs {
		size += ref.Size
	}
	r.mu.Lock()
	r.state.items[itemKey(v.Workload, v.AccountID, v.Item)] = &known{change: v.Change, stream: v.Stream, path: v.Path, name: v.Name(), parent: v.Parent}
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
		if _, err := r.st.Append(fctx, record.TypeItemFailed, record.ItemFailed{Run: r.id, Failure: f}); err != nil {
			return res, err
		}
	}
	summary := res.RunFinished
	if len(summary.FailedItems) > 100 {
		summary.FailedItems = summary.FailedItems[:100]
	}
	if _, err := r.st.Append(fctx, record.TypeRunFinished, summary); err != nil {
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
