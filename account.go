package holdfast

import (
	"fmt"
	"strings"
	"time"
)

// Workload is a kind of Microsoft 365 data.
type Workload string

// The workloads Holdfast backs up.
const (
	Mail       Workload = "mail"
	Calendar   Workload = "calendar"
	Contacts   Workload = "contacts"
	OneDrive   Workload = "onedrive"
	SharePoint Workload = "sharepoint"
	Teams      Workload = "teams"
)

// Workloads lists every workload in display order.
var Workloads = []Workload{Mail, Calendar, Contacts, OneDrive, SharePoint, Teams}

// ParseWorkloads parses a comma-separated list; "" or "all" means every workload.
func ParseWorkloads(s string) ([]Workload, error) {
	if s == "" || s == "all" {
		return append([]Workload(nil), Workloads...), nil // the caller's to change
	}
	var out []Workload
	seen := map[Workload]bool{}
	for _, p := range strings.Split(s, ",") {
		w := Workload(strings.ToLower(strings.TrimSpace(p)))
		ok := false
		for _, k := range Workloads {
			ok = ok || k == w
		}
		if !ok {
			return nil, Errorf("workloads", Invalid, "unknown workload %q (known: mail, calendar, contacts, onedrive, sharepoint, teams)", p)
		}
		if !seen[w] {
			out = append(out, w)
			seen[w] = true
		}
	}
	return out, nil
}

// Account is a directory user whose data Holdfast captures.
type Account struct {
	ID          string     `json:"id"`
	UPN         string     `json:"upn"`
	DisplayName string     `json:"display_name,omitempty"`
	Mail        string     `json:"mail,omitempty"`
	Enabled     bool       `json:"enabled"`
	Licensed    bool       `json:"licensed"`
	Deleted     *time.Time `json:"deleted,omitempty"` // soft-deleted in the directory
	// Kind is what the account is: KindUser (an employee), a shared,
	// room or equipment mailbox, or a guest. "" is a user.
	Kind string `json:"kind,omitempty"`
}

// Account kinds. Shared, room and equipment mailboxes have disabled
// accounts by design and guests are never licensed: none of them is a
// departed employee.
const (
	KindUser      = "user"
	KindLinked    = "linked"
	KindShared    = "shared"
	KindRoom      = "room"
	KindEquipment = "equipment"
	KindGuest     = "guest"
)

// AccountKind returns the account's kind, "user" when unknown.
func (a Account) AccountKind() string {
	if a.Kind == "" {
		return KindUser
	}
	return a.Kind
}

// Employee reports whether the account is a person of the organisation
// (a user or a linked mailbox): only they can depart.
func (a Account) Employee() bool {
	k := a.AccountKind()
	return k == KindUser || k == KindLinked
}

// Departed reports a departed employee: an employee whose account is
// deleted, disabled or unlicensed.
func (a Account) Departed() bool { return a.Employee() && a.State() != StateActive }

// Account states.
const (
	StateActive     = "active"
	StateDisabled   = "disabled"
	StateUnlicensed = "unlicensed"
	StateDeleted    = "deleted"
)

// State is the account's state as a backup sees it: deleted, disabled,
// unlicensed or active. Whether that makes it a departed employee depends
// on its kind (Departed).
func (a Account) State() string {
	switch {
	case a.Deleted != nil:
		return StateDeleted
	case !a.Enabled:
		return StateDisabled
	case !a.Licensed:
		return StateUnlicensed
	}
	return StateActive
}

func (a Account) String() string { return fmt.Sprintf("%s (%s)", a.UPN, a.State()) }
