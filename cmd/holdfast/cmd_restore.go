package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

type restoreOptions struct {
	Account        string
	Workload       string
	Path           string
	Item           string
	At             string
	Run            string
	ToTenant       bool
	TargetAccount  string
	ToDir          string
	ToZip          string
	IncludeDeleted bool
	DryRun         bool
	NoResume       bool
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore --tenant T --account UPN [--workload W] [--path P] [--item ID] [--at RFC3339 | --run ID] (--to-dir DIR | --to-zip FILE | --to-tenant)",
		Short: "Bring items back as they were at a captured moment",
		Long: `Select the version of every item in scope that was current at --at (or at the
end of run --run; default now) and export natives: .eml (the captured MIME),
.ics, .vcf, original files, Teams conversations as JSON with an HTML
transcript, in the original folder tree, with MANIFEST.json (path, item,
version, SHA-256). Every byte is read through the store's hash checks; the
restore is logged as a restore.performed record. --include-deleted also
brings back items deleted before that moment. An export never overwrites.

--to-tenant writes OneDrive and SharePoint files back into the drive they
came from and messages (from their captured MIME) into the mailbox they
came from, in their original tree, under a new folder "Holdfast restore
<time>"; events (with their attachments) into a new calendar and contacts
into a new contact folder of that name. --target-account restores mail,
calendars, contacts and OneDrive files into another account instead.
Nothing in the tenant is overwritten or deleted. Four items are written at
a time (Exchange's limit per mailbox). An interrupted restore resumes when
the same command is run again: into the same folders, creating nothing
twice (--no-resume starts afresh). Exchange shows messages created from
MIME as drafts. Teams messages cannot be written back through Graph:
export them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Account, "account", "", "account UPN, site URL, team:NAME or chat:ID (required)")
	f.StringVar(&o.Workload, "workload", "", "one workload (default: all)")
	f.StringVar(&o.Path, "path", "", "folder path to restore, e.g. \"/Clients/Harbour Bakery Ltd\" or Inbox/Clients")
	f.StringVar(&o.Item, "item", "", "one item id")
	f.StringVar(&o.At, "at", "", "the moment to restore (RFC 3339; default now)")
	f.StringVar(&o.Run, "run", "", "restore as of the end of this backup run")
	f.BoolVar(&o.ToTenant, "to-tenant", false, "restore into new folders of the account the items came from, through Graph")
	f.StringVar(&o.TargetAccount, "target-account", "", "with --to-tenant: the account (UPN) to restore mail, calendars, contacts and OneDrive files into")
	f.StringVar(&o.ToDir, "to-dir", "", "export natives into this new or empty directory")
	f.StringVar(&o.ToZip, "to-zip", "", "export natives into this new zip file")
	f.BoolVar(&o.IncludeDeleted, "include-deleted", false, "also restore items deleted before the moment")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be restored, with counts and bytes")
	f.BoolVar(&o.NoResume, "no-resume", false, "with --to-tenant: start a new restore even if an interrupted one asked the same")
	return cmd
}

// restoreRecord is the data of a restore.performed record: the evidence a
// SOC 2 A1.3 or ISO 27001 A.8.13 auditor asks for.
type restoreRecord struct {
	Restore   string            `json:"restore"`
	Actor     string            `json:"actor"`
	Scope     restore.Scope     `json:"scope"`
	Target    string            `json:"target"`
	Status    string            `json:"status"`
	Items     int               `json:"items"`
	Bytes     int64             `json:"bytes"`
	Failures  []restore.Failure `json:"failed_items"`
	DurationS float64           `json:"duration_s"`
	Test      bool              `json:"test,omitempty"`
	Verified  int               `json:"verified,omitempty"` // restore tests: files re-hashed against the store
	// TargetAccount is the account restored into, when not the items' own.
	TargetAccount string `json:"target_account,omitempty"`
	Resumed       int    `json:"resumed,omitempty"` // items an interrupted run had restored
}

type restoreResult struct {
	Restore   string            `json:"restore"`
	Status    string            `json:"status"`
	Items     int               `json:"items"`
	Bytes     int64             `json:"bytes"`
	Failed    []restore.Failure `json:"failed_items"`
	Target    string            `json:"target"`
	DurationS float64           `json:"duration_s"`
	DryRun    []restore.Version `json:"would_restore,omitempty"`
	Resumed   int               `json:"resumed,omitempty"`
}

func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func newRestoreID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "restore-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

func (o restoreOptions) scope() (restore.Scope, error) {
	const op = "restore"
	sc := restore.Scope{Account: o.Account, Path: o.Path, Item: o.Item, Run: o.Run, IncludeDeleted: o.IncludeDeleted}
	if o.Workload != "" {
		ws, err := holdfast.ParseWorkloads(o.Workload)
		if err != nil || len(ws) != 1 {
			return sc, holdfast.Errorf(op, holdfast.Invalid, "--workload takes one workload, got %q", o.Workload)
		}
		sc.Workload = ws[0]
	}
	if o.At != "" {
		if o.Run != "" {
			return sc, holdfast.E(op, holdfast.Invalid, "give --at or --run, not both")
		}
		t, err := time.Parse(time.RFC3339Nano, o.At)
		if err != nil {
			return sc, holdfast.Errorf(op, holdfast.Invalid, "--at %q is not an RFC 3339 time such as 2026-11-24T09:00:00Z", o.At)
		}
		sc.At = t
	}
	return sc, nil
}

func runRestore(ctx context.Context, g *globalOptions, o restoreOptions) error {
	const op = "restore"
	if o.Account == "" {
		return holdfast.E(op, holdfast.Invalid, "--account is required")
	}
	targets := 0
	for _, t := range []bool{o.ToTenant, o.ToDir != "", o.ToZip != ""} {
		if t {
			targets++
		}
	}
	if o.DryRun && targets == 0 {
		targets = 1
	}
	if targets != 1 {
		return holdfast.E(op, holdfast.Invalid, "give exactly one of --to-dir DIR, --to-zip FILE, --to-tenant")
	}
	if o.TargetAccount != "" && !o.ToTenant {
		return holdfast.E(op, holdfast.Invalid, "--target-account goes with --to-tenant")
	}
	sc, err := o.scope()
	if err != nil {
		return err
	}
	s, err := g.openShared(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	start := time.Now()
	if o.ToTenant && !o.DryRun {
		return restoreToTenant(ctx, g, s, o, sc, start)
	}
	vs, err := restore.Select(ctx, s, sc)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return holdfast.Errorf(op, holdfast.Invalid, "nothing was captured in this scope as of %s", moment(sc))
	}
	res := restoreResult{Restore: newRestoreID(), Failed: []restore.Failure{}}
	if o.DryRun {
		res.Status, res.DryRun, res.Items = "dry_run", vs, len(vs)
		for _, v := range vs {
			res.Bytes += v.Bytes
		}
		if g.JSON {
			return g.emit(res)
		}
		for _, v := range vs {
			g.print("%-10s %-40s %-50s %8s  captured %s\n", v.Workload, v.Path, v.Item, humanBytes(v.Bytes), v.Time.Format(time.RFC3339))
		}
		g.print("Would restore %d items, %s\n", res.Items, humanBytes(res.Bytes))
		return nil
	}
	target, toZip := o.ToDir, false
	if o.ToZip != "" {
		target, toZip = o.ToZip, true
	}
	abs, _ := filepath.Abs(target)
	out, err := restore.Export(ctx, s, vs, abs, toZip)
	if err != nil {
		return err
	}
	res.Items, res.Bytes, res.Failed, res.Target = out.Items, out.Bytes, out.Failures, abs
	res.DurationS = time.Since(start).Seconds()
	res.Status = "completed"
	if len(out.Failures) > 0 {
		res.Status = "completed_with_failures"
	}
	rec := restoreRecord{Restore: res.Restore, Actor: actor(), Scope: sc, Target: abs, Status: res.Status, Items: res.Items, Bytes: res.Bytes, Failures: res.Failed, DurationS: res.DurationS}
	if err := logRestore(ctx, s, rec); err != nil {
		return err
	}
	if g.JSON {
		if err := g.emit(res); err != nil {
			return err
		}
	} else {
		g.print("Restored %d items (%s) as they were at %s into %s in %.1fs; every byte checked against the store's hashes\n",
			res.Items, humanBytes(res.Bytes), moment(sc), abs, res.DurationS)
		for _, f := range res.Failed {
			g.print("FAILED %s %s: %s\n", f.Path, f.Item, f.Reason)
		}
		g.print("Manifest: %s\n", filepath.Join(abs, "MANIFEST.json"))
	}
	if len(res.Failed) > 0 {
		return holdfast.Errorf(op, holdfast.Other, "%d items could not be restored", len(res.Failed))
	}
	return nil
}

func moment(sc restore.Scope) string {
	switch {
	case sc.Run != "":
		return "the end of run " + sc.Run
	case sc.At.IsZero():
		return "now"
	}
	return sc.At.Format(time.RFC3339)
}

// logRestore records the restore (and a checkpoint, or the spool beside a
// running backup).
func logRestore(ctx context.Context, s *store.Store, rec restoreRecord) error {
	_, err := logRead(ctx, s, record.TypeRestorePerformed, rec)
	return err
}

type restoreTestOptions struct{ Sample int }

func newRestoreTestCommand(g *globalOptions) *cobra.Command {
	var o restoreTestOptions
	cmd := &cobra.Command{
		Use:   "restore-test --tenant T [--sample N]",
		Short: "Restore a random sample to a scratch directory, compare hashes, log the result",
		Long: `Pick N random items as they are now, export them to a scratch directory, re-hash
every exported file against the manifest and the store, and log the outcome
as a restore.performed record marked as a test — the restore-test evidence
auditors ask for. Exit 3 if any file does not match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestoreTest(cmd.Context(), g, o)
		},
	}
	cmd.Flags().IntVar(&o.Sample, "sample", 20, "number of items to restore")
	return cmd
}

