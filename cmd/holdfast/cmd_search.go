package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

type searchOptions struct {
	Limit       int
	AllVersions bool
}

func newSearchCommand(g *globalOptions) *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search --tenant T 'QUERY'",
		Short: "Search captured items with Purview-style KQL",
		Long: `Search every captured item version, deleted items included, with the KQL of
Microsoft Purview eDiscovery:

  budget                         free text (subject, body, attachments, file names)
  "exact phrase"  budg*          phrases and prefixes
  from:alice@contoso.com to: cc: bcc: participants: recipients:
                                 address, display name or alias
  subject: title: attachmentnames: filename: fileextension: filetype: author:
  kind:email|meetings|contacts|docs|im|microsoftteams   custodian:UPN  folder:Inbox/Clients
  sent>=2025-01-01  received:2025-01-01..2025-03-31  created: lastmodifiedtime:
  size>1000000  size:1MB..5MB  hasattachment:true
  AND OR NOT (upper case), implicit AND, +term, -prop:value, ( ),
  budget NEAR(5) approval

By default each item shows once, in its newest version; --all-versions lists
every matching version. The index catches up from the store before
answering, so every captured item is searchable. Each search is logged as
an audit record (actor, query, hit count).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().IntVar(&o.Limit, "limit", 50, "hits to show")
	cmd.Flags().BoolVar(&o.AllVersions, "all-versions", false, "every matching version, not only each item's newest")
	return cmd
}

// auditEvent is the data of an audit.event record.
type auditEvent struct {
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	Time   time.Time `json:"time"`
	Tenant string    `json:"tenant"`
	Query  string    `json:"query,omitempty"`
	Case   string    `json:"case,omitempty"`
	Hits   int       `json:"hits"`
	Detail string    `json:"detail,omitempty"`
}

func indexDir(s *store.Store) string { return filepath.Join(s.StateDir(), "index") }

// openIndex opens the tenant's index and catches it up from the store.
func openIndex(ctx context.Context, g *globalOptions, s *store.Store) (*index.Index, error) {
	ix, err := index.Open(indexDir(s))
	if err != nil {
		return nil, err
	}
	var progress func(uint64)
	if g.stderrTTY && s.Size()-ix.Next() > 5000 {
		total := s.Size()
		progress = func(n uint64) { fmt.Fprintf(g.stderr, "\rindexing: record %d of %d", n, total) }
	}
	_, err = ix.Update(ctx, s, progress)
	g.endProgress()
	if err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// openSearchIndex is openIndex for a search. Beside a running backup it
// searches what is indexed and says what is not yet: the backup brings the
// index up to date when it ends, and indexing its records now would make a
// legal team's search wait for minutes.
func openSearchIndex(ctx context.Context, g *globalOptions, s *store.Store) (*index.Index, error) {
	if !s.Spooled() {
		return openIndex(ctx, g, s)
	}
	ix, err := index.Open(indexDir(s))
	if err != nil {
		return nil, err
	}
	if behind := s.Size() - min(ix.Next(), s.Size()); behind > 0 {
		g.say("note: a backup is running; the %d record(s) logged since the index was last brought up to date are searched once it ends\n", behind)
	}
	return ix, nil
}

func runSearch(ctx context.Context, g *globalOptions, o searchOptions, q string) error {
	const op = "search"
	if o.Limit < 1 {
		return holdfast.Errorf(op, holdfast.Invalid, "--limit %d: give a number of hits of at least 1", o.Limit)
	}
	if _, err := kql.Parse(q); err != nil {
		return queryError(op, q, err)
	}
	s, err := g.openShared(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	ix, err := openSearchIndex(ctx, g, s)
	if err != nil {
		return err
	}
	defer ix.Close()
	res, err := ix.Search(ctx, s, q, index.Options{Limit: o.Limit, AllVersions: o.AllVersions})
	if err != nil {
		return queryError(op, q, err)
	}
	ev := auditEvent{Action: "search", Actor: actor(), Time: time.Now().UTC(), Tenant: g.Tenant, Query: q, Hits: res.Total}
	if err := s.Deposit(ctx, record.TypeAudit, ev); err != nil {
		return err
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	if g.JSON {
		return g.emit(res)
	}
	for _, h := range res.Hits {
		del := ""
		if h.Deleted {
			del = " [deleted]"
		}
		g.print("%s  %-15s %-28s %s%s\n    item %s, version %d\n", h.Date.Format("2006-01-02 15:04"), h.Kind, h.Account, h.Title, del, h.Item, h.Version)
		if h.Snippet != "" {
			g.print("    %s\n", h.Snippet)
		}
	}
	g.print("%d matching items", res.Total)
	if res.Total > len(res.Hits) {
		g.print(" (%d shown; --limit for more)", len(res.Hits))
	}
	g.print("\n")
	return nil
}

// queryError turns a KQL syntax error into a usage error that shows where.
func queryError(op, q string, err error) error {
	var se *kql.SyntaxError
	if errors.As(err, &se) {
		pos := min(se.Pos, len(q))
		return holdfast.Errorf(op, holdfast.Invalid, "malformed query at position %d: expected %s\n  %s\n  %*s", se.Pos+1, se.Msg, q, pos+1, "^")
	}
	return err
}

func newIndexCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "index", Short: "The search index (derived from the store)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "rebuild --tenant T",
		Short: "Recreate the search index from the store alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIndexRebuild(cmd.Context(), g)
		},
	})
	return cmd
}

func runIndexRebuild(ctx context.Context, g *globalOptions) error {
	s, err := g.openTenant(ctx, false)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	start := time.Now()
	var progress func(uint64)
	if g.stderrTTY {
		total := s.Size()
		progress = func(n uint64) { fmt.Fprintf(g.stderr, "\rindexing: record %d of %d", n, total) }
	}
	ix, err := index.Rebuild(ctx, indexDir(s), s, progress)
	g.endProgress()
	if err != nil {
		return err
	}
	defer ix.Close()
	docs, _ := ix.DocCount()
	out := struct {
		Documents uint64  `json:"documents"`
		Records   uint64  `json:"records"`
		DurationS float64 `json:"duration_s"`
	}{docs, ix.Next(), time.Since(start).Seconds()}
	if g.JSON {
		return g.emit(out)
	}
	g.print("Index rebuilt from %d log records: %d item versions in %.1fs\n", out.Records, out.Documents, out.DurationS)
	return nil
}
