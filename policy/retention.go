package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
	"github.com/open-policy-agent/opa/v1/rego"
)

// RetentionInput is what the retention rules (data.holdfast.retention,
// policy/rego/retention.rego) see: the tenant, its settings and the time.
type RetentionInput struct {
	Tenant   string                `json:"tenant"`
	Settings record.PolicySettings `json:"settings"`
	At       time.Time             `json:"evaluated_at"`
}

// Retention evaluates the tenant's retention schedule: the rules, sorted
// by name, each checked here too (a rule Rego lets through that Holdfast
// could not apply is an error, never skipped). The schedule's errors
// refuse it, all of them named.
func (b *Bundle) Retention(ctx context.Context, in RetentionInput) ([]record.RetentionRule, error) {
	const op = "retention schedule"
	raw, _ := json.Marshal(in)
	var input any
	if err := json.Unmarshal(raw, &input); err != nil {
		return nil, holdfast.E(op, err)
	}
	rs, err := b.rego(rego.Query("data.holdfast.retention"), rego.Input(input)).Eval(ctx)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	var out struct {
		Rules  []json.RawMessage `json:"rules"`
		Errors []string          `json:"errors"`
	}
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		b, _ := json.Marshal(rs[0].Expressions[0].Value)
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "data.holdfast.retention: %v", err)
		}
	}
	if len(out.Errors) > 0 {
		slices.Sort(out.Errors)
		return nil, holdfast.Errorf(op, holdfast.Invalid, "the retention schedule is refused: %s", strings.Join(out.Errors, "; "))
	}
	rules := make([]record.RetentionRule, 0, len(out.Rules))
	for _, raw := range out.Rules {
		var r record.RetentionRule
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "retention rule %s: %v", raw, err)
		}
		if err := CheckRule(r); err != nil {
			return nil, holdfast.E(op, err)
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b record.RetentionRule) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(rules); i++ {
		if rules[i].Name == rules[i-1].Name {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "two retention rules are named %q", rules[i].Name)
		}
	}
	return rules, nil
}

// CheckRule refuses a retention rule Holdfast could not apply as written.
func CheckRule(r record.RetentionRule) error {
	name := fmt.Sprintf("retention rule %q", r.Name)
	switch {
	case strings.TrimSpace(r.Name) == "" || strings.ContainsFunc(r.Name, holdfast.IsControl):
		return holdfast.Errorf("retention rule", holdfast.Invalid, "a rule needs a printable name (%q)", r.Name)
	case r.KeepDays <= 0:
		return holdfast.Errorf(name, holdfast.Invalid, "keep_days is %d: a rule keeps versions at least one day", r.KeepDays)
	case r.From != "received" && r.From != "modified" && r.From != "departure":
		return holdfast.Errorf(name, holdfast.Invalid, "from is %q: use received, modified or departure", r.From)
	}
	for _, w := range r.Workloads {
		if !slices.Contains(holdfast.Workloads, holdfast.Workload(w)) {
			return holdfast.Errorf(name, holdfast.Invalid, "unknown workload %q", w)
		}
	}
	if r.Query != "" {
		if _, err := kql.Parse(r.Query); err != nil {
			return holdfast.E(name, holdfast.Invalid, err)
		}
	}
	return nil
}
