package app

import (
	"context"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Directory is a tenant's directory as policies read it: its accounts.
type Directory interface {
	Accounts(ctx context.Context) ([]holdfast.Account, error)
}

// DirectoryOf connects to a tenant's directory (Graph, wired by the front
// door). A nil DirectoryOf evaluates offline: what the store knows.
type DirectoryOf func(tenant string) (Directory, error)

// SettingsChange names the settings to change; nil fields stay.
type SettingsChange struct {
	Profile       *string
	RetentionDays *int
	RPOHours      *float64
	Workloads     *string // comma-separated workloads
	RequiredYears *int
	RequireWORM   *bool
}

// SetPolicy changes a tenant's retention settings and logs the result as a
// policy.settings record.
func (a *App) SetPolicy(ctx context.Context, who Actor, tenant string, ch SettingsChange) (policy.Settings, error) {
	const op = "policy set"
	if err := who.validate(op); err != nil {
		return policy.Settings{}, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return policy.Settings{}, err
	}
	defer a.closeStore(ctx, s)
	inv, err := policy.Build(ctx, s, tenant, StoreInfo(s), a.now())
	if err != nil {
		return policy.Settings{}, err
	}
	st := inv.Settings
	if ch.Profile != nil {
		st.Profile = *ch.Profile
	}
	if ch.RetentionDays != nil {
		st.RetentionDays = *ch.RetentionDays
	}
	if ch.RPOHours != nil {
		st.RPOHours = *ch.RPOHours
	}
	if ch.Workloads != nil {
		ws, err := holdfast.ParseWorkloads(*ch.Workloads)
		if err != nil {
			return policy.Settings{}, holdfast.E(op, holdfast.Invalid, err)
		}
		st.Workloads = nil
		for _, w := range ws {
			st.Workloads = append(st.Workloads, string(w))
		}
	}
	if ch.RequiredYears != nil {
		st.RequiredYears = *ch.RequiredYears
	}
	if ch.RequireWORM != nil {
		st.RequireWORM = *ch.RequireWORM
	}
	if err := policy.ValidateSettings(st); err != nil {
		return policy.Settings{}, err
	}
	// A repository in a bucket locks what it writes from now on as the
	// profile wants: compliance mode for a WORM profile, for its years or
	// the retention days, whichever is longer (never shorter than before).
	// A bucket without Object Lock is refused for such a profile before
	// the settings are logged.
	years, worm := policy.Requirement(st)
	mode := "GOVERNANCE"
	if worm {
		mode = "COMPLIANCE"
	}
	r, changed, err := s.RaiseRetention(ctx, mode, max(st.RetentionDays, years*366))
	if err != nil {
		return policy.Settings{}, holdfast.E(op, err)
	}
	if _, err := s.Append(ctx, record.TypePolicySettings, record.PolicySettingsSet{PolicySettings: st, Actor: who.String()}); err != nil {
		return policy.Settings{}, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return policy.Settings{}, err
	}
	if changed {
		a.note("objects of tenant %s written from now on are locked (%s) for %d days", tenant, strings.ToLower(r.LockMode), r.LockDays)
	}
	return st, nil
}

// inventory builds a tenant's inventory, reading the directory first
// unless dir is nil.
func (a *App) inventory(ctx context.Context, s *store.Store, tenant string, dir DirectoryOf) (*policy.Inventory, error) {
	if dir != nil {
		src, err := dir(tenant)
		if err == nil {
			_, err = ingest.RefreshDirectory(ctx, src, s, a.now())
		}
		if err != nil {
			return nil, holdfast.E("policy", err, "read the directory of "+tenant+" from Graph (--offline evaluates what the store knows)")
		}
	}
	return policy.Build(ctx, s, tenant, StoreInfo(s), a.now())
}

// Inventory is what the policies are evaluated on: a tenant's accounts,
// coverage, runs, holds and checks, as of now.
func (a *App) Inventory(ctx context.Context, who Actor, tenant string, dir DirectoryOf) (*policy.Inventory, error) {
	if err := who.validate("policy inventory"); err != nil {
		return nil, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	return a.inventory(ctx, s, tenant, dir)
}

// EvaluatePolicies evaluates the bundle on a tenant's inventory and logs
// the evaluation (policy.evaluated: the hashes of policy, input and
// findings, and the findings by severity).
func (a *App) EvaluatePolicies(ctx context.Context, who Actor, tenant string, b *policy.Bundle, dir DirectoryOf) (*policy.Result, error) {
	if err := who.validate("policy eval"); err != nil {
		return nil, err
	}
	s, err := a.Open(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	inv, err := a.inventory(ctx, s, tenant, dir)
	if err != nil {
		return nil, err
	}
	res, err := b.Eval(ctx, inv)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, f := range res.Findings {
		counts[f.Severity]++
	}
	rec := record.PolicyEvaluated{Tenant: tenant, Actor: who.String(), PolicyHash: res.PolicyHash, PolicyFiles: b.Files, InputHash: res.InputHash, FindingsHash: res.FindingsHash, Findings: counts}
	if _, err := s.Append(ctx, record.TypePolicyEvaluated, rec); err != nil {
		return nil, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return nil, err
	}
	return res, nil
}
