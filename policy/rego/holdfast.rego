# The default Holdfast rules: coverage and retention gaps. Each rule adds
# findings to data.holdfast.findings; a finding is
# {rule, severity, tenant, account, workload, message, evidence}.
package holdfast

import rego.v1

cfg := data.holdfast.config

now_ns := time.parse_rfc3339_ns(input.evaluated_at)

hours_since(ts) := (now_ns - time.parse_rfc3339_ns(ts)) / 3600000000000

days_since(ts) := hours_since(ts) / 24

in_scope(w) if w in input.settings.workloads

finding(rule, severity, account, workload, message, evidence) := {
	"rule": rule,
	"severity": severity,
	"tenant": input.tenant,
	"account": account,
	"workload": workload,
	"message": message,
	"evidence": evidence,
}

# The workloads an account must have covered (computed once, not per
# account: policies run over tens of thousands of accounts).
user_expected := {w | some w in cfg.user_workloads; in_scope(w)}

kind_workload := {"site": "sharepoint", "team": "teams"}

# The workloads an account must have covered now: every expected one of
# an active, licensed user; the one workload of a site or a team.
expected(a) := user_expected if {
	a.kind == "user"
	a.enabled
	a.licensed
}

expected(a) := {w} if {
	w := kind_workload[a.kind]
	in_scope(w)
}

# What an account of each kind that misses nothing has captured, sorted
# as captured_workloads is: an account whose captured_workloads equal
# these has no workload that was never captured. Rules over many
# accounts test such summaries of the account first and look into its
# workloads only when they may show a gap.
full_cover["user"] := sort(user_expected)

full_cover[kind] := [w] if {
	some kind, w in kind_workload
	in_scope(w)
}

# Inventory times are UTC to the second, so they compare as strings.
stale_before := time.format([now_ns - (input.settings.rpo_hours * 3600000000000), "UTC", "2006-01-02T15:04:05Z07:00"])

# --- backup older than the RPO

# The rules that walk every account are sets of their own, which
# findings takes in: Holdfast evaluates them (and departed) side by side,
# each on its own core, before the rest (policy/eval.go). Rules added to
# them are evaluated with them.
findings contains f if some f in stale_findings

findings contains f if some f in never_captured_findings

# The finding written out, not through finding(): a function call per
# finding cost a tenth of the evaluation at 8,000 stale workloads.
stale_findings contains {"rule": "stale-backup", "severity": "high", "tenant": input.tenant, "account": a.upn, "workload": w, "message": msg, "evidence": ev} if {
	before := stale_before # bound once: a rule's value looked up per account costs more than the test
	some a in input.accounts
	a.oldest_last_capture < before
	some w in expected(a)
	last := a.workloads[w].last_capture
	last < before
	msg := sprintf("%s: %s was last backed up %v hours ago, beyond the %v-hour RPO; find out why backups of it stopped and run one", [a.upn, w, round(hours_since(last)), input.settings.rpo_hours])
	ev := {"last_capture": last, "rpo_hours": input.settings.rpo_hours}
}

# --- an account or workload never captured

never_captured_findings contains finding("never-captured", "high", a.upn, w, msg, {"workloads_captured": object.keys(a.workloads)}) if {
	full := full_cover
	some a in input.accounts
	a.captured_workloads != full[a.kind]
	some w in expected(a)
	not a.workloads[w].last_capture
	msg := sprintf("%s: %s has never been backed up; include it in the backups (holdfast backup --workloads) and run one", [a.upn, w])
}

# --- departed employees

# Captured after the event logged at position rec (a departure, a hold):
# the log says what came after what, exactly, where times are only to the
# second.
captured_after(a, rec) if a.last_capture_record > rec

last_capture_ns(a) := time.parse_rfc3339_ns(a.last_capture)

# The accounts that have left, found in one pass over all of them.
departed := [a | some a in input.accounts; a.departed_since]

# Disabled or unlicensed: Graph still serves the data; it must be captured
# after the departure.
findings contains finding("departed-not-captured", "high", a.upn, "", msg, ev) if {
	some a in departed
	a.kind == "user"
	a.state in {"disabled", "unlicensed"}
	not captured_after(a, a.departed_record)
	msg := sprintf("%s left (%s since %s) and has not been backed up since; back the account up now, before its licence or data is removed", [a.upn, a.state, a.departed_since])
	ev := {"state": a.state, "departed_since": a.departed_since, "workloads_captured": object.keys(a.workloads)}
}

# Soft-deleted: Graph no longer serves it. Urgent while Microsoft can still
# restore the user (30 days): restore it and back it up.
deleted_gap(a) if not last_capture_ns(a)

deleted_gap(a) if {
	time.parse_rfc3339_ns(a.departed_since) - last_capture_ns(a) > input.settings.rpo_hours * 3600000000000
}

findings contains finding("departed-not-captured", sev, a.upn, "", msg, ev) if {
	some a in departed
	a.kind == "user"
	a.state == "deleted"
	deleted_gap(a)
	within := days_since(a.departed_since) < cfg.soft_delete_window_days
	sev := {true: "critical", false: "high"}[within]
	msg := {
		true: sprintf("%s was deleted on %s without a recent backup; restore the user in Entra ID within %v days of deletion and back it up", [a.upn, a.departed_since, cfg.soft_delete_window_days]),
		false: sprintf("%s was deleted on %s without a recent backup, and Microsoft's %v-day window has passed: what was not captured is lost", [a.upn, a.departed_since, cfg.soft_delete_window_days]),
	}[within]
	ev := {"state": a.state, "departed_since": a.departed_since, "days_since": days_since(a.departed_since)}
}

