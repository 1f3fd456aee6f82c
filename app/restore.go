package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
	"github.com/holdfast/holdfast/store"
)

// TenantWriter is what a restore into the tenant writes through (Graph,
// wired by the front door).
type TenantWriter interface {
	restore.DriveWriter
	restore.MailWriter
	restore.PIMWriter
}

// RestoreOptions describe a restore: what (Scope, as of its moment) and
// where to (exactly one of ToDir, ToZip, ToTenant; or DryRun).
type RestoreOptions struct {
	Scope    restore.Scope
	ToDir    string
	ToZip    string
	ToTenant bool
	DryRun   bool // list what would be restored
	// TargetAccount restores into another account (with ToTenant).
	TargetAccount string
	// ResumeKey names the request, so that the same request after an
	// interruption resumes its journal; NoResume starts afresh.
	ResumeKey string
	NoResume  bool
	// Into connects to the tenant, for ToTenant.
	Into func(tenant string) (TenantWriter, error)
	// Progress, if set, is told how many of the items were restored (else
	// the App's progress, as "restore").
	Progress func(done, total int64)
}

// Restored is a restore's outcome.
type Restored struct {
	Restore   string            `json:"restore"`
	Status    string            `json:"status"` // completed, completed_with_failures, failed, dry_run
	Items     int               `json:"items"`
	Bytes     int64             `json:"bytes"`
	Failed    []restore.Failure `json:"failed_items"`
	Target    string            `json:"target"`
	DurationS float64           `json:"duration_s"`
	DryRun    []restore.Version `json:"would_restore,omitempty"`
	Resumed   int               `json:"resumed,omitempty"`
	// Disposed are the versions in scope whose content was disposed of:
	// not restored, and not failures.
	Disposed []DisposedItem `json:"disposed_items"`
	// Moment is when the restored items were as restored ("now", a time,
	// or the end of a run), for messages.
	Moment string `json:"-"`
}

// Moment says when a scope's versions were current, for messages.
func Moment(sc restore.Scope) string {
	switch {
	case sc.Run != "":
		return "the end of run " + sc.Run
	case sc.At.IsZero():
		return "now"
	}
	return sc.At.Format(time.RFC3339)
}

func (a *App) newRestoreID() string {
	return "restore-" + a.now().UTC().Format("20060102T150405Z") + "-" + holdfast.RandomHex(3)
}

// Restore restores the versions in scope as they were at its moment — to
// files (a directory or a zip, with a manifest), or into the tenant, never
// overwriting and resumable — and logs it as a restore.performed record.
func (a *App) Restore(ctx context.Context, who Actor, tenant string, o RestoreOptions) (*Restored, error) {
	const op = "restore"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	sc := o.Scope
	if sc.Account == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "--account is required")
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
		return nil, holdfast.E(op, holdfast.Invalid, "give exactly one of --to-dir DIR, --to-zip FILE, --to-tenant")
	}
	if o.TargetAccount != "" && !o.ToTenant {
		return nil, holdfast.E(op, holdfast.Invalid, "--target-account goes with --to-tenant")
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	start := a.now()
	if o.ToTenant && !o.DryRun {
		return a.restoreToTenant(ctx, who, tenant, s, o, start)
	}
	vs, gone, err := selectRestorable(ctx, s, sc)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 && len(gone) == 0 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "nothing was captured in this scope as of %s", Moment(sc))
	}
	res := &Restored{Restore: a.newRestoreID(), Failed: []restore.Failure{}, Moment: Moment(sc), Disposed: gone}
	if len(vs) == 0 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "all %d versions in this scope as of %s were disposed of (%s): nothing to restore", len(gone), Moment(sc), gone[0].Disposed)
	}
	if o.DryRun {
		res.Status, res.DryRun, res.Items = "dry_run", vs, len(vs)
		for _, v := range vs {
			res.Bytes += v.Bytes
		}
		return res, nil
	}
	target, toZip := o.ToDir, false
	if o.ToZip != "" {
		target, toZip = o.ToZip, true
	}
	abs, _ := filepath.Abs(target)
	out, err := restore.Export(ctx, s, vs, abs, restore.ExportOptions{Zip: toZip, Progress: a.progressOr(o.Progress, "restore")})
	if err != nil {
		return nil, err
	}
	res.Items, res.Bytes, res.Failed, res.Target = out.Items, out.Bytes, out.Failures, abs
	res.DurationS = a.now().Sub(start).Seconds()
	res.Status = "completed"
	if len(out.Failures) > 0 {
		res.Status = "completed_with_failures"
	}
	rec := record.RestorePerformed{Restore: res.Restore, Actor: who.String(), Scope: sc, Target: abs, Status: res.Status, Items: res.Items, Bytes: res.Bytes, Failures: res.Failed, DurationS: res.DurationS, Disposed: len(gone)}
	if _, err := logRead(ctx, s, record.TypeRestorePerformed, rec); err != nil {
		return nil, err
	}
	if len(res.Failed) > 0 {
		return res, holdfast.Errorf(op, holdfast.Other, "%d items could not be restored", len(res.Failed))
	}
	return res, nil
}

