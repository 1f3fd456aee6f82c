package holdfast_test

import rego.v1

import data.holdfast

# A tenant in good order: one active user captured an hour ago, a restore
# test and a verify yesterday, no retention requirement.
now := "2026-06-30T12:00:00Z"

fresh := {"first_capture": "2026-01-01T00:00:00Z", "last_capture": "2026-06-30T11:00:00Z", "last_capture_record": 100, "items": 10, "bytes": 100}

# user is an active user, with extra fields; extra's workloads replace the
# default ones (object.union would merge them).
user(upn, extra) := summarized(object.union(
	object.union({"upn": upn, "kind": "user", "state": "active", "enabled": true, "licensed": true, "on_hold": false}, object.remove(extra, ["workloads"])),
	{"workloads": object.get(extra, "workloads", {"mail": fresh, "calendar": fresh, "contacts": fresh, "onedrive": fresh})},
))

# summarized adds what the inventory derives from an account's workloads
# (Account.Summary in Go): captured_workloads, last_capture and
# oldest_last_capture.
summarized(a) := object.union(object.union(a, {"captured_workloads": sort([w | some w, c in a.workloads; c.last_capture])}), capture_times(a))

capture_times(a) := {"last_capture": max(caps), "oldest_last_capture": min(caps), "last_capture_record": max(recs)} if {
	caps := [c.last_capture | some c in a.workloads; c.last_capture]
	count(caps) > 0
	recs := [object.get(c, "last_capture_record", 0) | some c in a.workloads; c.last_capture]
}

capture_times(a) := {} if {
	not [c | some c in a.workloads; c.last_capture][0]
}

base := {
	"tenant": "contoso",
	"evaluated_at": now,
	"settings": {"profile": "none", "retention_days": 0, "rpo_hours": 24, "workloads": ["mail", "calendar", "contacts", "onedrive", "sharepoint", "teams"], "required_years": 0, "require_worm": false},
	"store": {"backend": "local", "object_lock": "none"},
	"accounts": [user("alice@contoso.example", {})],
	"last_run": {"id": "r1", "status": "completed", "finished": now, "failed_items": []},
	"holds": [],
	"restore_tests": [{"time": "2026-06-29T12:00:00Z", "passed": true}],
	"verify_runs": [{"time": "2026-06-29T12:00:00Z", "passed": true}],
}

all_findings(inp) := fs if {
	fs := holdfast.findings with input as inp
}

rules(inp) := {f.rule | some f in all_findings(inp)}

find(inp, rule) := [f | some f in all_findings(inp); f.rule == rule]

test_good_tenant_has_no_findings if {
	count(holdfast.findings) == 0 with input as base
}

# stale-backup

test_stale_backup_fires if {
	old := object.union(fresh, {"last_capture": "2026-06-28T12:00:00Z"})
	inp := object.union(base, {"accounts": [user("alice@contoso.example", {"workloads": {"mail": old, "calendar": fresh, "contacts": fresh, "onedrive": fresh}})]})
	fs := find(inp, "stale-backup")
	count(fs) == 1
	fs[0].workload == "mail"
	fs[0].severity == "high"
	contains(fs[0].message, "48 hours")
}

test_stale_backup_respects_rpo if {
	old := object.union(fresh, {"last_capture": "2026-06-28T12:00:00Z"})
	inp := object.union(base, {
		"settings": object.union(base.settings, {"rpo_hours": 72}),
		"accounts": [user("alice@contoso.example", {"workloads": {"mail": old, "calendar": fresh, "contacts": fresh, "onedrive": fresh}})],
	})
	not "stale-backup" in rules(inp)
}

# never-captured

test_never_captured_fires_for_missing_workload if {
	inp := object.union(base, {"accounts": [user("alice@contoso.example", {"workloads": {"mail": fresh}})]})
	{f.workload | some f in find(inp, "never-captured")} == {"calendar", "contacts", "onedrive"}
}

test_never_captured_ignores_workloads_out_of_scope if {
	inp := object.union(base, {
		"settings": object.union(base.settings, {"workloads": ["mail"]}),
		"accounts": [user("alice@contoso.example", {"workloads": {"mail": fresh}})],
	})
	not "never-captured" in rules(inp)
}