func runRestoreTest(ctx context.Context, g *globalOptions, o restoreTestOptions) error {
	const op = "restore-test"
	if o.Sample <= 0 {
		return holdfast.E(op, holdfast.Invalid, "--sample must be positive")
	}
	s, err := g.openShared(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	start := time.Now()
	selected, err := restore.Select(ctx, s, restore.Scope{})
	if err != nil {
		return err
	}
	var all []restore.Version // items with content (not drive folders)
	for _, v := range selected {
		if len(v.Refs) > 0 {
			all = append(all, v)
		}
	}
	if len(all) == 0 {
		return holdfast.E(op, holdfast.Invalid, "nothing has been captured yet; run holdfast backup first")
	}
	// A uniform random sample without replacement.
	for i := 0; i < min(o.Sample, len(all)); i++ {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(len(all)-i)))
		k := i + int(j.Int64())
		all[i], all[k] = all[k], all[i]
	}
	sample := all[:min(o.Sample, len(all))]
	scratch, err := os.MkdirTemp("", "holdfast-restore-test-")
	if err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	defer os.RemoveAll(scratch)
	out, err := restore.Export(ctx, s, sample, filepath.Join(scratch, "out"), false)
	if err != nil {
		return err
	}
	verified, mismatches := restore.CheckExport(filepath.Join(scratch, "out"), out.Manifest)
	rec := restoreRecord{Restore: newRestoreID(), Actor: actor(), Scope: restore.Scope{}, Target: "scratch directory (removed)", Items: out.Items, Bytes: out.Bytes,
		Failures: append(out.Failures, mismatches...), DurationS: time.Since(start).Seconds(), Test: true, Verified: verified}
	rec.Status = "passed"
	if len(rec.Failures) > 0 {
		rec.Status = "failed"
	}
	if err := logRestore(ctx, s, rec); err != nil {
		return err
	}
	if g.JSON {
		if err := g.emit(rec); err != nil {
			return err
		}
	} else {
		g.print("Restore test %s: %d items (%s), %d files re-hashed against the store's hashes: %s (%.1fs)\n", rec.Restore, rec.Items, humanBytes(rec.Bytes), verified, rec.Status, rec.DurationS)
		for _, f := range rec.Failures {
			g.print("FAILED %s %s: %s\n", f.Path, f.Item, f.Reason)
		}
	}
	if rec.Status != "passed" {
		return holdfast.Errorf(op, holdfast.Integrity, "%s", fmt.Sprintf("%d items did not restore intact", len(rec.Failures)))
	}
	return nil
}

