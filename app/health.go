package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Health is what a dashboard shows of a tenant's store beside its
// coverage: the last policy evaluation's findings, the last verify, the
// last checkpoint.
type Health struct {
	Findings     map[string]int `json:"findings"` // by severity, at the last evaluation
	Evaluated    time.Time      `json:"evaluated,omitzero"`
	Verified     time.Time      `json:"verified,omitzero"`
	VerifyOK     bool           `json:"verify_ok"`
	VerifyFails  int            `json:"verify_failures"`
	Checkpoint   uint64         `json:"checkpoint_size"`
	Checkpointed time.Time      `json:"checkpointed,omitzero"`
}

// Health reads a tenant's health from its log: read once, and again only
// once the log grew.
func (a *App) Health(ctx context.Context, tenant string) (*Health, error) {
	return a.cache.health.get(a, tenant, func() (*Health, error) {
		s, err := a.Open(ctx, tenant, ReadOnly)
		if err != nil {
			return nil, err
		}
		defer a.closeStore(ctx, s)
		h := &Health{Findings: map[string]int{}}
		types := []string{record.TypePolicyEvaluated, record.TypeVerifyRun, record.TypeCheckpoint}
		err = s.Scan(ctx, 0, types, func(raw []byte) error {
			var r record.Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return holdfast.E("health", holdfast.Integrity, err)
			}
			switch r.Type {
			case record.TypePolicyEvaluated:
				var d record.PolicyEvaluated
				if err := record.Unmarshal(r, r.Type, &d); err != nil {
					return err
				}
				h.Findings, h.Evaluated = d.Findings, r.Time
			case record.TypeVerifyRun:
				var d record.VerifyRun
				if err := record.Unmarshal(r, r.Type, &d); err != nil {
					return err
				}
				h.Verified, h.VerifyOK, h.VerifyFails = r.Time, d.OK, d.Failures
			case record.TypeCheckpoint:
				var d record.CheckpointIssued
				if err := record.Unmarshal(r, r.Type, &d); err != nil {
					return err
				}
				h.Checkpoint, h.Checkpointed = d.Size, r.Time
			}
			return nil
		})
		return h, err
	})
}

// Runs returns the tenant's finished backup runs, oldest first: read from
// the log once, and again only once it grew.
func (a *App) Runs(ctx context.Context, tenant string) ([]record.RunFinished, error) {
	return a.cache.runs.get(a, tenant, func() ([]record.RunFinished, error) {
		out := []record.RunFinished{}
		_, err := a.Records(ctx, tenant, LogOptions{Type: record.TypeRunFinished}, func(_ []byte, r record.Record) error {
			var d record.RunFinished
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
		return out, err
	})
}
