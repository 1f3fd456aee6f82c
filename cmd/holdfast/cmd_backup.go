package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
	cmd.Flags().IntVar(&opts.Accounts, "parallel", 4, "mailboxes backed up at once")
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
	start := time.Now()
	var progress func(ingest.Counts)
	if g.stderrTTY {
		// Workers report from several goroutines: one line at a time.
		var mu sync.Mutex
		last := time.Time{}
		progress = func(c ingest.Counts) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			el := time.Since(start).Seconds()
			fmt.Fprintf(g.stderr, "\rbackup: %d new, %d changed, %d deleted, %s (%.0f items/s), throttled %.0fs",
				c.ItemsNew, c.ItemsChanged, c.ItemsDeleted, humanBytes(c.Bytes), float64(c.ItemsNew+c.ItemsChanged)/el, client.Throttled().Seconds())
		}
	}
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