// restoreJournalDir holds the journals that make restores into the tenant
// resumable.
func restoreJournalDir(s *store.Store) string { return filepath.Join(s.StateDir(), "restores") }

func (a *App) restoreToTenant(ctx context.Context, who Actor, tenant string, s *store.Store, o RestoreOptions, start time.Time) (*Restored, error) {
	const op = "restore"
	sc := o.Scope
	dir := restoreJournalDir(s)
	var j *restore.Journal
	var err error
	if !o.NoResume {
		if j, err = restore.FindJournal(dir, o.ResumeKey); err != nil {
			return nil, err
		}
	}
	if j != nil {
		// The same versions as the interrupted run: its moment is fixed.
		sc = j.Header.Scope
		a.note("Resuming restore %s, started %s: %d items were restored before it stopped; nothing is created twice",
			j.Header.Restore, j.Header.Started.Format(time.RFC3339), j.DoneCount())
	} else {
		if sc.At.IsZero() && sc.Run == "" {
			sc.At = start.UTC()
		}
		j, err = restore.CreateJournal(dir, restore.JournalHeader{Restore: a.newRestoreID(), Key: o.ResumeKey,
			Folder: "Holdfast restore " + start.UTC().Format("2006-01-02T15-04-05Z"), Scope: sc, Target: o.TargetAccount, Started: start.UTC()})
		if err != nil {
			return nil, err
		}
	}
	defer j.Close()
	vs, gone, err := selectRestorable(ctx, s, sc)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 && len(gone) == 0 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "nothing was captured in this scope as of %s", Moment(sc))
	}
	if len(vs) == 0 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "all %d versions in this scope as of %s were disposed of (%s): nothing to restore", len(gone), Moment(sc), gone[0].Disposed)
	}
	for _, v := range vs {
		if !restore.Restorable(v.Workload) {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "%s messages cannot be restored into the tenant (Graph cannot write them back); export them with --to-dir or --to-zip, or narrow with --workload", v.Workload)
		}
	}
	if o.Into == nil {
		return nil, holdfast.E(op, holdfast.Invalid, "no connection to the tenant to restore into")
	}
	w, err := o.Into(tenant)
	if err != nil {
		return nil, err
	}
	t := &restore.Tenant{Log: s, Drives: w, Mail: w, PIM: w, Journal: j, Target: o.TargetAccount}
	if p := a.progressOr(o.Progress, "restore"); p != nil {
		t.Progress = func(done, total int) { p(int64(done), int64(total)) }
	}
	out, err := t.Run(ctx, vs)
	res := &Restored{Restore: j.Header.Restore, Failed: out.Failures, Items: out.Items, Bytes: out.Bytes, Resumed: out.Resumed, Moment: Moment(sc), Disposed: gone}
	res.Target = "tenant: " + strings.Join(out.Folders, ", ")
	res.DurationS = a.now().Sub(start).Seconds()
	res.Status = "completed"
	switch {
	case err != nil:
		res.Status = "failed"
	case len(res.Failed) > 0:
		res.Status = "completed_with_failures"
	}
	rec := record.RestorePerformed{Restore: res.Restore, Actor: who.String(), Scope: sc, Target: res.Target, Status: res.Status, Items: res.Items, Bytes: res.Bytes,
		Failures: res.Failed, DurationS: res.DurationS, TargetAccount: o.TargetAccount, Resumed: res.Resumed, Disposed: len(gone)}
	if _, lerr := logRead(context.WithoutCancel(ctx), s, record.TypeRestorePerformed, rec); lerr != nil && err == nil {
		err = lerr
	}
	if err != nil {
		if ctx.Err() == nil && !holdfast.Is(holdfast.Exist, err) {
			// A run that got going can be resumed; say how.
			return nil, holdfast.E(op, err, "rerun the same command to resume")
		}
		if holdfast.Is(holdfast.Exist, err) {
			j.Finish() // nothing was restored: a collision is not resumable
		}
		return nil, err
	}
	if ferr := j.Finish(); ferr != nil {
		return nil, ferr
	}
	if len(res.Failed) > 0 {
		return res, holdfast.Errorf(op, holdfast.Other, "%d items could not be restored", len(res.Failed))
	}
	return res, nil
}