test_never_captured_site if {
	inp := object.union(base, {"accounts": [user("alice@contoso.example", {}), summarized({"upn": "https://x.sharepoint.com/sites/f", "kind": "site", "state": "active", "enabled": true, "licensed": true, "workloads": {}})]})
	fs := find(inp, "never-captured")
	fs[0].workload == "sharepoint"
}

# departed-not-captured

test_disabled_not_captured_since_fires if {
	inp := object.union(base, {"accounts": [user("bob@contoso.example", {"state": "disabled", "enabled": false, "departed_since": "2026-06-30T11:30:00Z", "departed_record": 200})]})
	fs := find(inp, "departed-not-captured")
	count(fs) == 1
	fs[0].severity == "high"
}

# Within one second the log's order decides: a capture logged after the
# departure covers it, one logged before does not.
test_disabled_captured_in_the_same_second_before_fires if {
	inp := object.union(base, {"accounts": [user("bob@contoso.example", {"state": "disabled", "enabled": false, "departed_since": "2026-06-30T11:00:00Z", "departed_record": 150})]})
	count(find(inp, "departed-not-captured")) == 1
}

test_disabled_captured_in_the_same_second_after_is_fine if {
	inp := object.union(base, {"accounts": [user("bob@contoso.example", {"state": "disabled", "enabled": false, "departed_since": "2026-06-30T11:00:00Z", "departed_record": 50})]})
	not "departed-not-captured" in rules(inp)
}

test_disabled_captured_since_is_fine if {
	inp := object.union(base, {"accounts": [user("bob@contoso.example", {"state": "disabled", "enabled": false, "departed_since": "2026-06-30T10:00:00Z", "departed_record": 50})]})
	not "departed-not-captured" in rules(inp)
	not "stale-backup" in rules(inp) # departed accounts are not expected to stay current
}

test_deleted_recently_without_backup_is_critical if {
	old := object.union(fresh, {"last_capture": "2026-06-01T00:00:00Z"})
	inp := object.union(base, {"accounts": [user("carol@contoso.example", {"state": "deleted", "enabled": false, "departed_since": "2026-06-25T00:00:00Z", "workloads": {"mail": old}})]})
	fs := find(inp, "departed-not-captured")
	fs[0].severity == "critical"
}

test_deleted_long_ago_is_high if {
	inp := object.union(base, {"accounts": [user("carol@contoso.example", {"state": "deleted", "enabled": false, "departed_since": "2026-04-01T00:00:00Z", "workloads": {}})]})
	fs := find(inp, "departed-not-captured")
	fs[0].severity == "high"
	contains(fs[0].message, "lost")
}

test_deleted_with_backup_up_to_deletion_is_fine if {
	inp := object.union(base, {"accounts": [user("carol@contoso.example", {"state": "deleted", "enabled": false, "departed_since": "2026-06-30T11:30:00Z"})]})
	not "departed-not-captured" in rules(inp)
}

# retention

test_retention_too_short if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "sox", "retention_days": 365})})
	fs := find(inp, "retention-too-short")
	fs[0].evidence.required_years == 7
}

test_retention_long_enough if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "hipaa", "retention_days": 6 * 365})})
	not "retention-too-short" in rules(inp)
}

test_retention_forever_is_long_enough if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "nl-fiscal", "retention_days": 0})})
	not "retention-too-short" in rules(inp)
}

test_custom_profile_years if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "custom", "required_years": 10, "retention_days": 3000})})
	"retention-too-short" in rules(inp)
}

test_departed_retention_short if {
	inp := object.union(base, {
		"settings": object.union(base.settings, {"profile": "finra-4511", "retention_days": 400}),
		"accounts": [user("bob@contoso.example", {"state": "disabled", "enabled": false, "departed_since": "2026-06-01T00:00:00Z"})],
	})
	fs := find(inp, "departed-retention-short")
	fs[0].account == "bob@contoso.example"
}

test_departed_retention_fine_without_requirement if {
	inp := object.union(base, {
		"settings": object.union(base.settings, {"retention_days": 400}),
		"accounts": [user("bob@contoso.example", {"state": "disabled", "enabled": false, "departed_since": "2026-06-01T00:00:00Z"})],
	})
	not "departed-retention-short" in rules(inp)
}

# worm-required

test_worm_required_without_object_lock if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "sec-17a-4"})})
	fs := find(inp, "worm-required")
	fs[0].severity == "critical"
}

