package policy

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/holdfast/holdfast"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
)

//go:embed rego/*.rego rego/data.json
var embedded embed.FS

// Bundle is the default rules plus a user's directory.
type Bundle struct {
	modules  map[string]*ast.Module // every module, tests included
	data     map[string]any
	compiler *ast.Compiler
	Hash     string   // SHA-256 over every file's name and content and the merged data
	Files    []string // the files, in order
}

// Finding is one gap a rule found.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Tenant   string `json:"tenant"`
	Account  string `json:"account"`
	Workload string `json:"workload"`
	Message  string `json:"message"`
	Evidence any    `json:"evidence"`
}

// Severities, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// SeverityRank is a severity's place in Severities (-1 if unknown).
func SeverityRank(s string) int {
	for i, x := range Severities {
		if x == s {
			return i
		}
	}
	return -1
}

// LoadBundle reads the embedded bundle and, if dir is given, the user's
// .rego files and data.json from it, and compiles them. Syntax and
// compile errors name file and line.
func LoadBundle(dir string) (*Bundle, error) {
	const op = "load policy"
	files := map[string][]byte{}
	names, _ := embedded.ReadDir("rego")
	for _, n := range names {
		b, _ := embedded.ReadFile("rego/" + n.Name())
		files["holdfast/"+n.Name()] = b
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, holdfast.E(op, holdfast.Invalid, err)
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".rego") || e.Name() == "data.json") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, holdfast.E(op, holdfast.IO, err)
			}
			files[filepath.Join(dir, e.Name())] = b
			n++
		}
		if n == 0 {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "policy directory %s holds no .rego files and no data.json", dir)
		}
	}
	b := &Bundle{modules: map[string]*ast.Module{}, data: map[string]any{}}
	for name := range files {
		b.Files = append(b.Files, name)
	}
	sort.Slice(b.Files, func(i, j int) bool {
		// The embedded bundle first, then the user's files: their data wins.
		ei, ej := strings.HasPrefix(b.Files[i], "holdfast/"), strings.HasPrefix(b.Files[j], "holdfast/")
		if ei != ej {
			return ei
		}
		return b.Files[i] < b.Files[j]
	})
	h := sha256.New()
	for _, name := range b.Files {
		src := files[name]
		fmt.Fprintf(h, "%s\x00%d\x00", path.Base(name), len(src))
		h.Write(src)
		if path.Base(name) == "data.json" {
			var d map[string]any
			dec := json.NewDecoder(bytes.NewReader(src))
			dec.UseNumber()
			if err := dec.Decode(&d); err != nil {
				return nil, holdfast.Errorf(op, holdfast.Invalid, "%s: not a JSON object: %v", name, err)
			}
			merge(b.data, d)
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, holdfast.E(op, holdfast.Invalid, err)
		}
		if m == nil {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "%s: empty policy file", name)
		}
		b.modules[name] = m
	}
	b.Hash = hex.EncodeToString(h.Sum(nil))
	b.compiler = ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if b.compiler.Compile(b.modules); b.compiler.Failed() {
		return nil, holdfast.E(op, holdfast.Invalid, b.compiler.Errors)
	}
	return b, nil
}

// merge deep-merges src into dst: objects merge, anything else replaces.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// Result is an evaluation's outcome.
type Result struct {
	Findings     []Finding `json:"findings"`
	PolicyHash   string    `json:"policy_hash"`
	InputHash    string    `json:"input_hash"`
	FindingsHash string    `json:"findings_hash"`
}

// Eval evaluates the bundle's rules over an inventory. A rule that
// produces something that is not a well-formed finding is an error, never
// a silent pass.
func (b *Bundle) Eval(ctx context.Context, inv *Inventory) (*Result, error) {
	return b.eval(ctx, inv, true)
}

// sideBySide are the rules of the default bundle that walk every account
// (policy/rego/holdfast.rego). OPA evaluates a query on one core, so
// before the findings they are evaluated side by side, each on its own
// core, and the findings' evaluation finds their values in OPA's cache
// of rule values, as it would had it computed them itself. They include
// what a user's rules add to them; a name the bundle lacks is skipped.
var sideBySide = []string{"stale_findings", "never_captured_findings", "departed"}

// eval is Eval, with or without the rules of sideBySide evaluated first.
func (b *Bundle) eval(ctx context.Context, inv *Inventory, split bool) (*Result, error) {
	const op = "evaluate policy"
	input, inputHash := inv.Value()
	vc := topdown.NewVirtualCache()
	if split {
		if err := b.evalSideBySide(ctx, input, vc); err != nil {
			return nil, holdfast.E(op, holdfast.Invalid, err)
		}
	}
	rs, err := b.evalFindings(ctx, input, vc)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	res := &Result{Findings: []Finding{}, PolicyHash: b.Hash, InputHash: inputHash}
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		all, ok := rs[0].Expressions[0].Value.([]any)
		if !ok {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "data.holdfast.findings is not a set of findings but %T", rs[0].Expressions[0].Value)
		}
		for _, v := range all {
			f, err := toFinding(v)
			if err != nil {
				return nil, holdfast.E(op, holdfast.Invalid, err)
			}
			res.Findings = append(res.Findings, f)
		}
	}
	// Stable: OPA gives the set in a fixed order, so findings equal in
	// every compared field (their evidence differs) keep it, and the
	// findings hash stays the same from run to run.
	slices.SortStableFunc(res.Findings, func(a, c Finding) int {
		return cmp.Or(
			cmp.Compare(SeverityRank(c.Severity), SeverityRank(a.Severity)), // most severe first
			strings.Compare(a.Rule, c.Rule), strings.Compare(a.Account, c.Account),
			strings.Compare(a.Workload, c.Workload), strings.Compare(a.Message, c.Message))
	})
	fj, _ := json.Marshal(res.Findings)
	fs := sha256.Sum256(fj)
	res.FindingsHash = hex.EncodeToString(fs[:])
	return res, nil
}