// restoreJournalDir holds the journals that make restores into the tenant
// resumable.
func restoreJournalDir(s *store.Store) string { return filepath.Join(s.StateDir(), "restores") }

// journalKey names a restore by what was asked, so that the same command
// run again after an interruption finds the restore to resume.
func (o restoreOptions) journalKey() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{o.Account, o.Workload, o.Path, o.Item, o.At, o.Run,
		strconv.FormatBool(o.IncludeDeleted), o.TargetAccount}, "\x00")))
	return hex.EncodeToString(sum[:])
}

func restoreToTenant(ctx context.Context, g *globalOptions, s *store.Store, o restoreOptions, sc restore.Scope, start time.Time) error {
	const op = "restore"
	dir := restoreJournalDir(s)
	var j *restore.Journal
	var err error
	if !o.NoResume {
		if j, err = restore.FindJournal(dir, o.journalKey()); err != nil {
			return err
		}
	}
	if j != nil {
		// The same versions as the interrupted run: its moment is fixed.
		sc = j.Header.Scope
		g.say("Resuming restore %s, started %s: %d items were restored before it stopped; nothing is created twice\n",
			j.Header.Restore, j.Header.Started.Format(time.RFC3339), j.DoneCount())
	} else {
		if sc.At.IsZero() && sc.Run == "" {
			sc.At = start.UTC()
		}
		id := newRestoreID()
		j, err = restore.CreateJournal(dir, restore.JournalHeader{Restore: id, Key: o.journalKey(),
			Folder: "Holdfast restore " + start.UTC().Format("2006-01-02T15-04-05Z"), Scope: sc, Target: o.TargetAccount, Started: start.UTC()})
		if err != nil {
			return err
		}
	}
	defer j.Close()
	vs, err := restore.Select(ctx, s, sc)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return holdfast.Errorf(op, holdfast.Invalid, "nothing was captured in this scope as of %s", moment(sc))
	}
	for _, v := range vs {
		if !restore.Restorable(v.Workload) {
			return holdfast.Errorf(op, holdfast.Invalid, "%s messages cannot be restored into the tenant (Graph cannot write them back); export them with --to-dir or --to-zip, or narrow with --workload", v.Workload)
		}
	}
	client, err := g.graphClient(g.Tenant)
	if err != nil {
		return err
	}
	t := &restore.Tenant{Log: s, Drives: client, Mail: client, PIM: client, Journal: j, Target: o.TargetAccount}
	if g.stderrTTY {
		t.Progress = func(done, total int) { fmt.Fprintf(g.stderr, "\rrestore: %d of %d items", done, total) }
	}
	out, err := t.Run(ctx, vs)
	g.endProgress()
	res := restoreResult{Restore: j.Header.Restore, Failed: out.Failures, Items: out.Items, Bytes: out.Bytes, Resumed: out.Resumed}
	res.Target = "tenant: " + strings.Join(out.Folders, ", ")
	res.DurationS = time.Since(start).Seconds()
	res.Status = "completed"
	switch {
	case err != nil:
		res.Status = "failed"
	case len(res.Failed) > 0:
		res.Status = "completed_with_failures"
	}
	rec := restoreRecord{Restore: res.Restore, Actor: actor(), Scope: sc, Target: res.Target, Status: res.Status, Items: res.Items, Bytes: res.Bytes,
		Failures: res.Failed, DurationS: res.DurationS, TargetAccount: o.TargetAccount, Resumed: res.Resumed}
	if lerr := logRestore(context.WithoutCancel(ctx), s, rec); lerr != nil && err == nil {
		err = lerr
	}
	if err != nil {
		if ctx.Err() == nil && !holdfast.Is(holdfast.Exist, err) {
			// A run that got going can be resumed; say how.
			return holdfast.E(op, err, "rerun the same command to resume")
		}
		if holdfast.Is(holdfast.Exist, err) {
			j.Finish() // nothing was restored: a collision is not resumable
		}
		return err
	}
	if ferr := j.Finish(); ferr != nil {
		return ferr
	}
	if g.JSON {
		if err := g.emit(res); err != nil {
			return err
		}
	} else {
		g.print("Restored %d items (%s) as they were at %s into %s in %.1fs; nothing in the tenant was overwritten\n",
			res.Items, humanBytes(res.Bytes), moment(sc), res.Target, res.DurationS)
		if res.Resumed > 0 {
			g.print("%d of them had been restored by the interrupted run and were not created again\n", res.Resumed)
		}
		for _, f := range res.Failed {
			g.print("FAILED %s %s: %s\n", f.Path, f.Item, f.Reason)
		}
	}
	if len(res.Failed) > 0 {
		return holdfast.Errorf(op, holdfast.Other, "%d items could not be restored", len(res.Failed))
	}
	return nil
}