// RestoreTest restores a uniform random sample of everything captured to
// a scratch directory, re-hashes every file against the manifest and the
// store, and logs the outcome as a restore.performed record marked as a
// test. A sample that does not restore intact is an Integrity error.
func (a *App) RestoreTest(ctx context.Context, who Actor, tenant string, sample int) (*record.RestorePerformed, error) {
	const op = "restore-test"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	if sample <= 0 {
		return nil, holdfast.E(op, holdfast.Invalid, "--sample must be positive")
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	start := a.now()
	selected, _, err := selectRestorable(ctx, s, restore.Scope{}) // disposed content is not sampled
	if err != nil {
		return nil, err
	}
	var all []restore.Version // items with content (not drive folders)
	for _, v := range selected {
		if len(v.Refs) > 0 {
			all = append(all, v)
		}
	}
	if len(all) == 0 {
		return nil, holdfast.E(op, holdfast.Invalid, "nothing has been captured yet; run holdfast backup first")
	}
	// A uniform random sample without replacement.
	for i := 0; i < min(sample, len(all)); i++ {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(len(all)-i)))
		k := i + int(j.Int64())
		all[i], all[k] = all[k], all[i]
	}
	picked := all[:min(sample, len(all))]
	scratch, err := os.MkdirTemp("", "holdfast-restore-test-")
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	defer os.RemoveAll(scratch)
	out, err := restore.Export(ctx, s, picked, filepath.Join(scratch, "out"), restore.ExportOptions{})
	if err != nil {
		return nil, err
	}
	verified, mismatches := restore.CheckExport(filepath.Join(scratch, "out"), out.Manifest)
	rec := &record.RestorePerformed{Restore: a.newRestoreID(), Actor: who.String(), Target: "scratch directory (removed)", Items: out.Items, Bytes: out.Bytes,
		Failures: append(out.Failures, mismatches...), DurationS: a.now().Sub(start).Seconds(), Test: true, Verified: verified}
	rec.Status = "passed"
	if len(rec.Failures) > 0 {
		rec.Status = "failed"
	}
	if _, err := logRead(ctx, s, record.TypeRestorePerformed, *rec); err != nil {
		return nil, err
	}
	if rec.Status != "passed" {
		return rec, holdfast.Errorf(op, holdfast.Integrity, "%s", fmt.Sprintf("%d items did not restore intact", len(rec.Failures)))
	}
	return rec, nil
}

// DisposedItem is a version in a restore's scope whose content was
// disposed of.
type DisposedItem struct {
	Record   uint64            `json:"record"`
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Item     string            `json:"item"`
	Path     string            `json:"path"`
	Disposed string            `json:"disposed"` // disposed of on … under rule …
}

// selectRestorable is restore.Select, the versions whose content was
// disposed of set apart.
func selectRestorable(ctx context.Context, s *store.Store, sc restore.Scope) ([]restore.Version, []DisposedItem, error) {
	vs, err := restore.Select(ctx, s, sc)
	if err != nil {
		return nil, nil, err
	}
	d, err := DisposedVersions(ctx, s)
	if err != nil || len(d) == 0 {
		return vs, []DisposedItem{}, err
	}
	keep, gone := vs[:0:0], []DisposedItem{}
	for _, v := range vs {
		if how, ok := d[v.Record]; ok {
			gone = append(gone, DisposedItem{Record: v.Record, Account: v.Account, Workload: v.Workload, Item: v.Item, Path: v.Path, Disposed: how.String()})
			continue
		}
		keep = append(keep, v)
	}
	return keep, gone, nil
}
