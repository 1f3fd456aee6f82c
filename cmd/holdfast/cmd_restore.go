package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/restore"
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
	sc, err := o.scope()
	if err != nil {
		return err
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	ro := app.RestoreOptions{Scope: sc, ToDir: o.ToDir, ToZip: o.ToZip, ToTenant: o.ToTenant, DryRun: o.DryRun, TargetAccount: o.TargetAccount,
		ResumeKey: o.journalKey(), NoResume: o.NoResume,
		Into: func(tenant string) (app.TenantWriter, error) { return g.graphClient(tenant) }}
	res, err := a.Restore(ctx, g.actor(), tenant, ro)
	g.endProgress()
	if res == nil {
		return err
	}
	if g.JSON {
		return g.emitWith(res, err)
	}
	switch {
	case res.Status == "dry_run":
		for _, v := range res.DryRun {
			g.print("%-10s %-40s %-50s %8s  captured %s\n", v.Workload, v.Path, v.Item, humanBytes(v.Bytes), v.Time.Format(time.RFC3339))
		}
		g.print("Would restore %d items, %s\n", res.Items, humanBytes(res.Bytes))
		if n := len(res.Disposed); n > 0 {
			g.print("%d more versions in scope were disposed of: they cannot be restored\n", n)
		}
		return nil
	case o.ToTenant:
		g.print("Restored %d items (%s) as they were at %s into %s in %.1fs; nothing in the tenant was overwritten\n",
			res.Items, humanBytes(res.Bytes), res.Moment, res.Target, res.DurationS)
		if res.Resumed > 0 {
			g.print("%d of them had been restored by the interrupted run and were not created again\n", res.Resumed)
		}
	default:
		g.print("Restored %d items (%s) as they were at %s into %s in %.1fs; every byte checked against the store's hashes\n",
			res.Items, humanBytes(res.Bytes), res.Moment, res.Target, res.DurationS)
	}
	for _, f := range res.Failed {
		g.print("FAILED %s %s: %s\n", f.Path, f.Item, f.Reason)
	}
	if n := len(res.Disposed); n > 0 {
		g.print("%d versions in scope were disposed of and not restored:\n", n)
		for i, d := range res.Disposed {
			if i == 10 {
				g.print("  … and %d more (--json lists them)\n", n-i)
				break
			}
			g.print("  %s %s: %s\n", d.Path, d.Item, d.Disposed)
		}
	}
	if !o.ToTenant {
		g.print("Manifest: %s\n", filepath.Join(res.Target, "MANIFEST.json"))
	}
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
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	rec, err := a.RestoreTest(ctx, g.actor(), tenant, o.Sample)
	g.endProgress()
	if rec == nil {
		return err
	}
	if g.JSON {
		return g.emitWith(rec, err)
	}
	g.print("Restore test %s: %d items (%s), %d files re-hashed against the store's hashes: %s (%.1fs)\n", rec.Restore, rec.Items, humanBytes(rec.Bytes), rec.Verified, rec.Status, rec.DurationS)
	for _, f := range rec.Failures {
		g.print("FAILED %s %s: %s\n", f.Path, f.Item, f.Reason)
	}
	return err
}

// journalKey names a restore by what was asked, so that the same command
// run again after an interruption finds the restore to resume.
func (o restoreOptions) journalKey() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{o.Account, o.Workload, o.Path, o.Item, o.At, o.Run,
		strconv.FormatBool(o.IncludeDeleted), o.TargetAccount}, "\x00")))
	return hex.EncodeToString(sum[:])
}
