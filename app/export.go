package app

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/ediscovery"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
)

// ExportOptions describe an eDiscovery export.
type ExportOptions struct {
	Case     string // the case (a hold) whose custodians are exported
	Query    string // KQL
	Out      string // the new zip file
	LoadFile string // csv or dat
	// Progress, if set, is told how many of the versions were read (else
	// the App's progress, as "export").
	Progress func(done, total int64)
}

// Exported is an export's outcome: the package and the case as placed.
type Exported struct {
	*ediscovery.Result
	Case string `json:"case"`
}

// Export writes an eDiscovery package of every version of the case's
// custodians that the query matches (deleted items and earlier versions
// included), with a checkpoint over every record and an inclusion proof
// for each, and logs it as an audit.event naming the package's SHA-256.
func (a *App) Export(ctx context.Context, who Actor, tenant string, o ExportOptions) (*Exported, error) {
	const op = "export"
	if err := who.validate(op); err != nil {
		return nil, err
	}
	if o.Case == "" || o.Query == "" || o.Out == "" {
		return nil, holdfast.E(op, holdfast.Invalid, "--case, --query and --out are required")
	}
	if _, err := ediscovery.ParseFormat(o.LoadFile); err != nil {
		return nil, err
	}
	q, err := kql.Parse(o.Query)
	if err != nil {
		return nil, QueryError(op, o.Query, err)
	}
	s, holds, err := a.openHolds(ctx, tenant, Write)
	if err != nil {
		return nil, err
	}
	defer a.closeStore(ctx, s)
	h := holds[strings.ToLower(o.Case)]
	if h == nil {
		return nil, holdfast.Errorf(op, holdfast.NotFound, "no case %q (holdfast hold create places one)", o.Case)
	}
	ix, err := a.index(ctx, s)
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	scope, err := h.Node()
	if err != nil {
		return nil, err
	}
	versions, err := ix.Versions(ctx, &kql.And{Terms: []kql.Node{scope, q}})
	if err != nil {
		return nil, err
	}
	deleted := map[uint64]bool{}
	dv, err := ix.Versions(ctx, &kql.And{Terms: []kql.Node{scope, q, &kql.Term{Prop: "deleted", Op: ":", Value: "true"}}})
	if err != nil {
		return nil, err
	}
	for _, v := range dv {
		deleted[v] = true
	}
	// The proofs need a checkpoint that covers every record, cosigned by
	// the tenant's witnesses if it has any.
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return nil, err
	}
	a.witnessNow(ctx, s)
	out, _ := filepath.Abs(o.Out)
	meta := ediscovery.Meta{Case: h.Case, Query: o.Query, Actor: who.String(), Created: a.now().UTC().Truncate(time.Second), Tenant: tenant, LoadFile: o.LoadFile}
	gone, err := DisposedVersions(ctx, s)
	if err != nil {
		return nil, err
	}
	disposed := map[uint64]string{}
	for _, v := range versions {
		if how, ok := gone[v]; ok {
			disposed[v] = how.String()
		}
	}
	res, err := ediscovery.Export(ctx, s, ix, versions, deleted, disposed, meta, out, a.progressOr(o.Progress, "export"))
	if err != nil {
		return nil, err
	}
	ev := record.Audit{Action: "export", Actor: who.String(), Time: a.now().UTC(), Tenant: tenant, Query: o.Query, Case: h.Case, Hits: res.Items, Detail: "package sha256 " + res.SHA256 + " " + out}
	if _, err := s.Append(ctx, record.TypeAudit, ev); err != nil {
		return nil, err
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return nil, err
	}
	return &Exported{Result: res, Case: h.Case}, nil
}
