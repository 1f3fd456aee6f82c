package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The inventory as Rego input, built directly: going through JSON and
// OPA's reflection cost seven times the evaluation itself at 100,000
// accounts. It must say exactly what the inventory's JSON says (a test
// compares them).

// builder builds the value and, as it goes, the input hash: every leaf
// and key is written to it in the fixed order of construction, so equal
// inventories hash equally without printing the value. Accounts are
// built and hashed in blocks on every core (see accounts).
type builder struct {
	h     hash.Hash
	buf   []byte               // hashed in chunks: many tiny writes cost more than the hashing
	terms map[string]*ast.Term // one term per distinct string: states, workloads, UPNs of holds repeat
	times map[int64]timeTerm   // one term per distinct moment: captures of a run share seconds
	slab  []ast.Term           // terms are handed out of slabs: one allocation for thousands

	lastStrs struct { // the list strs made last
		s []string
		t *ast.Term
	}

	digits []byte // numbers' digits are handed out of it: never changed once written
	// scratch of account, reused from account to account
	keys     []string
	ws       [][2]*ast.Term
	captured []string
}

// term is a new term holding v, from the builder's slab.
func (b *builder) term(v ast.Value) *ast.Term {
	if len(b.slab) == 0 {
		b.slab = make([]ast.Term, 4096)
	}
	t := &b.slab[0]
	b.slab = b.slab[1:]
	t.Value = v
	return t
}

type timeTerm struct {
	t *ast.Term
	s string
}

func newBuilder(h hash.Hash) *builder {
	return &builder{h: h, buf: make([]byte, 0, 40<<10), terms: map[string]*ast.Term{}, times: map[int64]timeTerm{}}
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
	return b.strTerm(s)
}

// strTerm is str without the hashing.
func (b *builder) strTerm(s string) *ast.Term {
	t := b.terms[s]
	if t == nil {
		t = ast.StringTerm(s)
		b.terms[s] = t
	}
	return t
}

func (b *builder) boolean(v bool) *ast.Term {
	b.write('b', strconv.FormatBool(v))
	return ast.InternedTerm(v) // shared: terms are immutable
}

func (b *builder) num(n json.Number) *ast.Term {
	b.write('n', string(n))
	return b.term(ast.Number(n))
}

// int is num of n, its digits written into b.digits: a number a term
// costs no allocation of its own.
func (b *builder) int(n int64) *ast.Term {
	if cap(b.digits)-len(b.digits) < 20 {
		b.digits = make([]byte, 0, 16<<10)
	}
	at := len(b.digits)
	b.digits = strconv.AppendInt(b.digits, n, 10)
	return b.num(json.Number(unsafe.String(&b.digits[at], len(b.digits)-at)))
}

func (b *builder) ts(t time.Time) *ast.Term {
	k := t.UnixNano()
	tt, ok := b.times[k]
	if !ok {
		tt.s = t.UTC().Format(time.RFC3339Nano)
		tt.t = ast.StringTerm(tt.s)
		b.times[k] = tt
	}
	b.write('s', tt.s)
	return tt.t
}

func (b *builder) obj(items ...[2]*ast.Term) *ast.Term {
	kept := items[:0]
	for _, it := range items {
		if it[1] != nil {
			kept = append(kept, it)
		}
	}
	b.buf = strconv.AppendInt(append(b.buf, 'o'), int64(len(kept)), 10)
	return b.term(ast.NewObject(kept...))
}

// key is an object key: the same few keys make up every object, so their
// terms are made once.
type key struct {
	s string
	t *ast.Term
}

func k(s string) key { return key{s, ast.StringTerm(s)} }

var (
	kUPN, kID, kKind, kState, kEnabled, kLicensed        = k("upn"), k("id"), k("kind"), k("state"), k("enabled"), k("licensed")
	kDepartedSince, kDepartedReason, kOnHold, kWorkloads = k("departed_since"), k("departed_reason"), k("on_hold"), k("workloads")
	kLastCapture, kOldestLastCapture, kCapturedWorkloads = k("last_capture"), k("oldest_last_capture"), k("captured_workloads")
	kFirstCapture, kItems, kBytes, kOldestItem           = k("first_capture"), k("items"), k("bytes"), k("oldest_item")
	kTime, kPassed, kDetail, kAccount, kWorkload, kItem  = k("time"), k("passed"), k("detail"), k("account"), k("workload"), k("item")
	kReason, kStatus, kFinished, kFailedItems, kCase     = k("reason"), k("status"), k("finished"), k("failed_items"), k("case")
	kCustodians, kActive, kPlaced, kTenant, kEvaluatedAt = k("custodians"), k("active"), k("placed"), k("tenant"), k("evaluated_at")
	kSettings, kProfile, kRetentionDays, kRPOHours       = k("settings"), k("profile"), k("retention_days"), k("rpo_hours")
	kRequiredYears, kRequireWORM, kStore, kBackend       = k("required_years"), k("require_worm"), k("store"), k("backend")
	kObjectLock, kAccounts, kLastRun, kHolds             = k("object_lock"), k("accounts"), k("last_run"), k("holds")
	kRestoreTests, kVerifyRuns, kWitnesses               = k("restore_tests"), k("verify_runs"), k("witnesses")
	kName, kCosigned, kPending, kSize                    = k("name"), k("cosigned"), k("pending"), k("size")
	kDepartedRecord, kLastCaptureRecord, kPlacedRecord   = k("departed_record"), k("last_capture_record"), k("placed_record")
)

