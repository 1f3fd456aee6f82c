package record

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
)

// The record types. Each names the Go type of its data below; the data's
// JSON member names are the ones its struct tags give, and they are
// evidence: a change is a new version of the type, read beside the old
// one (see RestoreScope), never a rename.
const (
	TypeTenantCreated    = "tenant.created"      // TenantCreated: the repository was created
	TypePack             = "pack.added"          // PackAdded: a pack file and the blobs it holds became part of the repository
	TypeCheckpoint       = "checkpoint.issued"   // CheckpointIssued: announces the checkpoint whose size includes this record
	TypeRepair           = "store.repair"        // StoreRepair: lost packs accounted for, content fetched again or lost
	TypeItemVersion      = "item.version"        // ItemVersion: a captured version of an item
	TypeTombstone        = "item.tombstone"      // Tombstone: an item was deleted at the source
	TypeDeletedUnseen    = "item.deleted_unseen" // DeletedUnseen: an item deleted before any capture, as the source still lists it
	TypeItemFailed       = "item.failed"         // ItemFailed: an item could not be captured in a run
	TypeRunStarted       = "run.started"         // RunStarted: a backup run began
	TypeRunFinished      = "run.finished"        // RunFinished: a backup run ended
	TypeDeltaPosition    = "delta.position"      // DeltaPosition: a stream's delta link, durable after the items it covers
	TypeAccountState     = "account.state"       // AccountState: an account was seen in a new state
	TypeAccountDeparted  = "account.departed"    // AccountState: an employee's account became disabled, unlicensed or deleted
	TypeGroups           = "directory.groups"    // Groups: the tenant's groups, when they changed since the last run
	TypeHoldPlaced       = "hold.placed"         // HoldPlaced: a legal hold was placed
	TypeHoldReleased     = "hold.released"       // HoldReleased: a legal hold was released
	TypeAudit            = "audit.event"         // Audit: an action by a person or system (search, export)
	TypeReportIssued     = "report.issued"       // ReportIssued: a signed report was issued
	TypeRestorePerformed = "restore.performed"   // RestorePerformed: a restore or restore test ran
	TypeVerifyRun        = "verify.run"          // VerifyRun: holdfast verify ran, with its outcome
	TypeSynthetic        = "synthetic.item"      // Synthetic: test and demo data from holdfast generate
	TypePolicySettings   = "policy.settings"     // PolicySettingsSet: a tenant's retention settings and who set them
	TypePolicyEvaluated  = "policy.evaluated"    // PolicyEvaluated: the policies were evaluated
	TypeScheduleSet      = "schedule.set"        // ScheduleSet: a tenant's schedule, and who set it
	TypeAccessChanged    = "access.changed"      // AccessChanged: a user or token that reaches this tenant was added, disabled, enabled or revoked
	TypeWitnessesSet     = "witnesses.set"       // WitnessesSet: the witnesses the tenant's checkpoints go to, and who set them
	TypeDisposalProposed = "disposal.proposed"   // DisposalProposed: a disposal plan was proposed for review
	TypeDisposalReviewed = "disposal.reviewed"   // DisposalReviewed: a second person approved or rejected a proposal
	TypeDisposalExecuted = "disposal.executed"   // DisposalExecuted: item versions were disposed of: their content goes
	TypeDisposalDone     = "disposal.completed"  // DisposalCompleted: the packs that held disposed content were rewritten and retired
)

