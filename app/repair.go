package app

import (
	"context"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/store"
)

// RepairOptions describe a repair.
type RepairOptions struct {
	DryRun bool // find what is missing and what the tenant still has; change nothing
	// From connects to the tenant the lost content is fetched again from.
	From func(tenant string) (ingest.RepairSource, error)
}

// Repair accounts for packs the log names that are gone: it fetches their
// versions again from the tenant where the tenant still has them, byte
// for byte, and logs a store.repair record naming what was recovered and
// what is lost for good. Lost versions are an Integrity error.
func (a *App) Repair(ctx context.Context, who Actor, tenant string, o RepairOptions) (*ingest.RepairResult, error) {
	const op = "repair"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	s, err := a.Open(ctx, tenant, Repair)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	if len(s.MissingPacks()) == 0 {
		if d := s.Damaged(); d != "" {
			return nil, holdfast.Errorf(op, holdfast.Integrity, "the damage is not missing content, which is all repair can mend: %s", d)
		}
		return &ingest.RepairResult{DryRun: o.DryRun, LostPacks: []store.ID{}, Recovered: []store.RepairedVersion{}, Lost: []store.RepairedVersion{}}, nil
	}
	src, err := o.From(tenant)
	if err != nil {
		return nil, err
	}
	res, err := ingest.Repair(ctx, src, s, ingest.RepairOptions{DryRun: o.DryRun, Actor: who.String()})
	if err != nil {
		return nil, err
	}
	if len(res.Lost) > 0 {
		return res, holdfast.Errorf(op, holdfast.Integrity, "%d version(s) are lost for good: %s", len(res.Lost), strings.TrimSpace(res.Lost[0].Reason))
	}
	return res, nil
}
