// Package policy finds retention and coverage gaps with Rego policies (OPA)
// over an inventory built from a tenant's store: accounts and their state,
// what was captured of each workload and when, failed items, holds,
// restore tests, verify runs and the store's immutability. A default
// bundle is embedded (rego/); users add rules and settings from a
// directory.
package policy

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
)

// Inventory is the policy input. docs/policy.md and inventory.schema.json
// describe it.
type Inventory struct {
	Tenant       string     `json:"tenant"`
	EvaluatedAt  time.Time  `json:"evaluated_at"`
	Settings     Settings   `json:"settings"`
	Store        StoreInfo  `json:"store"`
	Accounts     []*Account `json:"accounts"`
	LastRun      *Run       `json:"last_run"`
	Holds        []Hold     `json:"holds"`
	RestoreTests []Check    `json:"restore_tests"`
	VerifyRuns   []Check    `json:"verify_runs"`
	// Witnesses are the tenant's witnesses and how far each has cosigned
	// the log's checkpoints.
	Witnesses []WitnessState `json:"witnesses"`
}

// WitnessState is one configured witness: the newest checkpoint it
// cosigned, and the oldest checkpoint after that, which waits for it.
type WitnessState struct {
	Name     string         `json:"name"`
	Cosigned uint64         `json:"cosigned"` // 0: none yet
	Pending  *CheckpointRef `json:"pending,omitempty"`
}

// CheckpointRef is a checkpoint and when it was issued.
type CheckpointRef struct {
	Size uint64    `json:"size"`
	Time time.Time `json:"time"`
}

// cosignedLister is what a Scanner that keeps witnesses' cosignatures
// (the store) also offers.
type cosignedLister interface {
	CosignedSizes(ctx context.Context) (map[uint64][]uint32, error)
}

// Settings are a tenant's retention settings, set with holdfast policy set
// and kept as policy.settings records.
type Settings = record.PolicySettings

// Profiles are the retention profiles settings may name.
var Profiles = []string{"none", "nl-fiscal", "sec-17a-4", "finra-4511", "hipaa", "sox", "custom"}

// DefaultSettings apply until a tenant's are set.
func DefaultSettings() Settings {
	ws := make([]string, len(holdfast.Workloads))
	for i, w := range holdfast.Workloads {
		ws[i] = string(w)
	}
	return Settings{Profile: "none", RPOHours: 24, Workloads: ws}
}

// ValidateSettings checks settings.
func ValidateSettings(s Settings) error {
	const op = "policy settings"
	ok := false
	for _, p := range Profiles {
		ok = ok || p == s.Profile
	}
	switch {
	case !ok:
		return holdfast.Errorf(op, holdfast.Invalid, "unknown profile %q (one of %s)", s.Profile, strings.Join(Profiles, ", "))
	case s.RetentionDays < 0:
		return holdfast.E(op, holdfast.Invalid, "retention days cannot be negative")
	case s.RPOHours <= 0:
		return holdfast.E(op, holdfast.Invalid, "the RPO must be positive")
	}
	if _, err := holdfast.ParseWorkloads(strings.Join(s.Workloads, ",")); err != nil {
		return holdfast.E(op, holdfast.Invalid, err)
	}
	return nil
}

// StoreInfo says where the store is and how immutable it is.
type StoreInfo struct {
	Backend    string `json:"backend"`     // local, s3
	ObjectLock string `json:"object_lock"` // none, governance, compliance
}

// Account is an account (a user, a site, a team or a chat) and what was
// captured of it.
type Account struct {
	UPN            string     `json:"upn"`
	ID             string     `json:"id,omitempty"`
	Kind           string     `json:"kind"` // user, shared, room, equipment, guest, site, team, chat
	State          string     `json:"state"`
	Enabled        bool       `json:"enabled"`
	Licensed       bool       `json:"licensed"`
	DepartedSince  *time.Time `json:"departed_since,omitempty"`
	DepartedReason string     `json:"departed_reason,omitempty"`
	// DepartedRecord is the log position of the departure: a capture is
	// after it when its record comes later in the log (times are to the
	// second, the log's order is exact).
	DepartedRecord uint64               `json:"departed_record,omitempty"`
	OnHold         bool                 `json:"on_hold"`
	Workloads      map[string]*Coverage `json:"workloads"`
}