// types maps each record type to a new value of its data's Go type.
var types = map[string]func() any{
	TypeTenantCreated:    func() any { return new(TenantCreated) },
	TypePack:             func() any { return new(PackAdded) },
	TypeCheckpoint:       func() any { return new(CheckpointIssued) },
	TypeRepair:           func() any { return new(StoreRepair) },
	TypeItemVersion:      func() any { return new(ItemVersion) },
	TypeTombstone:        func() any { return new(Tombstone) },
	TypeDeletedUnseen:    func() any { return new(DeletedUnseen) },
	TypeItemFailed:       func() any { return new(ItemFailed) },
	TypeRunStarted:       func() any { return new(RunStarted) },
	TypeRunFinished:      func() any { return new(RunFinished) },
	TypeDeltaPosition:    func() any { return new(DeltaPosition) },
	TypeAccountState:     func() any { return new(AccountState) },
	TypeAccountDeparted:  func() any { return new(AccountState) },
	TypeGroups:           func() any { return new(Groups) },
	TypeHoldPlaced:       func() any { return new(HoldPlaced) },
	TypeHoldReleased:     func() any { return new(HoldReleased) },
	TypeAudit:            func() any { return new(Audit) },
	TypeReportIssued:     func() any { return new(ReportIssued) },
	TypeRestorePerformed: func() any { return new(RestorePerformed) },
	TypeVerifyRun:        func() any { return new(VerifyRun) },
	TypeSynthetic:        func() any { return new(Synthetic) },
	TypePolicySettings:   func() any { return new(PolicySettingsSet) },
	TypePolicyEvaluated:  func() any { return new(PolicyEvaluated) },
	TypeScheduleSet:      func() any { return new(ScheduleSet) },
	TypeAccessChanged:    func() any { return new(AccessChanged) },
	TypeWitnessesSet:     func() any { return new(WitnessesSet) },
	TypeDisposalProposed: func() any { return new(DisposalProposed) },
	TypeDisposalReviewed: func() any { return new(DisposalReviewed) },
	TypeDisposalExecuted: func() any { return new(DisposalExecuted) },
	TypeDisposalDone:     func() any { return new(DisposalCompleted) },
}

