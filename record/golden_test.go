package record

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// samples holds one value of each record type's data, with the strings a
// tenant may send (line separators, markup, controls, emoji).
func samples() map[string]any {
	t0 := time.Date(2026, 12, 6, 9, 30, 15, 123000000, time.UTC)
	from, to := t0.AddDate(0, -1, 0), t0
	id := ID{0xab, 0xcd}
	fi := FailedItem{Account: "ann@contoso.example", Workload: holdfast.Mail, Item: "AAMk=", Path: "Inbox", Reason: "graph: 503 after 5 tries"}
	return map[string]any{
		TypeTenantCreated: TenantCreated{Tenant: "contoso", Origin: "holdfast.example/contoso/1a2b", Encrypted: true},
		TypePack:          PackAdded{Pack: id, Size: 4 << 20, Blobs: []ID{id, {1}}, Adopted: true},
		TypeCheckpoint:    CheckpointIssued{Size: 1934},
		TypeRepair: StoreRepair{LostPacks: []ID{id}, Actor: "alice@host",
			Recovered: []RepairedVersion{{Record: 12, Type: TypeItemVersion, Workload: "mail", Account: "ann@contoso.example", Item: "AAMk=", SHA256: id}},
			Lost:      []RepairedVersion{{Record: 13, Type: TypeItemVersion, Workload: "onedrive", SHA256: id, Reason: "gone at the source"}}},
		TypeItemVersion: ItemVersion{Account: "ann@contoso.example", AccountID: "u-1", Workload: holdfast.Mail, Item: "AAMk=", Path: "Inbox/Clients", Stream: "mail/u-1/f-1", Run: "r-1", Change: "CQAAAB",
			Mail: &MessageMeta{Subject: "Q3 figures\u2028<script>alert(1)</script>\x1b[31m 😂", From: "bob@fabrikam.example", To: []string{"ann@contoso.example"}, Cc: []string{"c@x.example"},
				Received: t0, Sent: t0.Add(-time.Minute), Modified: t0, InternetID: "<1@x>", ConversationID: "conv", ChangeKey: "CQAAAB", HasAttachments: true, IsRead: false,
				ParentFolderID: "f-1", Importance: "high", Categories: []string{"Red"}}},
		TypeTombstone:     Tombstone{Account: "ann@contoso.example", AccountID: "u-1", Workload: holdfast.OneDrive, Item: "01ABC", Path: "/Clients/a.xlsx", Stream: "onedrive/u-1", Run: "r-2", Reason: "deleted"},
		TypeDeletedUnseen: DeletedUnseen{Account: "team:Sales", AccountID: "t-1", Workload: holdfast.Teams, Item: "1700000000000", Thread: "1690000000000", Path: "General", Stream: "teams/t-1/c-1", Run: "r-3", Deleted: t0},
		TypeItemFailed:    ItemFailed{Run: "r-1", Failure: fi},
		TypeRunStarted:    RunStarted{Run: "r-1", Workloads: []holdfast.Workload{holdfast.Mail, holdfast.OneDrive}, Started: t0, Actor: "scheduler"},
		TypeRunFinished: RunFinished{Run: "r-1", Status: "completed_with_failures", Error: "", Accounts: 3, Departed: []string{"carl@contoso.example"},
			Counts: Counts{ItemsNew: 10, ItemsChanged: 2, ItemsDeleted: 1, Bytes: 123456}, FailedItems: []FailedItem{fi},
			Workloads: map[holdfast.Workload]Counts{holdfast.Mail: {ItemsNew: 10, Bytes: 123456}}, Resyncs: 1, ThrottledS: 1.5, DurationS: 12.25},
		TypeDeltaPosition:   DeltaPosition{Stream: "mail/u-1/f-1", Account: "ann@contoso.example", Workload: holdfast.Mail, Folder: "f-1", Path: "Inbox", Link: "https://graph.microsoft.com/v1.0/users/u-1/mailFolders/f-1/messages/delta?$deltatoken=abc", Run: "r-1"},
		TypeAccountState:    AccountState{Account: "ann@contoso.example", AccountID: "u-1", State: "active", FirstSeen: t0},
		TypeAccountDeparted: AccountState{Account: "carl@contoso.example", AccountID: "u-3", State: "disabled", Kind: "", Previous: "active", FirstSeen: t0, Reason: "disabled"},
		TypeGroups:          Groups{Groups: []Group{{ID: "g-1", Name: "Sales", Mail: "sales@contoso.example", Types: []string{"Unified"}, Team: true}}, SHA256: "e3b0", Run: "r-1"},
		TypeHoldPlaced:      HoldPlaced{Case: "Smith v. Contoso", Custodians: []string{"ann@contoso.example"}, Query: `subject:"Q3"`, From: &from, To: &to, Reason: "litigation", Actor: "alice@host"},
		TypeHoldReleased:    HoldReleased{Case: "Smith v. Contoso", Reason: "settled", Actor: "alice@host"},
		TypeAudit:           Audit{Action: "search", Actor: "alice@host", Time: t0, Tenant: "contoso", Query: "from:bob", Hits: 4, SpoolID: "1-ab"},
		TypeReportIssued: ReportIssued{Kind: "compliance", Tenant: "contoso", From: from, To: to, Checkpoint: 1934, Root: "3d7e", Signer: "CN=Holdfast", Fingerprint: "aa",
			SHA256: "bb", Bytes: 20480, Actor: "alice@host", File: "/srv/reports/r.pdf"},
		TypeRestorePerformed: RestorePerformed{Restore: "restore-1", Actor: "alice@host", Scope: RestoreScope{Account: "ann@contoso.example", Workload: holdfast.Mail, Path: "Inbox", At: t0, IncludeDeleted: true},
			Target: "/srv/restore", Status: "completed", Items: 3, Bytes: 999, Failures: []RestoreFailure{{Item: "x", Path: "Inbox/x.eml", Reason: "blob missing"}}, DurationS: 0.5, Resumed: 1},
		TypeVerifyRun: VerifyRun{OK: false, Records: 1934, Blobs: 20, Bytes: 4096, Checkpoints: 12, ReadDataPercent: 10, PacksRead: 2, Failures: 1,
			FirstFailures: []VerifyFailure{{Object: "packs/ab/abcd", Problem: "hash mismatch"}}, DurationSeconds: 0.25, Actor: "scheduler"},
		TypeSynthetic:      Synthetic{Item: "synthetic-1-2", Account: "ann@contoso-accountants.example", Workload: "mail", Folder: "Inbox"},
		TypePolicySettings: PolicySettingsSet{PolicySettings: PolicySettings{Profile: "sec-17a-4", RetentionDays: 2555, RPOHours: 24, Workloads: []string{"mail"}, RequiredYears: 0, RequireWORM: false}, Actor: "alice@host"},
		TypeScheduleSet: ScheduleSet{Schedule: Schedule{Backup: "@every 4h", BackupJitter: "30m", PolicyAfterBackup: true, Verify: "0 3 * * 0", VerifyReadPercent: 10,
			RestoreTest: "0 4 1 * *", RestoreSample: 20, Report: "0 6 1 * *", ReportKind: "procedures", ReportDir: "/srv/reports/contoso"}, Actor: "alice@host"},
		TypeAccessChanged: AccessChanged{Change: "token.created", User: "legal1", Role: "legal", Tenants: []string{"contoso"}, Token: "3f9a0c11d2e4b5a6",
			Expires: time.Date(2027, 3, 6, 10, 0, 0, 0, time.UTC), Actor: "admin (API, 10.0.0.5)"},
		TypeWitnessesSet: WitnessesSet{Witnesses: []Witness{{Name: "witness.example/w1", Key: "witness.example/w1+0a1b2c3d+BFo3ufrW0YLuO6hIBHpHkjk8ZdxUkngDWbKy4Q+ANmTS", URL: "https://witness.example/w1"}},
			Change: "witness.added", Witness: "witness.example/w1", Actor: "alice@host"},
		TypePolicyEvaluated: PolicyEvaluated{Tenant: "contoso", Actor: "alice@host", PolicyHash: "p", PolicyFiles: []string{"stale.rego"}, InputHash: "i", FindingsHash: "f", Findings: map[string]int{"high": 1}},
		TypeDisposalProposed: DisposalProposed{Tenant: "contoso", AsOf: t0, Rules: []RetentionRule{{Name: "mail-7y", Workloads: []string{"mail"}, Query: "-kind:meetings", KeepDays: 2557, From: "received"}},
			PolicyHash: "p", Versions: []DisposalVersion{{Record: 12, Workload: "mail", Account: "ann@contoso.example", Item: "AAMk=\u2028<b>", Rule: "mail-7y", Since: from, SHA256: []ID{id}}},
			Held: 3, Reason: "yearly review", Actor: "alice@host", Person: "alice"},
		TypeDisposalReviewed: DisposalReviewed{Proposal: 40, Decision: "approved", Reason: "checked against the schedule", Actor: "legal1 (API, 10.0.0.5)", Person: "legal1", Role: "legal"},
		TypeDisposalExecuted: DisposalExecuted{Proposal: 40, Approval: 41, Versions: []DisposalVersion{{Record: 12, Workload: "mail", Account: "ann@contoso.example", Item: "AAMk=", Rule: "mail-7y", Since: from, SHA256: []ID{id}}},
			Blobs: []ID{id}, Packs: []ID{{2}}, Actor: "scheduler"},
		TypeDisposalDone: DisposalCompleted{Execution: 42, Retired: []ID{{2}}},
	}
}

