package main

import (
	"context"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/spf13/cobra"
)

type scheduleSetOptions struct {
	Backup, BackupJitter, Verify, RestoreTest, Report, ReportKind, ReportDir string
	PolicyAfterBackup                                                        bool
	VerifyReadPercent                                                        float64
	RestoreSample                                                            int
	Pause, Resume                                                            bool
}

func newScheduleCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "When holdfast serve runs a tenant's backups, verify runs, restore tests and reports",
		Long: `A tenant's schedule: specs are cron expressions in UTC ("0 3 * * 0": Sundays at
03:00) or descriptors ("@every 4h", "@daily", "@weekly", "@monthly"); an empty
spec is not scheduled. Without a schedule set, the default applies: a backup
every 4 hours spread over 30 minutes by tenant, policies after each backup, a
weekly verify re-reading 10% of the packs, a monthly restore test of 20
items and a monthly procedures report. Every change is a schedule.set record
in the tenant's log: a schedule is evidence of a procedure.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show --tenant T",
		Short: "Show the tenant's schedule",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runScheduleShow(cmd.Context(), g) },
	})
	var o scheduleSetOptions
	set := &cobra.Command{
		Use:   "set --tenant T [--backup SPEC] [--verify SPEC] [--restore-test SPEC] [--report SPEC] ...",
		Short: "Change the tenant's schedule (logged)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScheduleSet(cmd.Context(), g, o, cmd.Flags().Changed)
		},
	}
	f := set.Flags()
	f.StringVar(&o.Backup, "backup", "", `backups: a cron spec or "@every 4h"; "" stops them`)
	f.StringVar(&o.BackupJitter, "backup-jitter", "", "spread backup starts over this window, by tenant (e.g. 30m)")
	f.BoolVar(&o.PolicyAfterBackup, "policy-after-backup", true, "evaluate the policies after each backup")
	f.StringVar(&o.Verify, "verify", "", "verify runs: a cron spec or descriptor")
	f.Float64Var(&o.VerifyReadPercent, "verify-read-percent", 10, "share of packs a scheduled verify re-reads in full (0 or 100: all)")
	f.StringVar(&o.RestoreTest, "restore-test", "", "restore tests: a cron spec or descriptor")
	f.IntVar(&o.RestoreSample, "restore-sample", 20, "items a scheduled restore test restores")
	f.StringVar(&o.Report, "report", "", "signed reports: a cron spec or descriptor")
	f.StringVar(&o.ReportKind, "report-kind", "procedures", "procedures, coverage or restore-tests")
	f.StringVar(&o.ReportDir, "report-dir", "", "directory scheduled reports are written to (default: reports/<tenant> in the data directory)")
	f.BoolVar(&o.Pause, "pause", false, "pause every scheduled procedure of the tenant")
	f.BoolVar(&o.Resume, "resume", false, "resume a paused schedule")
	cmd.AddCommand(set)
	return cmd
}

func runScheduleShow(ctx context.Context, g *globalOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	sc, err := a.Schedule(ctx, tenant)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(sc)
	}
	printSchedule(g, tenant, sc)
	return nil
}

func runScheduleSet(ctx context.Context, g *globalOptions, o scheduleSetOptions, changed func(string) bool) error {
	var ch app.ScheduleChange
	str := map[string]**string{"backup": &ch.Backup, "backup-jitter": &ch.BackupJitter, "verify": &ch.Verify, "restore-test": &ch.RestoreTest,
		"report": &ch.Report, "report-kind": &ch.ReportKind, "report-dir": &ch.ReportDir}
	val := map[string]*string{"backup": &o.Backup, "backup-jitter": &o.BackupJitter, "verify": &o.Verify, "restore-test": &o.RestoreTest,
		"report": &o.Report, "report-kind": &o.ReportKind, "report-dir": &o.ReportDir}
	for name, dst := range str {
		if changed(name) {
			*dst = val[name]
		}
	}
	if changed("policy-after-backup") {
		ch.PolicyAfterBackup = &o.PolicyAfterBackup
	}
	if changed("verify-read-percent") {
		ch.VerifyReadPercent = &o.VerifyReadPercent
	}
	if changed("restore-sample") {
		ch.RestoreSample = &o.RestoreSample
	}
	switch {
	case o.Pause && o.Resume:
		return holdfast.E("schedule set", holdfast.Invalid, "give --pause or --resume, not both")
	case o.Pause:
		ch.Paused = &o.Pause
	case o.Resume:
		paused := false
		ch.Paused = &paused
	}
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	sc, err := a.SetSchedule(ctx, g.actor(), tenant, ch)
	if err != nil {
		return err
	}
	if g.JSON {
		return g.emit(sc)
	}
	printSchedule(g, tenant, sc)
	g.print("Logged as record %d; a running holdfast serve applies it at its next reload (within %s, or at once on SIGHUP)\n", sc.Record, scheduleReload)
	return nil
}

func printSchedule(g *globalOptions, tenant string, sc *app.TenantSchedule) {
	off := func(s string) string {
		if s == "" {
			return "not scheduled"
		}
		return s + " (UTC)"
	}
	switch {
	case sc.Default:
		g.print("Schedule of %s: the default (nobody has set one)\n", tenant)
	default:
		g.print("Schedule of %s: set by %s at %s (record %d)\n", tenant, sc.SetBy, sc.SetAt.Format("2006-01-02T15:04:05Z"), sc.Record)
	}
	if sc.Paused {
		g.print("  PAUSED: nothing runs until holdfast schedule set --resume\n")
	}
	g.print("  backup        %s, jitter %s, policies after each: %v\n", off(sc.Backup), orNone(sc.BackupJitter), sc.PolicyAfterBackup)
	g.print("  verify        %s, re-reading %g%% of the packs\n", off(sc.Verify), sc.VerifyReadPercent)
	g.print("  restore test  %s, %d items\n", off(sc.RestoreTest), sc.RestoreSample)
	g.print("  report        %s, %s, to %s\n", off(sc.Report), sc.ReportKind, orNone(sc.ReportDir))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