// rego is a query of the bundle's compiled rules over its data.
func (b *Bundle) rego(opts ...func(*rego.Rego)) *rego.Rego {
	return rego.New(append(opts, rego.Compiler(b.compiler), rego.Store(inmem.NewFromObject(b.data)))...)
}

// evalFindings evaluates data.holdfast.findings on input, taking the
// values of rules from vc where it holds them.
func (b *Bundle) evalFindings(ctx context.Context, input ast.Value, vc topdown.VirtualCache) (rego.ResultSet, error) {
	pq, err := b.rego(rego.Query("data.holdfast.findings")).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	return pq.Eval(ctx, rego.EvalParsedInput(input), rego.EvalVirtualCache(vc))
}

// evalSideBySide evaluates the rules of sideBySide on input, each in its
// own goroutine, and puts their values in vc.
func (b *Bundle) evalSideBySide(ctx context.Context, input ast.Value, vc topdown.VirtualCache) error {
	type result struct {
		ref ast.Ref
		val *ast.Term // nil: undefined
		err error
	}
	results := make([]result, len(sideBySide))
	var wg sync.WaitGroup
	for i, name := range sideBySide {
		ref := ast.MustParseRef("data.holdfast." + name)
		if len(b.compiler.GetRulesExact(ref)) == 0 {
			continue
		}
		results[i].ref = ref
		wg.Go(func() {
			asTerm := func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil } // the value as OPA has it, not as JSON
			rs, err := b.rego(rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))), rego.ParsedInput(input), rego.GenerateJSON(asTerm)).Eval(ctx)
			if err != nil {
				results[i].err = err
				return
			}
			if len(rs) == 1 && len(rs[0].Expressions) == 1 {
				results[i].val, _ = rs[0].Expressions[0].Value.(*ast.Term)
			}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return r.err
		}
		if r.val != nil {
			vc.Put(r.ref, r.val)
		}
	}
	return nil
}

// toFinding checks one value of data.holdfast.findings.
func toFinding(v any) (Finding, error) {
	js := func() []byte { b, _ := json.Marshal(v); return b } // for errors only
	m, ok := v.(map[string]any)
	if !ok {
		return Finding{}, fmt.Errorf("a rule produced a finding that is not an object: %s", js())
	}
	var f Finding
	str := func(k string, required bool) (string, error) {
		x, present := m[k]
		s, isStr := x.(string)
		switch {
		case !present && required:
			return "", fmt.Errorf("a rule produced a finding without %q: %s", k, js())
		case present && !isStr:
			return "", fmt.Errorf("a rule produced a finding whose %q is not a string: %s", k, js())
		case required && s == "":
			return "", fmt.Errorf("a rule produced a finding with an empty %q: %s", k, js())
		}
		return s, nil
	}
	var err error
	for _, p := range []struct {
		k   string
		dst *string
		req bool
	}{{"rule", &f.Rule, true}, {"severity", &f.Severity, true}, {"tenant", &f.Tenant, false}, {"account", &f.Account, false}, {"workload", &f.Workload, false}, {"message", &f.Message, true}} {
		if *p.dst, err = str(p.k, p.req); err != nil {
			return f, err
		}
	}
	if SeverityRank(f.Severity) < 0 {
		return f, fmt.Errorf("rule %s produced severity %q, not one of %s", f.Rule, f.Severity, strings.Join(Severities, ", "))
	}
	f.Evidence = m["evidence"]
	for k := range m {
		switch k {
		case "rule", "severity", "tenant", "account", "workload", "message", "evidence":
		default:
			return f, fmt.Errorf("rule %s produced a finding with an unknown field %q", f.Rule, k)
		}
	}
	return f, nil
}

// Test runs the Rego unit tests of the bundle with OPA's test runner and
// prints OPA's report; it returns how many passed and failed.
func (b *Bundle) Test(ctx context.Context, w io.Writer, verbose bool) (pass, fail int, err error) {
	const op = "policy test"
	store := inmem.NewFromObject(b.data)
	txn, err := store.NewTransaction(ctx, storage.TransactionParams{})
	if err != nil {
		return 0, 0, holdfast.E(op, err)
	}
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().SetDefaultRegoVersion(ast.RegoV1).SetCompiler(ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)).
		SetStore(store).SetModules(b.modules).RunTests(ctx, txn)
	if err != nil {
		return 0, 0, holdfast.E(op, holdfast.Invalid, err)
	}
	var results []*tester.Result
	relay := make(chan *tester.Result)
	go func() {
		for r := range ch {
			results = append(results, r)
			relay <- r
		}
		close(relay)
	}()
	if err := (tester.PrettyReporter{Output: w, Verbose: verbose, FailureLine: true}).Report(relay); err != nil {
		return 0, 0, holdfast.E(op, holdfast.IO, err)
	}
	for _, r := range results {
		switch {
		case r.Pass():
			pass++
		case !r.Skip:
			fail++
		}
	}
	return pass, fail, nil
}
