package app

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
)

// Late is an account's workload whose last successful capture is older
// than the tenant's RPO.
type Late struct {
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Last     time.Time         `json:"last_capture"` // zero: never captured
	RPOHours float64           `json:"rpo_hours"`
}

// LateBackups lists the active accounts' workloads, among those the
// tenant's settings require, whose last capture is older than the RPO at
// now. Departed accounts are not late: nothing more is captured of them.
func (a *App) LateBackups(ctx context.Context, tenant string) ([]Late, error) {
	// Asked of every tenant every few minutes: both are read from the log
	// again only once it grew.
	settings, err := a.cache.settings.get(a, tenant, func() (policy.Settings, error) { return a.PolicySettings(ctx, tenant) })
	if err != nil {
		return nil, err
	}
	st, err := a.KeptStatus(ctx, tenant)
	if err != nil {
		return nil, err
	}
	rpo := time.Duration(settings.RPOHours * float64(time.Hour))
	now := a.now()
	out := []Late{}
	for _, acct := range st.Accounts {
		if acct.State != "" && acct.State != holdfast.StateActive {
			continue
		}
		for w, last := range acct.LastSuccess {
			if slices.Contains(settings.Workloads, string(w)) && now.Sub(last) > rpo {
				out = append(out, Late{Account: acct.UPN, Workload: w, Last: last, RPOHours: settings.RPOHours})
			}
		}
	}
	slices.SortFunc(out, func(x, y Late) int {
		if x.Account != y.Account {
			if x.Account < y.Account {
				return -1
			}
			return 1
		}
		if x.Workload < y.Workload {
			return -1
		}
		if x.Workload > y.Workload {
			return 1
		}
		return 0
	})
	return out, nil
}

// PolicySettings are the tenant's retention settings: the latest
// policy.settings record, or the defaults. A read: it never waits for a
// running backup.
func (a *App) PolicySettings(ctx context.Context, tenant string) (policy.Settings, error) {
	settings := policy.DefaultSettings()
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return settings, err
	}
	defer a.closeStore(ctx, s)
	err = s.Scan(ctx, 0, []string{record.TypePolicySettings}, func(raw []byte) error {
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E("policy settings", holdfast.Integrity, err)
		}
		return record.Unmarshal(r, r.Type, &settings)
	})
	return settings, err
}

// Unsigned is the part of a tenant's log that no signed checkpoint covers:
// records from Checkpoint to Size, the first of them written at Since.
type Unsigned struct {
	Size       uint64    `json:"size"`
	Checkpoint uint64    `json:"checkpoint_size"` // the newest signed checkpoint's size (0: none)
	Since      time.Time `json:"since"`
}

// UnsignedTail returns what of the tenant's log no signed checkpoint
// covers, or nil when the newest checkpoint covers it all. Every write
// signs a checkpoint when it ends, and a long backup every 10 minutes, so
// a tail that stays unsigned means signing failed or a writer died. A
// newest checkpoint that does not verify is an Integrity error.
func (a *App) UnsignedTail(ctx context.Context, tenant string) (*Unsigned, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	size := s.Size()
	c, err := s.LatestCheckpoint(ctx)
	if err != nil && !holdfast.Is(holdfast.NotFound, err) {
		return nil, err
	}
	if c.Size >= size {
		return nil, nil
	}
	r, _, err := s.Record(ctx, c.Size)
	if err != nil {
		return nil, err
	}
	return &Unsigned{Size: size, Checkpoint: c.Size, Since: r.Time}, nil
}
