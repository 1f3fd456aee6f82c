package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ingest"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/reports"
	"github.com/holdfast/holdfast/store"
	"golang.org/x/mod/sumdb/note"
)

// Status is what a tenant's store holds per workload and account, and the
// last run.
type Status struct {
	*ingest.Status
	Records uint64 `json:"records"`
}

// Status summarises a tenant's log.
func (a *App) Status(ctx context.Context, tenant string) (*Status, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	st, err := ingest.ReadStatus(ctx, s)
	if err != nil {
		return nil, err
	}
	return &Status{Status: st, Records: s.Size()}, nil
}

// LatestCheckpoint returns the tenant's newest signed checkpoint: what an
// auditor keeps, so that a later rollback of the log shows.
func (a *App) LatestCheckpoint(ctx context.Context, tenant string) (store.Checkpoint, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return store.Checkpoint{}, err
	}
	defer a.closeStore(ctx, s)
	c, err := s.LatestCheckpoint(ctx)
	if err != nil {
		return store.Checkpoint{}, holdfast.E("checkpoint", err)
	}
	return c, nil
}

// ProofOptions name a proof: the inclusion of Record in the checkpoint of
// size Checkpoint (0: the newest), or the consistency of checkpoint Old
// with checkpoint New.
type ProofOptions struct {
	Inclusion  bool
	Record     uint64
	Checkpoint uint64
	Old, New   uint64
}

// Proof returns a self-contained proof bundle an auditor checks offline.
func (a *App) Proof(ctx context.Context, tenant string, o ProofOptions) (*store.Bundle, error) {
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	if o.Inclusion {
		return s.InclusionBundle(ctx, o.Record, o.Checkpoint)
	}
	return s.ConsistencyBundle(ctx, o.Old, o.New)
}

// LogOptions select records of a tenant's log.
type LogOptions struct {
	Type  string   // only records of this type
	Types []string // only records of these types (with Type: of any of them)
	From  uint64   // first record index
	Last  uint64   // start at the last N records
	Limit int      // at most this many (0: all)
}

// errEnough stops a scan early.
var errEnough = errors.New("enough")

// Records calls fn with each selected record, as logged (its canonical
// bytes) and decoded, in order, and returns the log's size.
func (a *App) Records(ctx context.Context, tenant string, o LogOptions, fn func(raw []byte, r record.Record) error) (uint64, error) {
	if o.Type != "" && !record.ValidType(o.Type) {
		return 0, holdfast.Errorf("log", holdfast.Invalid, "%q is not a record type (e.g. item.version, verify.run)", o.Type)
	}
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return 0, err
	}
	defer a.closeStore(ctx, s)
	if o.Last > 0 {
		if size := s.Size(); size > o.Last {
			o.From = max(o.From, size-o.Last)
		}
	}
	n := 0
	visit := func(raw []byte, r store.Record) error {
		if o.Limit > 0 && n >= o.Limit {
			return errEnough
		}
		n++
		return fn(raw, r)
	}
	types := o.Types
	if o.Type != "" {
		types = append(slices.Clone(types), o.Type)
	}
	if len(types) == 0 {
		err = s.Records(ctx, o.From, visit)
	} else {
		// Only those types' records are decoded: Scan picks them out first.
		err = s.Scan(ctx, o.From, types, func(raw []byte) error {
			var r record.Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return holdfast.E("log", holdfast.Integrity, err)
			}
			return visit(raw, r)
		})
	}
	if err != nil && !errors.Is(err, errEnough) {
		return 0, err
	}
	return s.Size(), nil
}

// ReportVerified is what a report's check found.
type ReportVerified struct {
	*reports.SignatureInfo
	CheckpointSize uint64 `json:"checkpoint_size"`
	CheckpointRoot []byte `json:"-"`
	Checkpoint     []byte `json:"-"` // the note embedded in the report, with its cosignatures
}

// VerifyReport checks a signed report: its PDF signature over the whole
// document, and the checkpoint it speaks for — against the log key v
// offline, or, when v is nil, against the tenant's store (the checkpoint
// must be the one the store holds at that size).
func (a *App) VerifyReport(ctx context.Context, tenant string, pdf []byte, v note.Verifier) (*ReportVerified, error) {
	const op = "report verify"
	info, err := reports.VerifySignature(pdf)
	if err != nil {
		return nil, err
	}
	n, err := reports.EmbeddedCheckpoint(pdf)
	if err != nil {
		return nil, err
	}
	if v != nil {
		ckp, err := store.ParseCheckpoint(n, v)
		if err != nil {
			return nil, holdfast.E(op, holdfast.Integrity, err, "the report's checkpoint")
		}
		return &ReportVerified{SignatureInfo: info, CheckpointSize: ckp.Size, CheckpointRoot: ckp.Root, Checkpoint: n}, nil
	}
	if tenant == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "give --key VKEY to check offline, or --tenant T to check against the store")
	}
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	v, err = note.NewVerifier(s.Config().LogKey)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the store's log key")
	}
	ckp, err := store.ParseCheckpoint(n, v)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "the report's checkpoint")
	}
	stored, err := s.CheckpointAt(ctx, ckp.Size)
	if err != nil || !bytes.Equal(stored.Root, ckp.Root) {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "the report's checkpoint of size %d is not the one in the store", ckp.Size)
	}
	return &ReportVerified{SignatureInfo: info, CheckpointSize: ckp.Size, CheckpointRoot: ckp.Root, Checkpoint: n}, nil
}

