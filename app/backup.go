package app

import (
	"context"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
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
	defer closeStore(ctx, s)
	res, runErr := ingest.Run(ctx, src, s, ingest.Options{Workloads: o.Workloads, Accounts: o.Accounts, Pool: a.pool, Progress: o.Progress, Throttled: o.Throttled, Now: a.opts.Now, Actor: who.String()})
	if res == nil {
		return nil, runErr
	}
	// Keep the search index current. It is derived data: if this fails,
	// the next search or backup catches it up from the store.
	if ix, err := a.index(ctx, s); err != nil {
		a.note("the search index was not updated (%v); the next search catches up", err)
	} else {
		ix.Close()
	}
	return res, runErr
}
