# Retention schedules: how long item versions are kept before they may be
# disposed of. data.holdfast.retention.rules is the tenant's schedule, a
# set of rules {name, workloads, query, keep_days, from}:
#
#   name       names the rule in plans, records and reports;
#   workloads  the workloads it covers (empty or absent: all);
#   query      KQL: only the versions it selects (absent: all);
#   keep_days  how long they are kept;
#   from       the date counted from: "received" (a message received, a
#              file created, otherwise captured), "modified" (last
#              modified, otherwise captured) or "departure" (the account's
#              departure; the rule covers departed accounts only).
#
# A version covered by several rules is kept until the last of them lets
# it go (the longest retention wins); one covered by none is kept for
# ever. Add rules in a policy directory (holdfast disposal plan
# --policy-dir): Rego in this package, or data.json's
# holdfast.retention_schedule, by tenant name or "*" for every tenant.
# data.holdfast.retention.errors refuses a schedule: every plan fails,
# naming them.
package holdfast.retention

import rego.v1

# The tenant's retention period (holdfast policy set --retention-days)
# is a rule over everything, from the date each item was received.
rules contains {"name": "retention-days", "keep_days": input.settings.retention_days, "from": "received"} if {
	input.settings.retention_days > 0
}

rules contains r if {
	some r in data.holdfast.retention_schedule[input.tenant]
}

rules contains r if {
	some r in data.holdfast.retention_schedule["*"]
}

froms := {"received", "modified", "departure"}

# The profile's legal minimum, in days (years of 365.25 days, rounded up).
minimum_days := ceil(data.holdfast.profiles[input.settings.profile].years * 36525 / 100)

errors contains msg if {
	some r in rules
	r.keep_days < minimum_days
	msg := sprintf("rule %q keeps versions %d days, less than the %d days (%d years) the %s profile requires", [r.name, r.keep_days, minimum_days, data.holdfast.profiles[input.settings.profile].years, input.settings.profile])
}

errors contains msg if {
	some r in rules
	not r.from in froms
	msg := sprintf("rule %q counts from %v: use received, modified or departure", [r.name, object.get(r, "from", null)])
}

errors contains msg if {
	some r in rules
	not r.keep_days > 0
	msg := sprintf("rule %q keeps versions %v days: a disposal rule keeps them at least one day", [r.name, object.get(r, "keep_days", null)])
}

errors contains msg if {
	some r in rules
	some r2 in rules
	r.name == r2.name
	r != r2
	msg := sprintf("two rules are named %q", [r.name])
}
