package app

import (
	"context"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/store"
)

// BackupOptions configure a backup run.
type BackupOptions struct {
	Workloads []holdfast.Workload
	Accounts  int // this run's accounts in progress at once; 0: as many as the App's pool allows
	// Progress is told where the run stands, twice a second.
	Progress func(ingest.Progress)
	// Throttled reports the time spent waiting on throttling so far.
	Throttled func() time.Duration
}

// Backup runs one backup of the tenant from src (the tenant's Graph, wired
// by the front door) and brings the search index up to date. A run that
// captured anything returns its result even with an error; an index that
// could not be updated is a note (the next search catches up).
func (a *App) Backup(ctx context.Context, who Actor, tenant string, src ingest.Source, o BackupOptions) (*ingest.Result, error) {
	const op = "backup"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	if len(o.Workloads) == 0 {
		return nil, holdfast.E(op, holdfast.Invalid, "no workloads to back up")
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	// The search index follows the run: what the run has made durable is
	// indexed while it goes on capturing, and the rest when it ends.
	indexed := a.indexAlong(ctx, s)
	res, runErr := ingest.Run(ctx, src, s, ingest.Options{Workloads: o.Workloads, Accounts: o.Accounts, Pool: a.pool, Progress: o.Progress, Throttled: o.Throttled, Now: a.opts.Now, Actor: who.String()})
	// It is derived data: if updating it fails, the next search or backup
	// catches it up from the store.
	if err := indexed(); err != nil {
		a.note("the search index was not updated (%v); the next search catches up", err)
	}
	// What the run captured for a custodian on hold is held from now on:
	// in a bucket, its objects get the legal hold too.
	if s.LegalHolds() {
		if ix, err := a.index(ctx, s); err != nil {
			a.note("the legal holds on newly held items' objects wait for the next backup: %v", err)
		} else {
			a.legalHoldsAfter(ctx, s, ix)
			ix.Close()
		}
	}
	if res == nil {
		return nil, runErr
	}
	return res, runErr
}

// indexAlong brings the tenant's search index up to date with the
// committed log, again and again, while a backup runs, so that indexing
// overlaps capture instead of following it; done stops it and brings the
// index up to the end of the log. It lets go of the index (and its lock)
// every indexHold, so that a search beside the backup waits for that at
// most, never for the whole run.
func (a *App) indexAlong(ctx context.Context, s *store.Store) (done func() error) {
	stop := make(chan struct{})
	finished := make(chan error, 1)
	go func() {
		var ix *index.Index
		var opened time.Time
		var next uint64       // the first record not yet indexed, as last seen
		let := func() error { // let go of the index
			if ix == nil {
				return nil
			}
			err := ix.Close()
			ix = nil
			return err
		}
		step := func() error {
			if ix == nil {
				var err error
				if ix, err = index.Open(indexDir(s)); err != nil {
					return err
				}
				// Beside the capture, small batches: what the run holds
				// and what Bleve analyses at once add up.
				ix.SetBatch(alongBatch)
				opened = time.Now()
			}
			_, err := ix.Update(ctx, s, nil)
			next = ix.Next()
			return err
		}
		for {
			wait := indexIdle // nothing new was committed: look again shortly
			if s.Size() > next {
				before := next
				if err := step(); err != nil {
					let()
					finished <- err
					return
				}
				if next > before {
					wait = 0
				}
			}
			if ix != nil && time.Since(opened) >= indexHold {
				if err := let(); err != nil {
					finished <- err
					return
				}
			}
			select {
			case <-stop:
				finished <- let()
				return
			case <-time.After(wait):
			}
		}
	}()
	return func() error {
		close(stop)
		if err := <-finished; err != nil {
			return err
		}
		// The rest of the log, in the same small batches: the run's
		// memory peaks here otherwise.
		ix, err := index.Open(indexDir(s))
		if err != nil {
			return err
		}
		ix.SetBatch(alongBatch)
		if _, err := a.updateIndex(ctx, s, ix); err != nil {
			ix.Close()
			return err
		}
		return ix.Close()
	}
}

// indexIdle is how long a backup's indexing waits when the log has nothing
// new committed.
const indexIdle = 250 * time.Millisecond

// indexHold is how long a backup's indexing keeps the index before it lets
// a search in (var: tests shorten it).
var indexHold = 10 * time.Second

// alongBatch is the Bleve batch of the indexing beside a backup's capture.
const alongBatch = 100