# --- retention

required_years := data.holdfast.profiles[input.settings.profile].years if input.settings.profile != "custom"

required_years := input.settings.required_years if input.settings.profile == "custom"

worm_required if data.holdfast.profiles[input.settings.profile].worm

worm_required if {
	input.settings.profile == "custom"
	input.settings.require_worm
}

retention_short if {
	input.settings.retention_days > 0
	input.settings.retention_days < required_years * 365
}

findings contains finding("retention-too-short", "high", "", "", msg, ev) if {
	retention_short
	msg := sprintf("retention is %v days, but the %s profile requires %v years; raise the retention (holdfast policy set --retention-days)", [input.settings.retention_days, input.settings.profile, required_years])
	ev := {"retention_days": input.settings.retention_days, "profile": input.settings.profile, "required_years": required_years}
}

findings contains finding("departed-retention-short", "medium", a.upn, "", msg, ev) if {
	retention_short
	some a in departed
	msg := sprintf("%s has left; what was captured of the account will be kept %v days, less than the %v years the %s profile requires", [a.upn, input.settings.retention_days, required_years, input.settings.profile])
	ev := {"retention_days": input.settings.retention_days, "required_years": required_years, "departed_since": a.departed_since}
}

findings contains finding("worm-required", "critical", "", "", msg, ev) if {
	worm_required
	input.store.object_lock != "compliance"
	msg := sprintf("the %s profile requires WORM storage, but the store (%s) has object lock %q, not compliance mode", [input.settings.profile, input.store.backend, input.store.object_lock])
	ev := input.store
}

# --- holds on custodians no longer captured

findings contains finding("hold-custodian-not-captured", "high", c, "", msg, ev) if {
	some h in input.holds
	h.active
	some c in h.custodians
	not custodian_captured(c, h.placed_record)
	msg := sprintf("%s is a custodian of the hold %q but has not been backed up since the hold was placed (%s); new data of theirs is not being preserved", [c, h.case, h.placed])
	ev := {"case": h.case, "placed": h.placed}
}

custodian_captured(upn, rec) if captured_after(accounts_by_upn[lower(upn)], rec)

# Accounts by lower-case UPN, built once (and only if a hold needs it).
accounts_by_upn := {lower(a.upn): a | some a in input.accounts}

# --- restore tests and verify runs

last_check(checks) := c if {
	count(checks) > 0
	c := checks[count(checks) - 1]
}

findings contains finding("restore-test-missing", "medium", "", "", "no restore test has ever been run; run holdfast restore-test", {}) if {
	count(input.restore_tests) == 0
}

findings contains finding("restore-test-stale", "medium", "", "", msg, last) if {
	last := last_check(input.restore_tests)
	days_since(last.time) > cfg.restore_test_max_age_days
	msg := sprintf("the last restore test was %v days ago (more than %v); run holdfast restore-test", [round(days_since(last.time)), cfg.restore_test_max_age_days])
}

findings contains finding("restore-test-failed", "high", "", "", "the last restore test failed; find out why and run it again", last) if {
	last := last_check(input.restore_tests)
	not last.passed
}

findings contains finding("verify-missing", "medium", "", "", "the store has never been verified; run holdfast verify", {}) if {
	count(input.verify_runs) == 0
}

findings contains finding("verify-stale", "medium", "", "", msg, last) if {
	last := last_check(input.verify_runs)
	days_since(last.time) > cfg.verify_max_age_days
	msg := sprintf("the store was last verified %v days ago (more than %v); run holdfast verify", [round(days_since(last.time)), cfg.verify_max_age_days])
}

findings contains finding("verify-failed", "critical", "", "", "the last verify of the store failed: data may be damaged; run holdfast verify and act on what it names", last) if {
	last := last_check(input.verify_runs)
	not last.passed
}

# --- witnesses: every checkpoint cosigned within witness_max_age_hours

findings contains finding("checkpoint-unwitnessed", "high", "", "", msg, w) if {
	some w in input.witnesses
	w.pending
	hours_since(w.pending.time) > cfg.witness_max_age_hours
	msg := sprintf("checkpoint %v, issued %v hours ago, is not cosigned by witness %s (more than %v hours; it has cosigned up to %v): is it down, or does it refuse the log? holdfast witness list", [w.pending.size, round(hours_since(w.pending.time)), w.name, cfg.witness_max_age_hours, w.cosigned])
}

# --- failed items of the last run, grouped by account, workload and reason

failure_groups[[f.account, f.workload, f.reason]] contains f.item if {
	some f in input.last_run.failed_items
}

findings contains finding("failed-items", "medium", g[0], g[1], msg, {"reason": g[2], "items": items}) if {
	some g, items in failure_groups
	msg := sprintf("%v item(s) of %s %s could not be backed up in the last run: %s", [count(items), g[0], g[1], g[2]])
}