func (b *builder) kv(k key, v *ast.Term) [2]*ast.Term {
	if v == nil {
		return [2]*ast.Term{nil, nil}
	}
	b.write('s', k.s)
	return [2]*ast.Term{k.t, v}
}

func (b *builder) arr(ts []*ast.Term) *ast.Term {
	b.arrHeader(len(ts))
	return b.term(ast.NewArray(ts...))
}

func (b *builder) arrHeader(n int) { b.buf = strconv.AppendInt(append(b.buf, 'a'), int64(n), 10) }

func (b *builder) optTime(t *time.Time) *ast.Term {
	if t == nil {
		return nil
	}
	return b.ts(*t)
}

// optUint is a log position, absent when 0 (record 0 is the tenant's
// creation, never a capture, a departure or a hold), as its JSON omits it.
func (b *builder) optUint(n uint64) *ast.Term {
	if n == 0 {
		return nil
	}
	return b.int(int64(n))
}

func (b *builder) optStr(s string) *ast.Term {
	if s == "" {
		return nil
	}
	return b.str(s)
}

// strs is an array of strings, hashed as str and arr would. A list equal
// to the one before shares its term (terms are immutable): most accounts
// have the same workloads captured as the account before.
func (b *builder) strs(ss []string) *ast.Term {
	if b.lastStrs.t == nil || !slices.Equal(ss, b.lastStrs.s) {
		ts := make([]*ast.Term, len(ss))
		for i, s := range ss {
			ts[i] = b.strTerm(s)
		}
		// A copy: ss may be scratch the caller reuses.
		b.lastStrs.s, b.lastStrs.t = slices.Clone(ss), b.term(ast.NewArray(ts...))
	}
	for _, s := range ss {
		b.write('s', s)
	}
	b.arrHeader(len(ss))
	return b.lastStrs.t
}

func (b *builder) checks(cs []Check) *ast.Term {
	out := make([]*ast.Term, len(cs))
	for i, c := range cs {
		out[i] = b.obj(b.kv(kTime, b.ts(c.Time)), b.kv(kPassed, b.boolean(c.Passed)), b.kv(kDetail, b.optStr(c.Detail)))
	}
	return b.arr(out)
}

// account is a's term. Its summary (Account.Summary) is added up here
// from the workloads as they are visited, in order.
func (b *builder) account(a *Account) *ast.Term {
	keys := b.keys[:0]
	for w := range a.Workloads {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	ws := b.ws[:0]
	var s Summary
	s.Captured = b.captured[:0]
	for _, w := range keys {
		c := a.Workloads[w]
		if c == nil { // as its JSON says: null
			ws = append(ws, [2]*ast.Term{b.str(w), ast.NullTerm()})
			b.buf = append(b.buf, 'z')
			continue
		}
		ws = append(ws, [2]*ast.Term{b.str(w), b.obj(b.kv(kFirstCapture, b.optTime(c.FirstCapture)), b.kv(kLastCapture, b.optTime(c.LastCapture)),
			b.kv(kLastCaptureRecord, b.optUint(c.LastCaptureRecord)),
			b.kv(kItems, b.int(int64(c.Items))), b.kv(kBytes, b.int(c.Bytes)), b.kv(kOldestItem, b.optTime(c.OldestItem)))})
		s.add(w, c) // keys sorted: so is s.Captured
	}
	b.keys, b.ws, b.captured = keys, ws, s.Captured
	wsTerm := b.obj(ws...)
	return b.obj(b.kv(kUPN, b.str(a.UPN)), b.kv(kID, b.optStr(a.ID)), b.kv(kKind, b.str(a.Kind)), b.kv(kState, b.str(a.State)),
		b.kv(kEnabled, b.boolean(a.Enabled)), b.kv(kLicensed, b.boolean(a.Licensed)),
		b.kv(kDepartedSince, b.optTime(a.DepartedSince)), b.kv(kDepartedReason, b.optStr(a.DepartedReason)),
		b.kv(kDepartedRecord, b.optUint(a.DepartedRecord)), b.kv(kOnHold, b.boolean(a.OnHold)),
		b.kv(kWorkloads, wsTerm),
		b.kv(kLastCapture, b.optTime(s.LastCapture)), b.kv(kLastCaptureRecord, b.optUint(s.LastCaptureRecord)), b.kv(kOldestLastCapture, b.optTime(s.OldestLastCapture)), b.kv(kCapturedWorkloads, b.strs(s.Captured)))
}

// accountBlock is how many accounts are hashed together: each block is
// built and hashed on its own core, and the block digests enter the input
// hash in order. It is part of the hash's definition, so not a tuning
// knob (tests pass a smaller one to value to cut small inventories into
// many blocks).
const accountBlock = 2048

// accounts builds the accounts' terms on every core and writes the digest
// of each block of them to b, in order.
func (b *builder) accounts(accounts []*Account, accountBlock int) []*ast.Term {
	out := make([]*ast.Term, len(accounts))
	n := (len(accounts) + accountBlock - 1) / accountBlock
	sums := make([][]byte, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cb := newBuilder(sha256.New())
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				cb.h.Reset()
				cb.buf = cb.buf[:0]
				lo, hi := i*accountBlock, min((i+1)*accountBlock, len(accounts))
				for j := lo; j < hi; j++ {
					out[j] = cb.account(accounts[j])
				}
				cb.h.Write(cb.buf)
				sums[i] = cb.h.Sum(nil)
			}
		}()
	}
	wg.Wait()
	for _, sum := range sums {
		b.write('h', string(sum))
	}
	return out
}

