package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"sort"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The inventory as Rego input, built directly: going through JSON and
// OPA's reflection cost seven times the evaluation itself at 100,000
// accounts. It must say exactly what the inventory's JSON says (a test
// compares them).

// builder builds the value and, as it goes, the input hash: every leaf
// and key is written to it in the fixed order of construction, so equal
// inventories hash equally without printing the value.
type builder struct {
	h     hash.Hash
	buf   []byte               // hashed in chunks: many tiny writes cost more than the hashing
	terms map[string]*ast.Term // one term per distinct string: keys, states, workloads, times repeat
}

func (b *builder) write(tag byte, s string) {
	b.buf = append(b.buf, tag)
	b.buf = strconv.AppendInt(b.buf, int64(len(s)), 10)
	b.buf = append(b.buf, ':')
	b.buf = append(b.buf, s...)
	if len(b.buf) > 32<<10 {
		b.h.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

func (b *builder) sum() string {
	b.h.Write(b.buf)
	b.buf = b.buf[:0]
	return hex.EncodeToString(b.h.Sum(nil))
}

// str is a string term; terms are immutable, so equal strings share one.
func (b *builder) str(s string) *ast.Term {
	b.write('s', s)
	t := b.terms[s]
	if t == nil {
		t = ast.StringTerm(s)
		b.terms[s] = t
	}
	return t
}

func (b *builder) boolean(v bool) *ast.Term {
	b.write('b', strconv.FormatBool(v))
	return ast.BooleanTerm(v)
}

func (b *builder) num(n json.Number) *ast.Term {
	b.write('n', string(n))
	return ast.NumberTerm(n)
}

func (b *builder) ts(t time.Time) *ast.Term { return b.str(t.UTC().Format(time.RFC3339Nano)) }

func (b *builder) obj(items ...[2]*ast.Term) *ast.Term {
	kept := items[:0]
	for _, it := range items {
		if it[1] != nil {
			kept = append(kept, it)
		}
	}
	b.buf = strconv.AppendInt(append(b.buf, 'o'), int64(len(kept)), 10)
	return ast.NewTerm(ast.NewObject(kept...)) // one allocation for all the pairs
}

func (b *builder) kv(k string, v *ast.Term) [2]*ast.Term {
	if v == nil {
		return [2]*ast.Term{nil, nil}
	}
	return [2]*ast.Term{b.str(k), v}
}

func (b *builder) arr(ts []*ast.Term) *ast.Term {
	b.buf = strconv.AppendInt(append(b.buf, 'a'), int64(len(ts)), 10)
	return ast.ArrayTerm(ts...)
}

func (b *builder) optTime(t *time.Time) *ast.Term {
	if t == nil {
		return nil
	}
	return b.ts(*t)
}

func (b *builder) optStr(s string) *ast.Term {
	if s == "" {
		return nil
	}
	return b.str(s)
}

func (b *builder) strs(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = b.str(s)
	}
	return b.arr(ts)
}

func (b *builder) checks(cs []Check) *ast.Term {
	out := make([]*ast.Term, len(cs))
	for i, c := range cs {
		out[i] = b.obj(b.kv("time", b.ts(c.Time)), b.kv("passed", b.boolean(c.Passed)), b.kv("detail", b.optStr(c.Detail)))
	}
	return b.arr(out)
}

// Value is the inventory as a Rego value, and the input hash: SHA-256 of
// the value's leaves and keys in their fixed order.
func (inv *Inventory) Value() (ast.Value, string) {
	b := &builder{h: sha256.New(), buf: make([]byte, 0, 40<<10), terms: map[string]*ast.Term{}}
	s := inv.Settings
	accounts := make([]*ast.Term, len(inv.Accounts))
	for i, a := range inv.Accounts {
		keys := make([]string, 0, len(a.Workloads))
		for w := range a.Workloads {
			keys = append(keys, w)
		}
		sort.Strings(keys)
		ws := make([][2]*ast.Term, 0, len(keys))
		for _, w := range keys {
			c := a.Workloads[w]
			ws = append(ws, [2]*ast.Term{b.str(w), b.obj(b.kv("first_capture", b.optTime(c.FirstCapture)), b.kv("last_capture", b.optTime(c.LastCapture)),
				b.kv("items", b.num(jsonInt(int64(c.Items)))), b.kv("bytes", b.num(jsonInt(c.Bytes))), b.kv("oldest_item", b.optTime(c.OldestItem)))})
		}
		b.buf = strconv.AppendInt(append(b.buf, 'o'), int64(len(keys)), 10)
		wsTerm := ast.ObjectTerm(ws...)
		accounts[i] = b.obj(b.kv("upn", b.str(a.UPN)), b.kv("id", b.optStr(a.ID)), b.kv("kind", b.str(a.Kind)), b.kv("state", b.str(a.State)),
			b.kv("enabled", b.boolean(a.Enabled)), b.kv("licensed", b.boolean(a.Licensed)),
			b.kv("departed_since", b.optTime(a.DepartedSince)), b.kv("departed_reason", b.optStr(a.DepartedReason)), b.kv("on_hold", b.boolean(a.OnHold)),
			b.kv("workloads", wsTerm))
	}
	lastRun := ast.NullTerm()
	if r := inv.LastRun; r != nil {
		fs := make([]*ast.Term, len(r.FailedItems))
		for i, f := range r.FailedItems {
			fs[i] = b.obj(b.kv("account", b.str(f.Account)), b.kv("workload", b.str(f.Workload)), b.kv("item", b.optStr(f.Item)), b.kv("reason", b.str(f.Reason)))
		}
		lastRun = b.obj(b.kv("id", b.str(r.ID)), b.kv("status", b.str(r.Status)), b.kv("finished", b.ts(r.Finished)), b.kv("failed_items", b.arr(fs)))
	}
	holds := make([]*ast.Term, len(inv.Holds))
	for i, h := range inv.Holds {
		holds[i] = b.obj(b.kv("case", b.str(h.Case)), b.kv("custodians", b.strs(h.Custodians)), b.kv("active", b.boolean(h.Active)), b.kv("placed", b.ts(h.Placed)))
	}
	v := b.obj(
		b.kv("tenant", b.str(inv.Tenant)),
		b.kv("evaluated_at", b.ts(inv.EvaluatedAt)),
		b.kv("settings", b.obj(b.kv("profile", b.str(s.Profile)), b.kv("retention_days", b.num(jsonInt(int64(s.RetentionDays)))),
			b.kv("rpo_hours", b.num(jsonFloat(s.RPOHours))), b.kv("workloads", b.strs(s.Workloads)),
			b.kv("required_years", b.num(jsonInt(int64(s.RequiredYears)))), b.kv("require_worm", b.boolean(s.RequireWORM)))),
		b.kv("store", b.obj(b.kv("backend", b.str(inv.Store.Backend)), b.kv("object_lock", b.str(inv.Store.ObjectLock)))),
		b.kv("accounts", b.arr(accounts)),
		b.kv("last_run", lastRun),
		b.kv("holds", b.arr(holds)),
		b.kv("restore_tests", b.checks(inv.RestoreTests)),
		b.kv("verify_runs", b.checks(inv.VerifyRuns)),
	)
	return v.Value, b.sum()
}

func jsonInt(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func jsonFloat(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'f', -1, 64)) }
