package holdfast.retention_test

import rego.v1

import data.holdfast.retention

settings(profile, days) := {"profile": profile, "retention_days": days, "rpo_hours": 24, "workloads": ["mail"]}

test_retention_days_is_a_rule if {
	rs := retention.rules with input as {"tenant": "contoso", "settings": settings("none", 400)}
	rs == {{"name": "retention-days", "keep_days": 400, "from": "received"}}
}

test_no_retention_no_rules if {
	count(retention.rules) == 0 with input as {"tenant": "contoso", "settings": settings("none", 0)}
}

test_schedule_by_tenant_and_for_all if {
	sched := {"contoso": [{"name": "mail-3y", "workloads": ["mail"], "keep_days": 1100, "from": "received"}], "*": [{"name": "departed-1y", "keep_days": 365, "from": "departure"}]}
	rs := retention.rules with input as {"tenant": "contoso", "settings": settings("none", 0)} with data.holdfast.retention_schedule as sched
	{r.name | some r in rs} == {"mail-3y", "departed-1y"}
	other := retention.rules with input as {"tenant": "fabrikam", "settings": settings("none", 0)} with data.holdfast.retention_schedule as sched
	{r.name | some r in other} == {"departed-1y"}
}

test_shorter_than_the_profile_is_refused if {
	errs := retention.errors with input as {"tenant": "contoso", "settings": settings("sox", 2000)}
	count(errs) == 1
	some e in errs
	contains(e, "2557 days (7 years) the sox profile requires")
}

test_as_long_as_the_profile_passes if {
	count(retention.errors) == 0 with input as {"tenant": "contoso", "settings": settings("sox", 2557)}
}

test_bad_from_and_days_are_refused if {
	sched := {"*": [{"name": "x", "keep_days": 0, "from": "yesterday"}]}
	errs := retention.errors with input as {"tenant": "contoso", "settings": settings("none", 0)} with data.holdfast.retention_schedule as sched
	count(errs) == 2
}
