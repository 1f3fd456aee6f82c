// Package app is Holdfast's application layer: the product's verbs — place
// and release a hold, search, export, evaluate policies, restore, verify,
// issue a report, generate demo data — in one place, for every front door
// (the CLI, the service's API, the console).
//
// Each operation takes ctx, an Actor (who, from where) and typed options;
// opens what it needs; writes its own evidence and audit records; and
// returns a typed result that the CLI prints and the API serialises. A
// front door parses, renders and maps errors to exit codes or HTTP
// statuses: it never appends to a log.
//
// The clock is the App's (Options.Now), so tests run on a fixed one.
package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/store"
)

// Actor is who does something and from where: a person at a shell
// ("alice" on host "ws12"), a console user with her address, the
// scheduler. Records name it as Actor.String().
type Actor struct {
	Name string // alice, alice@contoso.example, scheduler
	From string // the host or client address the action came from; may be empty
}

// String is how records name the actor: "alice@ws12" for a shell user
// on a host, "alice@contoso.example (10.0.0.5)" for an address,
// "legal1 (API, 10.0.0.5)" for an API user, "scheduler".
func (a Actor) String() string {
	switch {
	case a.From == "":
		return a.Name
	case strings.Contains(a.Name, "@") || strings.Contains(a.From, " "):
		return a.Name + " (" + a.From + ")"
	}
	return a.Name + "@" + a.From
}

// validate refuses an actor a record could not name honestly.
func (a Actor) validate(op string) error {
	s := a.String()
	if strings.TrimSpace(a.Name) == "" {
		return holdfast.E(op, holdfast.Invalid, "no actor: every action records who did it")
	}
	for _, r := range s {
		if holdfast.IsControl(r) {
			return holdfast.Errorf(op, holdfast.Invalid, "actor %q contains a control character", s)
		}
	}
	return nil
}

// Options configure an App.
type Options struct {
	// MasterKey opens encrypted tenants.
	MasterKey []byte
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Note receives facts worth showing while an operation runs (a store
	// opened beside a backup, an index behind); nil discards them. The
	// front door makes them visible.
	Note func(msg string)
	// Progress receives progress of long steps (what, done, total); nil
	// discards it.
	Progress func(what string, done, total int64)
	// Accounts is how many accounts the process backs up at once, across
	// every tenant (0: ingest.DefaultAccounts); runs share it fairly.
	Accounts int
	// Worker names this process to the other workers sharing tenants in
	// a bucket (default: host:pid); LeaseTTL is how long its leases last
	// unless renewed (default DefaultLeaseTTL).
	Worker   string
	LeaseTTL time.Duration
}

// App runs Holdfast's operations on one data directory.
type App struct {
	data store.DataDir
	opts Options

	cache  caches // what is read again and again, until a log grows
	pool   *ingest.Pool
	leases leases    // the tenants' leases this process holds
	runs   runStates // what each tenant's log says about its schedule
}

// New returns the application layer over data directory dir.
func New(dir string, opts Options) *App {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Worker == "" {
		opts.Worker = defaultWorker()
	}
	if opts.Note == nil {
		opts.Note = func(string) {}
	}
	return &App{data: store.DataDir{Dir: dir}, opts: opts, pool: ingest.NewPool(opts.Accounts)}
}

// Data is the data directory the App works on.
func (a *App) Data() store.DataDir { return a.data }

func (a *App) now() time.Time { return a.opts.Now() }

// Now is the application's clock (Options.Now).
func (a *App) Now() time.Time { return a.now() }

func (a *App) note(format string, args ...any) {
	a.opts.Note(fmt.Sprintf(format, args...))
}

// progressOr is a call's own progress, or else the App's as what.
func (a *App) progressOr(own func(done, total int64), what string) func(done, total int64) {
	if own != nil {
		return own
	}
	return a.progress(what)
}

func (a *App) progress(what string) func(done, total int64) {
	if a.opts.Progress == nil {
		return nil
	}
	return func(done, total int64) { a.opts.Progress(what, done, total) }
}

// Open opens a tenant's repository: for writing (waiting for no one: a
// second writer is refused), read-only, or shared (a reader that records
// what it did, beside a running backup; see store.Deposit).
func (a *App) Open(ctx context.Context, tenant string, mode Mode) (*store.Store, error) {
	opts := store.OpenTenantOptions{MasterKey: a.opts.MasterKey, Now: a.opts.Now}
	switch mode {
	case ReadOnly:
		opts.ReadOnly = true
	case Shared:
		opts.Shared = true
	case Repair:
		opts.Repair = true
	}
	if mode != ReadOnly {
		// A tenant in a bucket is written under its lease (lease.go).
		_, fence, release, err := a.holdTenant(ctx, tenant)
		var held *store.LeaseHeldError
		switch {
		case mode == Shared && errors.As(err, &held):
			opts.Spool = true // reads beside the worker that holds it
		case mode == Shared && holdfast.Is(holdfast.IO, err):
			// ... or that may: the lease could not be read.
			opts.Spool = true
			a.note("the tenant's lease could not be taken (%v): reading beside whoever holds it; this command's records go to this machine's spool", err)
		case errors.As(err, &held):
			return nil, holdfast.E("open tenant "+tenant, holdfast.Locked, err)
		case err != nil:
			return nil, err
		default:
			opts.Fence, opts.OnClose = fence, release
		}
	}
	s, err := a.data.OpenTenant(ctx, tenant, opts)
	if err != nil {
		if opts.OnClose != nil {
			opts.OnClose()
		}
		return nil, err
	}
	for _, n := range s.Notes() {
		a.opts.Note(n)
	}
	return s, nil
}

// Mode is how a tenant's repository is opened.
type Mode int

const (
	Write    Mode = iota // the writer: appends, checkpoints
	ReadOnly             // reads only, records nothing
	Shared               // reads and records what it did, beside a running writer
	Repair               // the writer, for holdfast repair
)

// logRead records what a read did and, when this process holds the writer
// lock, issues a checkpoint over it and returns it. Beside a running backup
// the record is spooled durably, that backup appends it, and the checkpoint
// returned is the zero one.
func logRead(ctx context.Context, s *store.Store, typ string, data any) (store.Checkpoint, error) {
	if err := s.Deposit(ctx, typ, data); err != nil {
		return store.Checkpoint{}, err
	}
	if s.Spooled() {
		return store.Checkpoint{}, nil
	}
	c, _, err := s.Checkpoint(ctx)
	return c, err
}

func closeStore(ctx context.Context, s *store.Store) { s.Close(context.WithoutCancel(ctx)) }