// Summary is what the inventory says of an account as a whole, derived
// from its workloads whenever the account is written out (JSON or Rego
// value), so it can never disagree with them. Rules over tens of
// thousands of accounts test these first and look at the workloads only
// of the few accounts that may have a gap.
type Summary struct {
	LastCapture       *time.Time // the newest last capture of any workload; nil: nothing captured
	LastCaptureRecord uint64     // the log position of that capture
	OldestLastCapture *time.Time // the oldest last capture of a captured workload
	Captured          []string   // the workloads with a last capture, sorted
}

// Summary derives the account's summary from its workloads.
func (a *Account) Summary() Summary {
	var s Summary
	s.Captured = make([]string, 0, len(a.Workloads))
	for w, c := range a.Workloads {
		s.add(w, c)
	}
	sort.Strings(s.Captured)
	return s
}

// add counts workload w's coverage c into the summary (Captured in the
// order of the calls).
func (s *Summary) add(w string, c *Coverage) {
	if c == nil || c.LastCapture == nil {
		return
	}
	s.Captured = append(s.Captured, w)
	if s.LastCapture == nil || c.LastCapture.After(*s.LastCapture) {
		s.LastCapture = c.LastCapture
	}
	s.LastCaptureRecord = max(s.LastCaptureRecord, c.LastCaptureRecord)
	if s.OldestLastCapture == nil || c.LastCapture.Before(*s.OldestLastCapture) {
		s.OldestLastCapture = c.LastCapture
	}
}

// MarshalJSON writes the account with its summary.
func (a *Account) MarshalJSON() ([]byte, error) {
	type plain Account
	s := a.Summary()
	return json.Marshal(struct {
		*plain
		LastCapture       *time.Time `json:"last_capture,omitempty"`
		LastCaptureRecord uint64     `json:"last_capture_record,omitempty"`
		OldestLastCapture *time.Time `json:"oldest_last_capture,omitempty"`
		Captured          []string   `json:"captured_workloads"`
	}{(*plain)(a), s.LastCapture, s.LastCaptureRecord, s.OldestLastCapture, s.Captured})
}

// Coverage is what was captured of one workload of an account.
type Coverage struct {
	FirstCapture *time.Time `json:"first_capture,omitempty"` // first and last successful sync of its streams
	LastCapture  *time.Time `json:"last_capture,omitempty"`
	// LastCaptureRecord is the log position of the last capture.
	LastCaptureRecord uint64     `json:"last_capture_record,omitempty"`
	Items             int        `json:"items"` // item versions captured
	Bytes             int64      `json:"bytes"`
	OldestItem        *time.Time `json:"oldest_item,omitempty"` // when the oldest version kept was captured
}

// Run is the last backup run.
type Run struct {
	ID          string       `json:"id"`
	Status      string       `json:"status"`
	Finished    time.Time    `json:"finished"`
	FailedItems []FailedItem `json:"failed_items"`
}

// FailedItem is an item a run could not capture.
type FailedItem struct {
	Account  string `json:"account"`
	Workload string `json:"workload"`
	Item     string `json:"item,omitempty"`
	Reason   string `json:"reason"`
}

// Hold is a legal hold.
type Hold struct {
	Case       string    `json:"case"`
	Custodians []string  `json:"custodians"`
	Active     bool      `json:"active"`
	Placed     time.Time `json:"placed"`
	// PlacedRecord is the hold's log position: a custodian is captured
	// since the hold when a capture's record comes later.
	PlacedRecord uint64 `json:"placed_record"`
}

// Check is a restore test or a verify run.
type Check struct {
	Time   time.Time `json:"time"`
	Passed bool      `json:"passed"`
	Detail string    `json:"detail,omitempty"`
}

// Scanner is what the inventory reads: records by type, never contents.
type Scanner interface {
	Scan(ctx context.Context, from uint64, types []string, fn func(raw []byte) error) error
}

var inventoryTypes = []string{record.TypeAccountState, record.TypeAccountDeparted, record.TypeDeltaPosition, record.TypeItemVersion, record.TypeRunFinished,
	record.TypeHoldPlaced, record.TypeHoldReleased, record.TypeRestorePerformed, record.TypeVerifyRun, record.TypePolicySettings,
	record.TypeCheckpoint, record.TypeWitnessesSet}

