package restore

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Scope says what to restore and as of when.
type Scope = record.RestoreScope

// Version is one selected item version.
type Version struct {
	Record   uint64            `json:"record"`
	Time     time.Time         `json:"captured"`
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Item     string            `json:"item"`
	Path     string            `json:"path"`
	Deleted  bool              `json:"deleted,omitempty"`
	Refs     []store.Ref       `json:"-"`
	Data     json.RawMessage   `json:"-"`
	Bytes    int64             `json:"bytes"`
}

// Log is what restore reads from the store.
type Log interface {
	Records(ctx context.Context, from uint64, fn func(raw []byte, r store.Record) error) error
	ReadContent(ctx context.Context, ref store.Ref, w io.Writer) error
}

// Select returns the versions in scope that were current at the scope's
// moment, in a stable order (account, workload, path, item).
func Select(ctx context.Context, lg Log, sc Scope) ([]Version, error) {
	const op = "restore: select"
	at := sc.At
	// With --run, the moment is the run's run.finished record.
	var runEnd uint64
	runFound := sc.Run == ""
	if sc.Run != "" {
		err := lg.Records(ctx, 0, func(_ []byte, r store.Record) error {
			if r.Type == record.TypeRunFinished {
				var d record.RunFinished
				if record.Unmarshal(r, r.Type, &d) == nil && d.Run == sc.Run {
					runEnd, runFound = r.Index, true
				}
			}
			return nil
		})
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		if !runFound {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "no finished run %q in the log (holdfast log --type run.finished lists them)", sc.Run)
		}
	}
	latest := map[string]*Version{}
	var first time.Time
	err := lg.Records(ctx, 0, func(_ []byte, r store.Record) error {
		if r.Type != record.TypeItemVersion && r.Type != record.TypeTombstone {
			return nil
		}
		if first.IsZero() {
			first = r.Time
		}
		// A zero moment is the latest: everything logged so far.
		if sc.Run != "" && r.Index > runEnd || sc.Run == "" && !at.IsZero() && r.Time.After(at) {
			return nil
		}
		if r.Type == record.TypeTombstone {
			var d record.Tombstone
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return holdfast.E(op, err)
			}
			if v := latest[string(d.Workload)+"|"+d.Account+"|"+d.Item]; v != nil {
				v.Deleted = true
			}
			return nil
		}
		var d record.ItemVersion
		if err := record.Unmarshal(r, r.Type, &d); err != nil {
			return holdfast.E(op, err)
		}
		key := string(d.Workload) + "|" + d.Account + "|" + d.Item
		v := &Version{Record: r.Index, Time: r.Time, Account: d.Account, Workload: d.Workload, Item: d.Item, Path: d.Path, Refs: r.Refs, Data: append(json.RawMessage(nil), r.Data...)}
		for _, ref := range r.Refs {
			v.Bytes += ref.Size
		}
		latest[key] = v
		return nil
	})
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	if sc.Run == "" && !at.IsZero() && !first.IsZero() && at.Before(first) {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "%s is before the first capture (%s)", at.Format(time.RFC3339), first.Format(time.RFC3339))
	}
	var out []Version
	accounts := map[string]bool{}
	for _, v := range latest {
		accounts[v.Account] = true
		switch {
		case sc.Account != "" && !strings.EqualFold(v.Account, sc.Account):
		case sc.Workload != "" && v.Workload != sc.Workload:
		case sc.Path != "" && !underPath(v.Path, sc.Path):
		case sc.Item != "" && v.Item != sc.Item:
		case v.Deleted && !sc.IncludeDeleted:
		default:
			out = append(out, *v)
		}
	}
	if sc.Account != "" && !containsFold(accounts, sc.Account) {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "no account %q was captured (holdfast status lists them)", sc.Account)
	}
	if len(out) == 0 && sc.Path != "" {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "nothing was captured under %q for this account and moment", sc.Path)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Account+"\x00"+string(a.Workload)+"\x00"+a.Path+"\x00"+a.Item < b.Account+"\x00"+string(b.Workload)+"\x00"+b.Path+"\x00"+b.Item
	})
	return out, nil
}

func underPath(p, prefix string) bool {
	p, prefix = strings.Trim(strings.ToLower(p), "/"), strings.Trim(strings.ToLower(prefix), "/")
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

func containsFold(m map[string]bool, s string) bool {
	for k := range m {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// VersionOf is the Version of an item.version record (deleted: whether the
// item was deleted since).
func VersionOf(r store.Record, deleted bool) (Version, error) {
	var d record.ItemVersion
	if r.Type != record.TypeItemVersion {
		return Version{}, holdfast.Errorf("restore", holdfast.Invalid, "record %d is a %s, not an item version", r.Index, r.Type)
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return Version{}, holdfast.E("restore", holdfast.Integrity, err, "record")
	}
	v := Version{Record: r.Index, Time: r.Time, Account: d.Account, Workload: d.Workload, Item: d.Item, Path: d.Path, Refs: r.Refs,
		Data: append(json.RawMessage(nil), r.Data...), Deleted: deleted}
	for _, ref := range r.Refs {
		v.Bytes += ref.Size
	}
	return v, nil
}