// Types returns every record type Holdfast writes, sorted.
func Types() []string {
	out := make([]string, 0, len(types))
	for t := range types {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// DataOf decodes r's data into a new value of its type's Go type: a
// pointer to one of the structs below. An unknown type or data that does
// not decode is an Integrity error naming the record.
func DataOf(r Record) (any, error) {
	mk, ok := types[r.Type]
	if !ok {
		return nil, holdfast.Errorf("decode record data", holdfast.Integrity, "record %d: unknown type %q", r.Index, r.Type)
	}
	v := mk()
	if len(r.Data) > 0 {
		if err := json.Unmarshal(r.Data, v); err != nil {
			return nil, holdfast.Errorf("decode record data", holdfast.Integrity, "record %d (%s): %v", r.Index, r.Type, err)
		}
	}
	return v, nil
}

// Unmarshal decodes r's data into v, checking that r is of type want; an
// error is an Integrity error naming the record.
func Unmarshal(r Record, want string, v any) error {
	if r.Type != want {
		return holdfast.Errorf("decode record data", holdfast.Integrity, "record %d is %s, not %s", r.Index, r.Type, want)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return holdfast.Errorf("decode record data", holdfast.Integrity, "record %d (%s): %v", r.Index, r.Type, err)
	}
	return nil
}

// TenantCreated is the data of tenant.created, the first record.
type TenantCreated struct {
	Tenant    string `json:"tenant"`
	Origin    string `json:"origin"`
	Encrypted bool   `json:"encrypted"`
}

// PackAdded is the data of pack.added.
type PackAdded struct {
	Pack    ID    `json:"pack"`
	Size    int64 `json:"size"`
	Blobs   []ID  `json:"blobs"`
	Adopted bool  `json:"adopted,omitempty"` // found on storage without a record (a writer died) and logged
}

// CheckpointIssued is the data of checkpoint.issued: the checkpoint of
// this size was signed. The record is the last leaf the checkpoint covers,
// so deleting a checkpoint file is detected by the record that announced it.
type CheckpointIssued struct {
	Size uint64 `json:"size"`
}

// StoreRepair is the data of store.repair.
type StoreRepair struct {
	// LostPacks are the packs the log names that were gone; from this
	// record on they are accounted for.
	LostPacks []ID `json:"lost_packs"`
	// Recovered are the versions whose content was fetched again, whole.
	Recovered []RepairedVersion `json:"recovered"`
	// Lost are the versions whose content is gone for good, with why.
	Lost  []RepairedVersion `json:"lost"`
	Actor string            `json:"actor,omitempty"`
}

// RepairedVersion is one record whose content was in a lost pack.
type RepairedVersion struct {
	Record   uint64 `json:"record"`
	Type     string `json:"type"`
	Workload string `json:"workload,omitempty"`
	Account  string `json:"account,omitempty"`
	Item     string `json:"item,omitempty"`
	SHA256   ID     `json:"sha256"`
	Reason   string `json:"reason,omitempty"`
}

// ItemVersion is the data of item.version; the record's refs are the
// content (for events and contacts: the JSON, then the attachments).
type ItemVersion struct {
	Account   string            `json:"account"`
	AccountID string            `json:"account_id"`
	Workload  holdfast.Workload `json:"workload"`
	Item      string            `json:"item"`
	Path      string            `json:"path"`
	Stream    string            `json:"stream"`
	Run       string            `json:"run"`
	Change    string            `json:"change"` // what identifies this version at the source
	Mail      *MessageMeta      `json:"mail,omitempty"`
	Parent    string            `json:"parent,omitempty"` // drive items: the parent folder's id
	File      *FileMeta         `json:"file,omitempty"`
	PIM       *PIMMeta          `json:"pim,omitempty"` // events, contacts, Teams messages
}

// Name is the item's name, for drive items.
func (v ItemVersion) Name() string {
	if v.File != nil {
		return v.File.Name
	}
	return ""
}

// MessageMeta is the metadata kept with each message version.
type MessageMeta struct {
	Subject         string    `json:"subject,omitempty"`
	From            string    `json:"from,omitempty"`
	To              []string  `json:"to,omitempty"`
	Cc              []string  `json:"cc,omitempty"`
	Bcc             []string  `json:"bcc,omitempty"`
	Received        time.Time `json:"received,omitzero"`
	Sent            time.Time `json:"sent,omitzero"`
	Modified        time.Time `json:"modified,omitzero"`
	InternetID      string    `json:"internet_message_id,omitempty"`
	ConversationID  string    `json:"conversation_id,omitempty"`
	ChangeKey       string    `json:"change_key,omitempty"`
	HasAttachments  bool      `json:"has_attachments,omitempty"`
	IsRead          bool      `json:"is_read"`
	ParentFolderID  string    `json:"parent_folder_id,omitempty"`
	Importance      string    `json:"importance,omitempty"`
	Categories      []string  `json:"categories,omitempty"`
	InferredSubject string    `json:"-"` // not logged: derived when the subject is empty
}

// FileMeta is the metadata kept with each file or folder version.
type FileMeta struct {
	Name       string            `json:"name"`
	MimeType   string            `json:"mime_type,omitempty"`
	Size       int64             `json:"size"`
	Hashes     map[string]string `json:"hashes,omitempty"` // as Graph reports them: sha256Hash, sha1Hash, quickXorHash
	CTag       string            `json:"ctag,omitempty"`
	Created    time.Time         `json:"created,omitzero"`
	Modified   time.Time         `json:"modified,omitzero"`
	CreatedBy  string            `json:"created_by,omitempty"`
	ModifiedBy string            `json:"modified_by,omitempty"`
	Folder     bool              `json:"folder,omitempty"`
}

// PIMMeta is what is kept beside an event's, contact's or Teams message's JSON.
type PIMMeta struct {
	Title    string    `json:"title"`
	Modified time.Time `json:"modified,omitzero"`
	// Attachments name the refs after the first (the item's JSON), in order.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file attached to an event, or a Teams hosted content.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	// HostedID is a Teams hosted content's id (a pasted image).
	HostedID string `json:"hosted_id,omitempty"`
	Content  []byte `json:"-"`
}

// Tombstone is the data of item.tombstone.
type Tombstone struct {
	Account   string            `json:"account"`
	AccountID string            `json:"account_id"`
	Workload  holdfast.Workload `json:"workload"`
	Item      string            `json:"item"`
	Path      string            `json:"path"`
	Stream    string            `json:"stream"`
	Run       string            `json:"run"`
	Reason    string            `json:"reason"`
}

// DeletedUnseen is the data of item.deleted_unseen: evidence that an item
// existed, from a source that lists it deleted (a Teams message with its
// deletedDateTime) before Holdfast ever captured it.
type DeletedUnseen struct {
	Account   string            `json:"account"`
	AccountID string            `json:"account_id"`
	Workload  holdfast.Workload `json:"workload"`
	Item      string            `json:"item"`
	Thread    string            `json:"thread,omitempty"` // a reply's root message
	Path      string            `json:"path"`
	Stream    string            `json:"stream"`
	Run       string            `json:"run"`
	Deleted   time.Time         `json:"deleted"`
}

// DeltaPosition is the data of delta.position.
type DeltaPosition struct {
	Stream   string            `json:"stream"`
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Folder   string            `json:"folder"`
	Path     string            `json:"path"`
	Link     string            `json:"link"`
	Run      string            `json:"run"`
}

// AccountState is the data of account.state and account.departed.
type AccountState struct {
	Account   string    `json:"account"`
	AccountID string    `json:"account_id"`
	State     string    `json:"state"`
	Kind      string    `json:"kind,omitempty"` // shared, room, equipment, guest; "" for an employee
	Previous  string    `json:"previous,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	Reason    string    `json:"reason,omitempty"`
}

// FailedItem is an item a run could not capture, with the reason.
type FailedItem struct {
	Account  string            `json:"account"`
	Workload holdfast.Workload `json:"workload"`
	Item     string            `json:"item,omitempty"`
	Path     string            `json:"path,omitempty"`
	Reason   string            `json:"reason"`
}

// ItemFailed is the data of item.failed.
type ItemFailed struct {
	Run     string     `json:"run"`
	Failure FailedItem `json:"failure"`
}

// Group is a directory group.
type Group struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Mail     string   `json:"mail,omitempty"`
	Types    []string `json:"types,omitempty"` // Unified for Microsoft 365 groups
	Team     bool     `json:"team,omitempty"`
	Security bool     `json:"security,omitempty"`
}

// Groups is the data of directory.groups.
type Groups struct {
	Groups []Group `json:"groups"`
	SHA256 string  `json:"sha256"` // of the groups' JSON, to tell a change
	Run    string  `json:"run"`
}

// RunStarted is the data of run.started.
type RunStarted struct {
	Run       string              `json:"run"`
	Workloads []holdfast.Workload `json:"workloads"`
	Started   time.Time           `json:"started"`
	Actor     string              `json:"actor,omitempty"` // who started it: a person, the scheduler (from 2026-12)
}

// Counts are a run's totals, overall or for one workload.
type Counts struct {
	ItemsNew     int   `json:"items_new"`
	ItemsChanged int   `json:"items_changed"`
	ItemsDeleted int   `json:"items_deleted"`
	Bytes        int64 `json:"bytes"`
}

// RunFinished is the data of run.finished.
type RunFinished struct {
	Run         string                       `json:"run"`
	Status      string                       `json:"status"` // completed, completed_with_failures, failed
	Error       string                       `json:"error,omitempty"`
	Accounts    int                          `json:"accounts"`
	Departed    []string                     `json:"departed"`
	Counts                                   // items_new, items_changed, items_deleted, bytes
	FailedItems []FailedItem                 `json:"failed_items"` // the first 100; item.failed records hold all
	Workloads   map[holdfast.Workload]Counts `json:"workloads"`
	Resyncs     int                          `json:"resyncs"`
	ThrottledS  float64                      `json:"throttled_s"`
	DurationS   float64                      `json:"duration_s"`
}

// HoldPlaced is the data of hold.placed.
type HoldPlaced struct {
	Case       string     `json:"case"`
	Custodians []string   `json:"custodians"`
	Query      string     `json:"query,omitempty"`
	From       *time.Time `json:"from,omitempty"`
	To         *time.Time `json:"to,omitempty"`
	Reason     string     `json:"reason"`
	Actor      string     `json:"actor"`
}

// HoldReleased is the data of hold.released.
type HoldReleased struct {
	Case   string `json:"case"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
}

// Audit is the data of audit.event.
type Audit struct {
	Action  string    `json:"action"` // search, export
	Actor   string    `json:"actor"`
	Time    time.Time `json:"time"`
	Tenant  string    `json:"tenant"`
	Query   string    `json:"query,omitempty"`
	Case    string    `json:"case,omitempty"`
	Hits    int       `json:"hits"`
	Detail  string    `json:"detail,omitempty"`
	SpoolID string    `json:"spool_id,omitempty"` // set when it was deposited beside a running backup
}

// ReportIssued is the data of report.issued.
type ReportIssued struct {
	Kind        string    `json:"kind"`
	Tenant      string    `json:"tenant"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Checkpoint  uint64    `json:"checkpoint_size"`
	Root        string    `json:"checkpoint_root"`
	Signer      string    `json:"signer"`
	Fingerprint string    `json:"signer_certificate_sha256"`
	SHA256      string    `json:"sha256"`
	Bytes       int       `json:"bytes"`
	Actor       string    `json:"actor"`
	File        string    `json:"file"`
	Case        string    `json:"case,omitempty"`
	SpoolID     string    `json:"spool_id,omitempty"`
}

// RestorePerformed is the data of restore.performed: the evidence a SOC 2
// A1.3 or ISO 27001 A.8.13 auditor asks for.
type RestorePerformed struct {
	Restore   string           `json:"restore"`
	Actor     string           `json:"actor"`
	Scope     RestoreScope     `json:"scope"`
	Target    string           `json:"target"`
	Status    string           `json:"status"`
	Items     int              `json:"items"`
	Bytes     int64            `json:"bytes"`
	Failures  []RestoreFailure `json:"failed_items"`
	DurationS float64          `json:"duration_s"`
	Test      bool             `json:"test,omitempty"`
	Verified  int              `json:"verified,omitempty"` // restore tests: files re-hashed against the store
	// TargetAccount is the account restored into, when not the items' own.
	TargetAccount string `json:"target_account,omitempty"`
	Resumed       int    `json:"resumed,omitempty"` // items an interrupted run had restored
	SpoolID       string `json:"spool_id,omitempty"`
	Disposed      int    `json:"disposed,omitempty"` // versions in scope whose content was disposed of: not restored
}

// RestoreScope is what a restore selected. Version 2 (from 2026-12)
// writes these member names; version 1 records wrote Go's field names
// (Account, Workload, Path, Item, At, Run, IncludeDeleted), and
// UnmarshalJSON reads both.
type RestoreScope struct {
	Account        string            `json:"account,omitempty"` // UPN, site URL, team:NAME or chat:ID; empty: all
	Workload       holdfast.Workload `json:"workload,omitempty"`
	Path           string            `json:"path,omitempty"` // folder path prefix
	Item           string            `json:"item,omitempty"`
	At             time.Time         `json:"at,omitzero"`   // the point in time; zero: the latest
	Run            string            `json:"run,omitempty"` // the end of this run, instead of At
	IncludeDeleted bool              `json:"include_deleted,omitempty"`
}

// UnmarshalJSON reads version 2 and version 1 scopes.
func (s *RestoreScope) UnmarshalJSON(b []byte) error {
	type v2 RestoreScope
	var x struct {
		v2
		IncludeDeletedV1 *bool `json:"IncludeDeleted"`
	}
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("restore scope: %w", err)
	}
	*s = RestoreScope(x.v2)
	if x.IncludeDeletedV1 != nil {
		s.IncludeDeleted = *x.IncludeDeletedV1
	}
	return nil
}

// RestoreFailure is an item a restore could not write.
type RestoreFailure struct {
	Item   string `json:"item"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// VerifyFailure is one thing verify found wrong, naming the object.
type VerifyFailure struct {
	Object  string `json:"object"`  // e.g. "packs/ab/ab12…", "log/…jsonl", "record 42", "checkpoints/…"
	Problem string `json:"problem"` // what is wrong, in plain words
}

func (f VerifyFailure) String() string { return f.Object + ": " + f.Problem }

// VerifyRun is the data of verify.run.
type VerifyRun struct {
	OK              bool            `json:"ok"`
	Records         uint64          `json:"records"`
	Blobs           int             `json:"blobs"`
	Bytes           int64           `json:"bytes"`
	Checkpoints     int             `json:"checkpoints"`
	ReadDataPercent float64         `json:"read_data_percent"`
	PacksRead       int             `json:"packs_read"`
	HeldCheckpoints int             `json:"held_checkpoints,omitempty"`
	Failures        int             `json:"failures"`
	FirstFailures   []VerifyFailure `json:"first_failures,omitempty"`
	DurationSeconds float64         `json:"duration_s"`
	Actor           string          `json:"actor,omitempty"`
	SpoolID         string          `json:"spool_id,omitempty"`
}

// Synthetic is the data of synthetic.item (holdfast generate).
type Synthetic struct {
	Item     string `json:"item"`
	Account  string `json:"account"`
	Workload string `json:"workload"`
	Folder   string `json:"folder"`
}

// PolicySettings is the data of policy.settings: a tenant's retention
// settings, set with holdfast policy set.
type PolicySettings struct {
	Profile       string   `json:"profile"`        // none, nl-fiscal, sec-17a-4, finra-4511, hipaa, sox, custom
	RetentionDays int      `json:"retention_days"` // how long captured data is kept; 0: for ever
	RPOHours      float64  `json:"rpo_hours"`      // the largest acceptable age of the last backup
	Workloads     []string `json:"workloads"`      // workloads that must be covered
	RequiredYears int      `json:"required_years"` // the custom profile's requirement
	RequireWORM   bool     `json:"require_worm"`   // the custom profile's requirement
}

// PolicySettingsSet is the data of policy.settings: the settings, and
// who set them (from 2026-12; earlier records hold the settings alone).
type PolicySettingsSet struct {
	PolicySettings
	Actor string `json:"actor,omitempty"`
}

// PolicyEvaluated is the data of policy.evaluated.
type PolicyEvaluated struct {
	Tenant       string         `json:"tenant"`
	Actor        string         `json:"actor"`
	PolicyHash   string         `json:"policy_hash"`
	PolicyFiles  []string       `json:"policy_files"`
	InputHash    string         `json:"input_hash"`
	FindingsHash string         `json:"findings_hash"`
	Findings     map[string]int `json:"findings"` // by severity
}

// Schedule is when a tenant's procedures run under holdfast serve. Each
// spec is a cron expression in UTC ("0 3 * * 0": Sundays at 03:00) or a
// descriptor ("@every 4h", "@daily", "@weekly", "@monthly"); an empty spec
// is not scheduled.
type Schedule struct {
	Backup            string  `json:"backup"`
	BackupJitter      string  `json:"backup_jitter"` // a Go duration: backups start up to this much after their slot, spread by tenant
	PolicyAfterBackup bool    `json:"policy_after_backup"`
	Verify            string  `json:"verify"`
	VerifyReadPercent float64 `json:"verify_read_percent"` // share of packs re-read in full (0 or 100: all)
	RestoreTest       string  `json:"restore_test"`
	RestoreSample     int     `json:"restore_sample"`
	Report            string  `json:"report"`
	ReportKind        string  `json:"report_kind"`
	ReportDir         string  `json:"report_dir"` // reports are written here as well as logged
	Paused            bool    `json:"paused"`
}

// ScheduleSet is the data of schedule.set: a schedule is evidence of a
// procedure, so each change is a record.
type ScheduleSet struct {
	Schedule
	Actor string `json:"actor,omitempty"`
}

// WitnessesSet is the data of witnesses.set: the whole list of witnesses
// (c2sp.org/tlog-witness) the tenant's checkpoints are submitted to after
// the change, the change, and who made it. The log keeps every list a
// tenant ever had, so an auditor sees when a witness was added or dropped.
type WitnessesSet struct {
	Witnesses []Witness `json:"witnesses"`
	Change    string    `json:"change"` // witness.added, witness.removed
	Witness   string    `json:"witness"`
	Actor     string    `json:"actor,omitempty"`
}

// Witness is one witness: its name and vkey (type 0x04, cosignature/v1),
// and its submission URL (never with credentials or a query).
type Witness struct {
	Name string `json:"name"`
	Key  string `json:"vkey"`
	URL  string `json:"url"`
}

// AccessChanged is the data of access.changed: who may reach a tenant's
// data through the service changed. It is written into the log of every
// tenant the user or token covers (every tenant for an admin) before the
// change takes effect; it never holds a password, hash or secret.
type AccessChanged struct {
	Change  string    `json:"change"` // user.added, user.disabled, user.enabled, password.changed, totp.enrolled, token.created, token.revoked
	User    string    `json:"user"`   // the user changed, or the token's user
	Role    string    `json:"role"`
	Tenants []string  `json:"tenants,omitempty"` // the tenants covered; none: every tenant (an admin)
	Token   string    `json:"token,omitempty"`   // a token's id, never its secret
	Expires time.Time `json:"expires,omitzero"`  // a created token's expiry
	Actor   string    `json:"actor"`
}

// RetentionRule is one rule of a tenant's retention schedule, as the
// retention policy (Rego) produced it: item versions it covers are kept
// KeepDays from the date From names, then may be disposed of.
type RetentionRule struct {
	Name      string   `json:"name"`
	Workloads []string `json:"workloads,omitempty"` // empty: every workload
	Query     string   `json:"query,omitempty"`     // KQL: only the versions it selects
	KeepDays  int      `json:"keep_days"`
	From      string   `json:"from"` // received, modified or departure
}

// Scope says what the rule covers: its workloads, and its query.
func (r RetentionRule) Scope() string {
	scope := "every workload"
	if len(r.Workloads) > 0 {
		scope = strings.Join(r.Workloads, ", ")
	}
	if r.Query != "" {
		scope += ", matching " + r.Query
	}
	return scope
}

// DisposalVersion is one item version of a disposal: which, under which
// rule, from which date it was kept, and the content that goes with it.
type DisposalVersion struct {
	Record   uint64    `json:"record"` // the item.version record
	Workload string    `json:"workload"`
	Account  string    `json:"account"`
	Item     string    `json:"item"`
	Rule     string    `json:"rule"`
	Since    time.Time `json:"since"` // the date the rule counts from
	SHA256   []ID      `json:"sha256"`
}

// DisposalProposed is the data of disposal.proposed: a plan, as computed
// at AsOf under the rules, for a second person to review.
type DisposalProposed struct {
	Tenant     string            `json:"tenant"`
	AsOf       time.Time         `json:"as_of"`
	Rules      []RetentionRule   `json:"rules"`
	PolicyHash string            `json:"policy_hash"`
	Versions   []DisposalVersion `json:"versions"`
	Held       int               `json:"held"` // eligible but for a hold: excluded
	Reason     string            `json:"reason"`
	Actor      string            `json:"actor"`
	Person     string            `json:"person"` // who proposed, without where from: the reviewer must be someone else
}

// DisposalReviewed is the data of disposal.reviewed.
type DisposalReviewed struct {
	Proposal uint64 `json:"proposal"` // the disposal.proposed record
	Decision string `json:"decision"` // approved or rejected
	Reason   string `json:"reason"`
	Actor    string `json:"actor"`
	Person   string `json:"person"`
	Role     string `json:"role"` // the reviewer's role: legal
}

// DisposalExecuted is the data of disposal.executed: from this record on,
// the versions named are disposed of. Blobs is the content that goes (the
// versions' content no other record references), Packs the packs that
// hold it, to be rewritten without it.
type DisposalExecuted struct {
	Proposal uint64            `json:"proposal"`
	Approval uint64            `json:"approval"` // the disposal.reviewed record that approved it
	Versions []DisposalVersion `json:"versions"`
	Blobs    []ID              `json:"blobs"`
	Packs    []ID              `json:"packs"`
	Actor    string            `json:"actor"`
}

// DisposalCompleted is the data of disposal.completed: the packs of an
// execution were rewritten without the disposed content (the new packs'
// pack.added records come before this one) and are retired: from here on
// they may be, and then are, removed.
type DisposalCompleted struct {
	Execution uint64 `json:"execution"` // the disposal.executed record
	Retired   []ID   `json:"retired"`
}