// ItemVersion is one captured version of an item, or its deletion.
type ItemVersion struct {
	Record   uint64              `json:"record"`
	Time     string              `json:"captured"`
	Type     string              `json:"type"` // item.version, item.tombstone, item.deleted_unseen
	Version  *record.ItemVersion `json:"version,omitempty"`
	Bytes    int64               `json:"bytes,omitempty"`
	Deletion json.RawMessage     `json:"deletion,omitempty"` // a tombstone's or deleted_unseen record's data
}

// ItemHistory is every captured version of an item, oldest first.
type ItemHistory struct {
	Item     string        `json:"item"`
	Versions []ItemVersion `json:"versions"`
}

// Item returns the history of an item — every version captured and its
// deletion, if any — and logs the read as an audit.event ("read"): reading
// a custodian's item is an access a legal team must be able to account for.
func (a *App) Item(ctx context.Context, who Actor, tenant, item string) (*ItemHistory, error) {
	const op = "item"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	if item == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "name the item (its id, as search shows it)")
	}
	s, err := a.Open(ctx, tenant, Shared)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	h := &ItemHistory{Item: item, Versions: []ItemVersion{}}
	types := []string{record.TypeItemVersion, record.TypeTombstone, record.TypeDeletedUnseen}
	// A cheap filter for ids a record writes as they are (no character
	// RFC 8785 escapes); the decoded data decides.
	plain := !strings.ContainsFunc(item, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' })
	err = s.Scan(ctx, 0, types, func(raw []byte) error {
		if plain && !bytes.Contains(raw, []byte(item)) {
			return nil
		}
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E(op, holdfast.Integrity, err)
		}
		v := ItemVersion{Record: r.Index, Time: r.Time.UTC().Format("2006-01-02T15:04:05Z"), Type: r.Type}
		switch r.Type {
		case record.TypeItemVersion:
			var d record.ItemVersion
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if d.Item != item {
				return nil
			}
			v.Version = &d
			for _, ref := range r.Refs {
				v.Bytes += ref.Size
			}
		case record.TypeTombstone:
			var d record.Tombstone
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if d.Item != item {
				return nil
			}
			v.Deletion = r.Data
		case record.TypeDeletedUnseen:
			var d record.DeletedUnseen
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if d.Item != item {
				return nil
			}
			v.Deletion = r.Data
		}
		h.Versions = append(h.Versions, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(h.Versions) == 0 {
		return nil, holdfast.Errorf(op, holdfast.NotFound, "no item %q was ever captured in tenant %s", item, tenant)
	}
	ev := record.Audit{Action: "read", Actor: who.String(), Time: a.now().UTC(), Tenant: tenant, Hits: len(h.Versions), Detail: "item " + item}
	if _, err := logRead(ctx, s, record.TypeAudit, ev); err != nil {
		return nil, err
	}
	return h, nil
}

// RunDetail is one backup run as its records tell it.
type RunDetail struct {
	Started  record.RunStarted   `json:"started"`
	Finished *record.RunFinished `json:"finished"` // nil while it runs, or when it was cut short
	Failed   []record.FailedItem `json:"failed_items"`
}

// Run returns one backup run: when and by whom it started, how it ended,
// and every item it could not capture (run.finished keeps the first 100;
// the item.failed records hold them all).
func (a *App) Run(ctx context.Context, tenant, run string) (*RunDetail, error) {
	const op = "run"
	if run == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "name the run (its id, as runs lists it)")
	}
	s, err := a.Open(ctx, tenant, ReadOnly)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	var out *RunDetail
	failed := []record.FailedItem{}
	var finished *record.RunFinished
	types := []string{record.TypeRunStarted, record.TypeRunFinished, record.TypeItemFailed}
	err = s.Scan(ctx, 0, types, func(raw []byte) error {
		if !bytes.Contains(raw, []byte(run)) {
			return nil // a cheap filter; the decoded data decides
		}
		var r record.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return holdfast.E(op, holdfast.Integrity, err)
		}
		switch r.Type {
		case record.TypeRunStarted:
			var d record.RunStarted
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if d.Run == run {
				out = &RunDetail{Started: d}
			}
		case record.TypeRunFinished:
			var d record.RunFinished
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if d.Run == run {
				finished = &d
			}
		case record.TypeItemFailed:
			var d record.ItemFailed
			if err := record.Unmarshal(r, r.Type, &d); err != nil {
				return err
			}
			if d.Run == run {
				failed = append(failed, d.Failure)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, holdfast.Errorf(op, holdfast.NotFound, "no run %q in tenant %s", run, tenant)
	}
	out.Finished, out.Failed = finished, failed
	return out, nil
}
