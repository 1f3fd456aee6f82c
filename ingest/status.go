package ingest

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// WorkloadStatus is what the store holds for one workload.
type WorkloadStatus struct {
	Items      int   `json:"items"`      // items whose latest version is live
	Versions   int   `json:"versions"`   // every captured version
	Tombstones int   `json:"tombstones"` // deletions recorded
	Bytes      int64 `json:"bytes"`      // content of the latest live versions
}

// AccountStatus is an account's state and last successful capture per workload.
type AccountStatus struct {
	UPN         string                          `json:"upn"`            // a site's web URL for SharePoint, team:NAME and chat:ID for Teams
	State       string                          `json:"state"`          // "" for sites
	Kind        string                          `json:"kind,omitempty"` // user, shared, room, equipment, guest; "" for sites, teams, chats
	LastSuccess map[holdfast.Workload]time.Time `json:"last_success"`
}

// Person reports whether the account is a directory account (a user, a
// shared mailbox, a room, a guest) rather than a site, a team or a chat.
func (a AccountStatus) Person() bool { return a.Kind != "" || a.State != "" }

// Status is what holdfast status reports.
type Status struct {
	Workloads map[holdfast.Workload]*WorkloadStatus `json:"workloads"`
	Accounts  []AccountStatus                       `json:"accounts"`
	LastRun   *record.RunFinished                   `json:"last_run"` // nil before the first run
}

// ReadStatus summarises the store's log.
func ReadStatus(ctx context.Context, st Store) (*Status, error) {
	s := &Status{Workloads: map[holdfast.Workload]*WorkloadStatus{}, Accounts: []AccountStatus{}}
	type latest struct {
		w       holdfast.Workload
		size    int64
		deleted bool
	}
	items := map[string]*latest{}
	accounts := map[string]*AccountStatus{}
	acct := func(upn string) *AccountStatus {
		a := accounts[upn]
		if a == nil {
			a = &AccountStatus{UPN: upn, LastSuccess: map[holdfast.Workload]time.Time{}}
			accounts[upn] = a
		}
		return a
	}
	ws := func(w holdfast.Workload) *WorkloadStatus {
		x := s.Workloads[w]
		if x == nil {
			x = &WorkloadStatus{}
			s.Workloads[w] = x
		}
		return x
	}
	err := st.Records(ctx, 0, func(_ []byte, r store.Record) error {
		switch r.Type {
		case record.TypeItemVersion:
			var v record.ItemVersion
			if json.Unmarshal(r.Data, &v) != nil {
				return nil
			}
			ws(v.Workload).Versions++
			var size int64
			for _, ref := range r.Refs {
				size += ref.Size
			}
			items[itemKey(v.Workload, v.AccountID, v.Item)] = &latest{w: v.Workload, size: size}
		case record.TypeTombstone:
			var t record.Tombstone
			if json.Unmarshal(r.Data, &t) != nil {
				return nil
			}
			ws(t.Workload).Tombstones++
			if it := items[itemKey(t.Workload, t.AccountID, t.Item)]; it != nil {
				it.deleted = true
			}
		case record.TypeDeltaPosition:
			var d record.DeltaPosition
			if json.Unmarshal(r.Data, &d) != nil {
				return nil
			}
			a := acct(d.Account)
			if r.Time.After(a.LastSuccess[d.Workload]) {
				a.LastSuccess[d.Workload] = r.Time
			}
		case record.TypeAccountState:
			var a record.AccountState
			if json.Unmarshal(r.Data, &a) != nil {
				return nil
			}
			st := acct(a.Account)
			st.State, st.Kind = a.State, a.Kind
			if st.Kind == "" {
				st.Kind = holdfast.KindUser
			}
		case record.TypeRunFinished:
			var d record.RunFinished
			if json.Unmarshal(r.Data, &d) != nil {
				return nil
			}
			s.LastRun = &d
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if !it.deleted {
			w := ws(it.w)
			w.Items++
			w.Bytes += it.size
		}
	}
	for _, a := range accounts {
		s.Accounts = append(s.Accounts, *a)
	}
	sort.Slice(s.Accounts, func(i, j int) bool { return s.Accounts[i].UPN < s.Accounts[j].UPN })
	return s, nil
}