test_worm_required_with_compliance_lock if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "sec-17a-4"}), "store": {"backend": "s3", "object_lock": "compliance"}})
	not "worm-required" in rules(inp)
}

test_governance_lock_is_not_worm if {
	inp := object.union(base, {"settings": object.union(base.settings, {"profile": "sec-17a-4"}), "store": {"backend": "s3", "object_lock": "governance"}})
	"worm-required" in rules(inp)
}

# hold-custodian-not-captured

test_hold_custodian_not_captured if {
	inp := object.union(base, {"holds": [{"case": "Harbour", "custodians": ["dave@contoso.example"], "active": true, "placed": "2026-06-01T00:00:00Z", "placed_record": 50}]})
	fs := find(inp, "hold-custodian-not-captured")
	fs[0].account == "dave@contoso.example"
}

test_hold_custodian_captured if {
	inp := object.union(base, {"holds": [{"case": "Harbour", "custodians": ["Alice@contoso.example"], "active": true, "placed": "2026-06-01T00:00:00Z", "placed_record": 50}]})
	not "hold-custodian-not-captured" in rules(inp)
}

test_hold_custodian_captured_before_the_hold if {
	inp := object.union(base, {"holds": [{"case": "Harbour", "custodians": ["alice@contoso.example"], "active": true, "placed": "2026-06-30T11:00:00Z", "placed_record": 150}]})
	"hold-custodian-not-captured" in rules(inp)
}

test_released_hold_is_ignored if {
	inp := object.union(base, {"holds": [{"case": "Harbour", "custodians": ["dave@contoso.example"], "active": false, "placed": "2026-06-01T00:00:00Z", "placed_record": 50}]})
	not "hold-custodian-not-captured" in rules(inp)
}

# restore tests

test_restore_test_missing if {
	"restore-test-missing" in rules(object.union(base, {"restore_tests": []}))
}

test_restore_test_stale if {
	"restore-test-stale" in rules(object.union(base, {"restore_tests": [{"time": "2026-01-01T00:00:00Z", "passed": true}]}))
}

test_restore_test_failed if {
	r := rules(object.union(base, {"restore_tests": [{"time": "2026-06-29T00:00:00Z", "passed": false}]}))
	"restore-test-failed" in r
	not "restore-test-stale" in r
}

# verify runs

test_verify_missing if {
	"verify-missing" in rules(object.union(base, {"verify_runs": []}))
}

test_verify_stale if {
	"verify-stale" in rules(object.union(base, {"verify_runs": [{"time": "2026-06-01T00:00:00Z", "passed": true}]}))
}

test_verify_failed_is_critical if {
	fs := find(object.union(base, {"verify_runs": [{"time": "2026-06-29T00:00:00Z", "passed": false}]}), "verify-failed")
	fs[0].severity == "critical"
}

# checkpoint-unwitnessed

test_checkpoint_unwitnessed_past_the_age if {
	fs := find(object.union(base, {"witnesses": [
		{"name": "w1.example/w", "cosigned": 40, "pending": {"size": 52, "time": "2026-06-28T00:00:00Z"}},
		{"name": "w2.example/w", "cosigned": 52},
	]}), "checkpoint-unwitnessed")
	count(fs) == 1
	contains(fs[0].message, "w1.example/w")
}

test_checkpoint_pending_within_the_age if {
	not "checkpoint-unwitnessed" in rules(object.union(base, {"witnesses": [{"name": "w", "cosigned": 40, "pending": {"size": 52, "time": "2026-06-30T10:00:00Z"}}]}))
}

test_no_witnesses_no_finding if {
	not "checkpoint-unwitnessed" in rules(base)
}

# failed-items

test_failed_items_grouped if {
	inp := object.union(base, {"last_run": object.union(base.last_run, {"failed_items": [
		{"account": "alice@contoso.example", "workload": "mail", "item": "m1", "reason": "503 after 20 tries"},
		{"account": "alice@contoso.example", "workload": "mail", "item": "m2", "reason": "503 after 20 tries"},
		{"account": "alice@contoso.example", "workload": "onedrive", "item": "f1", "reason": "hash mismatch"},
	]})})
	fs := find(inp, "failed-items")
	count(fs) == 2
	some f in fs
	f.workload == "mail"
	count(f.evidence.items) == 2
}

test_no_failed_items_no_finding if {
	not "failed-items" in rules(base)
}
