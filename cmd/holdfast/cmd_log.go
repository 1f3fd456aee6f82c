package main

import (
	"context"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
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

var errEnough = errors.New("enough")

func runLog(ctx context.Context, g *globalOptions, opts logOptions) error {
	if opts.Type != "" && !record.ValidType(opts.Type) {
		return holdfast.Errorf("log", holdfast.Invalid, "%q is not a record type (e.g. item.version, verify.run)", opts.Type)
	}
	s, err := g.openTenant(ctx, true)
	if err != nil {
		return err
	}
	if opts.Last > 0 {
		if size := s.Size(); size > opts.Last {
			opts.From = max(opts.From, size-opts.Last)
		}
	}
	if g.JSON {
		g.emitted = true
		if _, err := g.stdout.Write([]byte(`{"records":[`)); err != nil {
			return holdfast.E("log", holdfast.IO, err)
		}
	}
	n := 0
	err = s.Records(ctx, opts.From, func(raw []byte, r store.Record) error {
		if opts.Type != "" && r.Type != opts.Type {
			return nil
		}
		if opts.Limit > 0 && n >= opts.Limit {
			return errEnough
		}
		if g.JSON {
			sep := ",\n"
			if n == 0 {
				sep = "\n"
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
	if err != nil && !errors.Is(err, errEnough) {
		return err
	}
	if g.JSON {
		out, _ := json.Marshal(map[string]any{"count": n, "size": s.Size()})
		g.stdout.Write([]byte("\n],"))
		g.stdout.Write(out[1:])
		g.stdout.Write([]byte("\n"))
	} else if n == 0 {
		g.print("No matching records\n")
	}
	return nil
}
