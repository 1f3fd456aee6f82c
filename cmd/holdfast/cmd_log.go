package main

import (
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/store"
	"github.com/spf13/cobra"
)

type logOptions struct {
	Type  string
	From  uint64
	Limit int
	Last  uint64
}

func newLogCommand(g *globalOptions) *cobra.Command {
	var opts logOptions
	cmd := &cobra.Command{
		Use:   "log",
		Short: "List the tenant's log records",
		Long: `List records of the tenant's append-only log in order: item versions,
tombstones, runs, packs, checkpoints, verify runs and the rest. With --json
each record appears exactly as logged (its canonical JSON).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLog(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Type, "type", "", "only records of this type, e.g. verify.run")
	f.Uint64Var(&opts.From, "from", 0, "first record index")
	f.IntVar(&opts.Limit, "limit", 0, "at most this many records (0: all)")
	f.Uint64Var(&opts.Last, "last", 0, "start at the last N records of the log")
	return cmd
}

func runLog(ctx context.Context, g *globalOptions, opts logOptions) error {
	a, tenant, err := g.tenantApp()
	if err != nil {
		return err
	}
	n := 0
	size, err := a.Records(ctx, tenant, app.LogOptions{Type: opts.Type, From: opts.From, Last: opts.Last, Limit: opts.Limit}, func(raw []byte, r store.Record) error {
		if g.JSON {
			sep := ",\n"
			if n == 0 {
				g.emitted = true
				sep = `{"records":[` + "\n"
			}
			g.stdout.Write([]byte(sep))
			g.stdout.Write(raw)
		} else {
			data := string(r.Data)
			if len(data) > 100 {
				cut := 97
				for cut > 0 && !utf8.RuneStart(data[cut]) {
					cut-- // never split a character
				}
				data = data[:cut] + "..."
			}
			g.print("%8d  %s  %-18s %s\n", r.Index, r.Time.Format("2006-01-02T15:04:05Z"), r.Type, data)
		}
		n++
		return nil
	})
	if err != nil {
		if n > 0 && g.JSON {
			g.stdout.Write([]byte("\n]}\n")) // keep the document whole; the error follows on stderr
		}
		return err
	}
	if g.JSON {
		if n == 0 {
			g.emitted = true
			g.stdout.Write([]byte(`{"records":[`))
		}
		out, _ := json.Marshal(map[string]any{"count": n, "size": size})
		g.stdout.Write([]byte("\n],"))
		g.stdout.Write(out[1:])
		g.stdout.Write([]byte("\n"))
	} else if n == 0 {
		g.print("No matching records\n")
	}
	return nil
}