// TestGoldenBytes holds the exact bytes of a record of each type: a change
// to a type's JSON (a renamed field, a new tag) fails here and has to be
// made deliberately, as a new version of the type.
func TestGoldenBytes(t *testing.T) {
	s := samples()
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			v, ok := s[typ]
			if !ok {
				t.Fatalf("no sample for %s: add one to samples()", typ)
			}
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			r := Record{Index: 41, Type: typ, Time: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Data: data}
			if typ == TypeItemVersion {
				r.Refs = []Ref{{SHA256: ID{1}, Size: 10}, {Chunks: []ID{{2}, {3}}, SHA256: ID{4}, Size: 9 << 20}}
			}
			got, err := Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", typ+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./record -update to create it)", err)
			}
			want = bytes.TrimSuffix(want, []byte("\n"))
			if !bytes.Equal(got, want) {
				t.Errorf("the encoding of %s changed:\ngot  %s\nwant %s", typ, got, want)
			}
			// The golden bytes are canonical and decode, member by member,
			// into the type's Go value.
			dec, err := Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DataOf(dec)
			if err != nil {
				t.Fatal(err)
			}
			strict := json.NewDecoder(bytes.NewReader(dec.Data))
			strict.DisallowUnknownFields()
			if err := strict.Decode(types[typ]()); err != nil {
				t.Errorf("golden data has members the type does not declare: %v", err)
			}
			if got, want := reflect.ValueOf(back).Elem().Interface(), v; !reflect.DeepEqual(got, want) {
				t.Errorf("decoded data differs:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestRestoreScopeVersion1 reads a scope as the first restore.performed
// records wrote it, with Go's field names.
func TestRestoreScopeVersion1(t *testing.T) {
	v1 := `{"Account":"ann@contoso.example","At":"2026-11-01T00:00:00Z","IncludeDeleted":true,"Item":"","Path":"Inbox","Run":"","Workload":"mail"}`
	var got RestoreScope
	if err := json.Unmarshal([]byte(v1), &got); err != nil {
		t.Fatal(err)
	}
	want := RestoreScope{Account: "ann@contoso.example", Workload: holdfast.Mail, Path: "Inbox", At: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), IncludeDeleted: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	b, _ := json.Marshal(got)
	if want := `{"account":"ann@contoso.example","workload":"mail","path":"Inbox","at":"2026-11-01T00:00:00Z","include_deleted":true}`; string(b) != want {
		t.Errorf("version 2 bytes: got %s, want %s", b, want)
	}
}

// TestStoreDocNamesEveryType keeps docs/STORE.md's list of record types
// whole.
func TestStoreDocNamesEveryType(t *testing.T) {
	doc, err := os.ReadFile("../docs/STORE.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types() {
		if !bytes.Contains(doc, []byte("`"+typ+"`")) {
			t.Errorf("docs/STORE.md does not name record type %s", typ)
		}
	}
}
