package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/disposal"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// SearchOptions are a search's.
type SearchOptions struct {
	Query       string // Purview KQL
	Limit       int    // hits returned (at least 1)
	AllVersions bool   // every matching version, not only each item's newest
}

// Search answers a KQL query over every captured version, deleted items
// included, and logs it (actor, query, hit count) as an audit.event. Beside
// a running backup it searches what is indexed and says what is not yet.
func (a *App) Search(ctx context.Context, who Actor, tenant string, o SearchOptions) (*index.Result, error) {
	const op = "search"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	if o.Limit < 1 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "--limit %d: give a number of hits of at least 1", o.Limit)
	}
	n, err := kql.Parse(o.Query)
	if err != nil {
		return nil, QueryError(op, o.Query, err)
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	ix, err := a.searchIndex(ctx, s)
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	res, err := ix.SearchNode(ctx, s, n, index.Options{Limit: o.Limit, AllVersions: o.AllVersions})
	if err != nil {
		return nil, err
	}
	if err := sayDisposed(ctx, s, res.Hits); err != nil {
		return nil, err
	}
	ev := record.Audit{Action: "search", Actor: who.String(), Time: a.now().UTC(), Tenant: tenant, Query: o.Query, Hits: res.Total}
	if err := s.Deposit(ctx, record.TypeAudit, ev); err != nil {
		return nil, err
	}
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// QueryError turns a KQL syntax error into an Invalid error that shows
// where in the query it is; the *kql.SyntaxError stays in its chain, for
// a page that marks the position itself.
func QueryError(op, q string, err error) error {
	var se *kql.SyntaxError
	if errors.As(err, &se) {
		pos := min(se.Pos, len(q))
		msg := fmt.Sprintf("malformed query at position %d: expected %s\n  %s\n  %*s", se.Pos+1, se.Msg, q, pos+1, "^")
		return holdfast.E(op, holdfast.Invalid, &queryError{msg, se})
	}
	return err
}

type queryError struct {
	msg string
	se  *kql.SyntaxError
}

func (e *queryError) Error() string { return e.msg }
func (e *queryError) Unwrap() error { return e.se }

func indexDir(s *store.Store) string { return filepath.Join(s.StateDir(), "index") }

// index opens the tenant's index and catches it up from the store.
func (a *App) index(ctx context.Context, s *store.Store) (*index.Index, error) {
	ix, err := index.Open(indexDir(s))
	if err != nil {
		return nil, err
	}
	if _, err = a.updateIndex(ctx, s, ix); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// updateIndex brings ix up to the end of s's log, showing progress when
// that is long.
func (a *App) updateIndex(ctx context.Context, s *store.Store, ix *index.Index) (int, error) {
	var progress func(uint64)
	if p := a.progress("indexing"); p != nil && s.Size()-min(ix.Next(), s.Size()) > 5000 {
		total := int64(s.Size())
		progress = func(n uint64) { p(int64(n), total) }
	}
	return ix.Update(ctx, s, progress)
}

// searchIndex is index for a search. Beside a running backup it searches
// what is indexed and says what is not yet: the backup brings the index up
// to date when it ends, and indexing its records now would make a legal
// team's search wait for minutes.
func (a *App) searchIndex(ctx context.Context, s *store.Store) (*index.Index, error) {
	if !s.Spooled() {
		return a.index(ctx, s)
	}
	ix, err := index.Open(indexDir(s))
	if err != nil {
		return nil, err
	}
	if behind := s.Size() - min(ix.Next(), s.Size()); behind > 0 {
		a.note("a backup is running; the %d record(s) logged since the index was last brought up to date are searched once it ends", behind)
	}
	return ix, nil
}

// IndexRebuilt is the result of RebuildIndex.
type IndexRebuilt struct {
	Documents uint64  `json:"documents"`
	Records   uint64  `json:"records"`
	DurationS float64 `json:"duration_s"`
}

// RebuildIndex recreates the tenant's search index from the store alone.
func (a *App) RebuildIndex(ctx context.Context, who Actor, tenant string) (IndexRebuilt, error) {
	if err := who.validate("index rebuild"); err != nil {
		return IndexRebuilt{}, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return IndexRebuilt{}, err
	}
	defer a.closeStore(ctx, s)
	start := a.now()
	var progress func(uint64)
	if p := a.progress("indexing"); p != nil {
		total := int64(s.Size())
		progress = func(n uint64) { p(int64(n), total) }
	}
	ix, err := index.Rebuild(ctx, indexDir(s), s, progress)
	if err != nil {
		return IndexRebuilt{}, err
	}
	defer ix.Close()
	docs, _ := ix.DocCount()
	return IndexRebuilt{Documents: docs, Records: ix.Next(), DurationS: a.now().Sub(start).Seconds()}, nil
}

// sayDisposed says of each disposed hit when and under which rule.
func sayDisposed(ctx context.Context, s *store.Store, hits []index.Hit) error {
	var d disposal.DisposedVersions
	for i := range hits {
		if hits[i].Disposed == "" {
			continue
		}
		if d == nil {
			var err error
			if d, err = DisposedVersions(ctx, s); err != nil {
				return err
			}
		}
		if how, ok := d[hits[i].Version]; ok {
			hits[i].Disposed = how.String()
		}
	}
	return nil
}