// Value is the inventory as a Rego value, and the input hash: SHA-256 of
// the value's leaves and keys in their fixed order.
func (inv *Inventory) Value() (ast.Value, string) { return inv.value(accountBlock) }

// value is Value with accounts hashed in blocks of block.
func (inv *Inventory) value(block int) (ast.Value, string) {
	b := newBuilder(sha256.New())
	s := inv.Settings
	accounts := b.accounts(inv.Accounts, block)
	lastRun := ast.NullTerm()
	if r := inv.LastRun; r != nil {
		fs := make([]*ast.Term, len(r.FailedItems))
		for i, f := range r.FailedItems {
			fs[i] = b.obj(b.kv(kAccount, b.str(f.Account)), b.kv(kWorkload, b.str(f.Workload)), b.kv(kItem, b.optStr(f.Item)), b.kv(kReason, b.str(f.Reason)))
		}
		lastRun = b.obj(b.kv(kID, b.str(r.ID)), b.kv(kStatus, b.str(r.Status)), b.kv(kFinished, b.ts(r.Finished)), b.kv(kFailedItems, b.arr(fs)))
	}
	holds := make([]*ast.Term, len(inv.Holds))
	for i, h := range inv.Holds {
		holds[i] = b.obj(b.kv(kCase, b.str(h.Case)), b.kv(kCustodians, b.strs(h.Custodians)), b.kv(kActive, b.boolean(h.Active)), b.kv(kPlaced, b.ts(h.Placed)), b.kv(kPlacedRecord, b.int(int64(h.PlacedRecord))))
	}
	witnesses := make([]*ast.Term, len(inv.Witnesses))
	for i, w := range inv.Witnesses {
		var pending *ast.Term
		if p := w.Pending; p != nil {
			pending = b.obj(b.kv(kSize, b.int(int64(p.Size))), b.kv(kTime, b.ts(p.Time)))
		}
		witnesses[i] = b.obj(b.kv(kName, b.str(w.Name)), b.kv(kCosigned, b.int(int64(w.Cosigned))), b.kv(kPending, pending))
	}
	v := b.obj(
		b.kv(kTenant, b.str(inv.Tenant)),
		b.kv(kEvaluatedAt, b.ts(inv.EvaluatedAt)),
		b.kv(kSettings, b.obj(b.kv(kProfile, b.str(s.Profile)), b.kv(kRetentionDays, b.int(int64(s.RetentionDays))),
			b.kv(kRPOHours, b.num(jsonFloat(s.RPOHours))), b.kv(kWorkloads, b.strs(s.Workloads)),
			b.kv(kRequiredYears, b.int(int64(s.RequiredYears))), b.kv(kRequireWORM, b.boolean(s.RequireWORM)))),
		b.kv(kStore, b.obj(b.kv(kBackend, b.str(inv.Store.Backend)), b.kv(kObjectLock, b.str(inv.Store.ObjectLock)))),
		b.kv(kAccounts, b.arr(accounts)),
		b.kv(kLastRun, lastRun),
		b.kv(kHolds, b.arr(holds)),
		b.kv(kRestoreTests, b.checks(inv.RestoreTests)),
		b.kv(kVerifyRuns, b.checks(inv.VerifyRuns)),
		b.kv(kWitnesses, b.arr(witnesses)),
	)
	return v.Value, b.sum()
}

func jsonFloat(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'f', -1, 64)) }
