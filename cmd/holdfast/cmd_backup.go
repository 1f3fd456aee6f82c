package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/ingest"
	"github.com/spf13/cobra"
)

type backupOptions struct {
	Workloads string
	Accounts  int
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	var opts backupOptions
	cmd := &cobra.Command{
		Use:   "backup --tenant T [--workloads mail,...]",
		Short: "Back up the tenant's Microsoft 365 data through Graph",
		Long: `Back up every account of the tenant through Microsoft Graph, incrementally with
delta queries. New and changed items become new versions, deletions become
tombstones; nothing stored is ever removed. Accounts that are disabled,
unlicensed or deleted are recorded as departed and their data is kept.
The run is logged and ends with a signed checkpoint.

Workloads: mail, calendar, contacts, onedrive, sharepoint (document libraries
of every site) and teams (channel messages with replies, chats). Exit 0 when the run completed, 1 when it
failed or completed with failed items (listed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Workloads, "workloads", "all", "comma-separated workloads: mail, calendar, contacts, onedrive, sharepoint, teams (default all)")
	cmd.Flags().IntVar(&opts.Accounts, "parallel", ingest.DefaultAccounts, "accounts backed up at once (Graph's limits are per mailbox: each mailbox gets at most 4 requests at a time)")
	return cmd
}

func runBackup(ctx context.Context, g *globalOptions, opts backupOptions) error {
	const op = "backup"
	ws, err := holdfast.ParseWorkloads(opts.Workloads)
	if err != nil {
		return err
	}
	name, err := g.tenant()
	if err != nil {
		return err
	}
	client, err := g.graphClient(name)
	if err != nil {
		return err
	}
	a, err := g.application()
	if err != nil {
		return err
	}
	progress := backupProgress(g)
	res, runErr := a.Backup(ctx, g.actor(), name, client, app.BackupOptions{Workloads: ws, Accounts: opts.Accounts, Progress: progress, Throttled: client.Throttled})
	g.endProgress()
	if res == nil {
		return runErr
	}
	if g.JSON {
		if err := g.emit(res); err != nil {
			return err
		}
	} else {
		g.print("Run %s: %s in %.1fs\n", res.Run, strings.ReplaceAll(res.Status, "_", " "), res.DurationS)
		g.print("Accounts: %d (%d departed: %s)\n", res.Accounts, len(res.Departed), strings.Join(res.Departed, ", "))
		for _, w := range ws {
			c := res.Workloads[w]
			g.print("  %-10s %d new, %d changed, %d deleted, %s\n", w, c.ItemsNew, c.ItemsChanged, c.ItemsDeleted, humanBytes(c.Bytes))
		}
		if res.Resyncs > 0 {
			g.print("Resynchronised %d folder(s) whose delta token had expired\n", res.Resyncs)
		}
		if res.ThrottledS > 0 {
			g.print("Waited %.1fs on Graph throttling\n", res.ThrottledS)
		}
		for _, f := range res.FailedItems {
			g.print("FAILED %s %s %s %s: %s\n", f.Account, f.Workload, f.Path, f.Item, f.Reason)
		}
		if res.Checkpoint != nil {
			g.print("Checkpoint %d (root %s)\n", res.Checkpoint.Size, res.Checkpoint.Root[:16])
		}
	}
	if runErr != nil {
		return runErr
	}
	if res.Status == ingest.StatusWithFailures {
		return holdfast.Errorf(op, holdfast.Other, "completed with %d failed items", len(res.FailedItems))
	}
	return nil
}

// backupProgress shows where a backup stands: one line on a terminal; with
// --json, a JSON line on stderr every few seconds (stdout keeps the result
// alone), naming the accounts in progress.
func backupProgress(g *globalOptions) func(ingest.Progress) {
	switch {
	case g.JSON:
		var last time.Time
		enc := json.NewEncoder(g.stderr)
		return func(p ingest.Progress) {
			if time.Since(last) < 5*time.Second && p.Phase != "finishing" {
				return
			}
			last = time.Now()
			running := p.PerAccount[:0:0]
			for _, a := range p.PerAccount {
				if a.State == ingest.AccountRunning {
					running = append(running, a)
				}
			}
			p.PerAccount = running
			enc.Encode(struct {
				Progress ingest.Progress `json:"progress"`
			}{p})
		}
	case g.stderrTTY:
		return func(p ingest.Progress) {
			fmt.Fprintf(g.stderr, "\r\033[K%s", progressLine(p)) // numbers only: no tenant text
		}
	}
	return nil
}

// progressLine is a backup's progress in one line.
func progressLine(p ingest.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "backup: %d/%d accounts done, %d running", p.AccountsDone, p.Accounts, p.Running)
	if p.MailExpected > 0 {
		fmt.Fprintf(&b, ", mail %d of %d (%.0f%%)", p.MailSeen, p.MailExpected, 100*float64(min(p.MailSeen, p.MailExpected))/float64(p.MailExpected))
	}
	fmt.Fprintf(&b, "; %d new, %d changed, %d deleted, %s", p.ItemsNew, p.ItemsChanged, p.ItemsDeleted, humanBytes(p.Bytes))
	if p.ElapsedS > 0 {
		fmt.Fprintf(&b, " (%.0f items/s)", float64(p.ItemsNew+p.ItemsChanged)/p.ElapsedS)
	}
	if p.RemainingS > 0 {
		fmt.Fprintf(&b, ", about %s left", (time.Duration(p.RemainingS) * time.Second).Round(time.Second))
	}
	if p.Phase != "accounts" {
		fmt.Fprintf(&b, " [%s]", p.Phase)
	}
	if p.Throttled > 0 {
		fmt.Fprintf(&b, ", throttled %.0fs", p.Throttled)
	}
	return b.String()
}