// Build reads the inventory of a tenant from its log.
func Build(ctx context.Context, lg Scanner, tenant string, si StoreInfo, now time.Time) (*Inventory, error) {
	const op = "policy inventory"
	inv := &Inventory{Tenant: tenant, EvaluatedAt: now.UTC().Truncate(time.Second), Settings: DefaultSettings(), Store: si,
		Holds: []Hold{}, RestoreTests: []Check{}, VerifyRuns: []Check{}, Witnesses: []WitnessState{}}
	var checkpoints []CheckpointRef
	var witnesses []record.Witness
	accounts := map[string]*Account{}
	account := func(upn string) *Account {
		key := strings.ToLower(upn)
		a := accounts[key]
		if a == nil {
			a = &Account{UPN: upn, Kind: kindOf(upn), State: "active", Enabled: true, Licensed: true, Workloads: map[string]*Coverage{}}
			accounts[key] = a
		}
		return a
	}
	cover := func(a *Account, w string) *Coverage {
		c := a.Workloads[w]
		if c == nil {
			c = &Coverage{}
			a.Workloads[w] = c
		}
		return c
	}
	holds := map[string]*Hold{}
	var rec struct {
		Index uint64          `json:"index"`
		Type  string          `json:"type"`
		Time  time.Time       `json:"time"`
		Data  json.RawMessage `json:"data"`
		Refs  []struct {
			Size int64 `json:"size"`
		} `json:"refs"`
	}
	err := lg.Scan(ctx, 0, inventoryTypes, func(raw []byte) error {
		rec.Refs = rec.Refs[:0]
		if err := json.Unmarshal(raw, &rec); err != nil {
			return holdfast.E(op, holdfast.Integrity, err)
		}
		// Each record's data decodes into its record type.
		data := func(v any) error {
			if err := json.Unmarshal(rec.Data, v); err != nil {
				return holdfast.E(op, holdfast.Integrity, err, rec.Type)
			}
			return nil
		}
		// Times to the second, in UTC: they compare as strings in Rego.
		t := rec.Time.UTC().Truncate(time.Second)
		if t.After(inv.EvaluatedAt) {
			return nil // the inventory is as of its moment
		}
		switch rec.Type {
		case record.TypeAccountState:
			var d record.AccountState
			if err := data(&d); err != nil {
				return err
			}
			a := account(d.Account)
			a.ID, a.State = d.AccountID, d.State
			if d.Kind != "" && a.Kind == "user" {
				a.Kind = accountKind(d.Kind)
			}
			if a.Kind != "user" {
				a.DepartedSince, a.DepartedReason, a.DepartedRecord = nil, "", 0 // not an employee: never departed
			}
			a.Enabled = d.State != string(holdfast.StateDisabled) && d.State != string(holdfast.StateDeleted)
			a.Licensed = d.State != string(holdfast.StateUnlicensed)
			if d.State == string(holdfast.StateActive) {
				a.DepartedSince, a.DepartedReason, a.DepartedRecord = nil, "", 0
			}
		case record.TypeAccountDeparted:
			var d record.AccountState
			if err := data(&d); err != nil {
				return err
			}
			a := account(d.Account)
			since := d.FirstSeen.UTC().Truncate(time.Second)
			if since.IsZero() {
				since = t
			}
			if a.Kind == "user" {
				a.DepartedSince, a.DepartedReason, a.DepartedRecord = &since, d.Reason, rec.Index
			}
		case record.TypeDeltaPosition:
			var d record.DeltaPosition
			if err := data(&d); err != nil {
				return err
			}
			c := cover(account(d.Account), string(d.Workload))
			if c.FirstCapture == nil {
				c.FirstCapture = &t
			}
			c.LastCapture, c.LastCaptureRecord = &t, rec.Index
		case record.TypeItemVersion:
			var d record.ItemVersion
			if err := data(&d); err != nil {
				return err
			}
			c := cover(account(d.Account), string(d.Workload))
			c.Items++
			for _, r := range rec.Refs {
				c.Bytes += r.Size
			}
			if c.OldestItem == nil {
				c.OldestItem = &t
			}
		case record.TypeRunFinished:
			var d record.RunFinished
			if err := data(&d); err != nil {
				return err
			}
			run := &Run{ID: d.Run, Status: d.Status, Finished: t, FailedItems: []FailedItem{}}
			for _, f := range d.FailedItems {
				run.FailedItems = append(run.FailedItems, FailedItem{Account: f.Account, Workload: string(f.Workload), Item: f.Item, Reason: f.Reason})
			}
			inv.LastRun = run
		case record.TypeHoldPlaced:
			var d record.HoldPlaced
			if err := data(&d); err != nil {
				return err
			}
			holds[strings.ToLower(d.Case)] = &Hold{Case: d.Case, Custodians: d.Custodians, Active: true, Placed: t, PlacedRecord: rec.Index}
		case record.TypeHoldReleased:
			var d record.HoldReleased
			if err := data(&d); err != nil {
				return err
			}
			if h := holds[strings.ToLower(d.Case)]; h != nil {
				h.Active = false
			}
		case record.TypeRestorePerformed:
			var d record.RestorePerformed
			if err := data(&d); err != nil {
				return err
			}
			if d.Test {
				inv.RestoreTests = append(inv.RestoreTests, Check{Time: t, Passed: d.Status == "passed", Detail: d.Status})
			}
		case record.TypeVerifyRun:
			var d record.VerifyRun
			if err := data(&d); err != nil {
				return err
			}
			inv.VerifyRuns = append(inv.VerifyRuns, Check{Time: t, Passed: d.OK, Detail: strings.TrimSpace(strings.Repeat("failures ", min(d.Failures, 1)))})
		case record.TypePolicySettings:
			var d Settings
			if err := data(&d); err != nil {
				return err
			}
			inv.Settings = d
		case record.TypeCheckpoint:
			var d record.CheckpointIssued
			if err := data(&d); err != nil {
				return err
			}
			checkpoints = append(checkpoints, CheckpointRef{Size: d.Size, Time: t})
		case record.TypeWitnessesSet:
			var d record.WitnessesSet
			if err := data(&d); err != nil {
				return err
			}
			witnesses = d.Witnesses
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		inv.Holds = append(inv.Holds, *h)
		if h.Active {
			for _, c := range h.Custodians {
				if a := accounts[strings.ToLower(c)]; a != nil {
					a.OnHold = true
				}
			}
		}
	}
	sort.Slice(inv.Holds, func(i, j int) bool { return inv.Holds[i].Placed.Before(inv.Holds[j].Placed) })
	for _, a := range accounts {
		inv.Accounts = append(inv.Accounts, a)
	}
	sort.Slice(inv.Accounts, func(i, j int) bool { return inv.Accounts[i].UPN < inv.Accounts[j].UPN })
	if inv.Accounts == nil {
		inv.Accounts = []*Account{}
	}
	if cl, ok := lg.(cosignedLister); ok && len(witnesses) > 0 {
		cosigned, err := cl.CosignedSizes(ctx)
		if err != nil {
			return nil, err
		}
		inv.Witnesses = witnessStates(witnesses, checkpoints, cosigned)
	}
	return inv, nil
}

// witnessStates says, for each witness, the newest checkpoint it cosigned
// and the oldest one after it, which waits for its cosignature.
func witnessStates(ws []record.Witness, ckpts []CheckpointRef, cosigned map[uint64][]uint32) []WitnessState {
	out := []WitnessState{}
	for _, w := range ws {
		st := WitnessState{Name: w.Name}
		parts := strings.SplitN(w.Key, "+", 3)
		hash, err := strconv.ParseUint(parts[min(1, len(parts)-1)], 16, 32)
		if err == nil {
			for size, hashes := range cosigned {
				if size > st.Cosigned && slices.Contains(hashes, uint32(hash)) {
					st.Cosigned = size
				}
			}
		}
		for _, c := range ckpts {
			if c.Size > st.Cosigned {
				st.Pending = &c
				break
			}
		}
		out = append(out, st)
	}
	return out
}

// accountKind maps the kind an account.state record gives a user (a
// linked mailbox is an employee's) to the inventory's.
func accountKind(k string) string {
	switch k {
	case holdfast.KindShared, holdfast.KindRoom, holdfast.KindEquipment, holdfast.KindGuest:
		return k
	}
	return "user"
}

func kindOf(upn string) string {
	switch {
	case strings.HasPrefix(upn, "team:"):
		return "team"
	case strings.HasPrefix(upn, "chat:"):
		return "chat"
	case strings.HasPrefix(upn, "https://"):
		return "site"
	}
	return "user"
}

// Requirement is how long a retention profile wants records kept, and
// whether on write-once storage, as the embedded policy data says
// (holdfast.profiles); the custom profile takes them from the settings.
func Requirement(s Settings) (years int, worm bool) {
	if s.Profile == "custom" {
		return s.RequiredYears, s.RequireWORM
	}
	b, err := embedded.ReadFile("rego/data.json")
	if err != nil {
		return 0, false
	}
	var d struct {
		Holdfast struct {
			Profiles map[string]struct {
				Years int  `json:"years"`
				WORM  bool `json:"worm"`
			} `json:"profiles"`
		} `json:"holdfast"`
	}
	if json.Unmarshal(b, &d) != nil {
		return 0, false
	}
	p := d.Holdfast.Profiles[s.Profile]
	return p.Years, p.WORM
}
