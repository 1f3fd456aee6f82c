package access

import "slices"

// Permission is something a request may do.
type Permission string

const (
	ReadTenants     Permission = "tenants:read"    // list tenants, status and coverage (metadata, no content)
	AddTenants      Permission = "tenants:add"     // create a tenant's repository (a new tenant is in no one's scope but an admin's)
	ConnectTenant   Permission = "tenants:connect" // set and test a tenant's Microsoft 365 connection
	ReadSchedule    Permission = "schedule:read"   // a tenant's schedule
	WriteSchedule   Permission = "schedule:write"  // change it
	RunJobs         Permission = "jobs:run"        // run a verify (or, later, a backup) now
	ReadContent     Permission = "content:read"    // search and read items
	ReadHolds       Permission = "holds:read"
	WriteHolds      Permission = "holds:write" // place and release holds
	Export          Permission = "exports:write"
	Restore         Permission = "restore:write"
	ReadProofs      Permission = "proofs:read"   // checkpoints and proofs
	ReadAudit       Permission = "audit:read"    // the log of procedures and accesses
	ReadFindings    Permission = "findings:read" // evaluate the policies and read the findings
	ManageUsers     Permission = "users:write"
	ReadMetrics     Permission = "metrics:read"      // /metrics: every tenant's figures
	ReadAlerts      Permission = "alerts:read"       // alert delivery attempts
	Reports         Permission = "reports:write"     // issue signed reports, list, download and verify them
	RestoreZip      Permission = "restore:zip"       // restore to a zip and download it: the items' content
	WritePolicy     Permission = "policy:write"      // a tenant's retention settings (profile, retention, RPO, workloads)
	WriteWitness    Permission = "witnesses:write"   // add and remove the witnesses a tenant's checkpoints go to
	ReadDisposals   Permission = "disposals:read"    // disposal plans, proposals and what became of them
	ProposeDisposal Permission = "disposals:propose" // propose a disposal
	ReviewDisposal  Permission = "disposals:review"  // approve or reject another person's proposal: the legal role only
	ExecuteDisposal Permission = "disposals:execute" // carry out an approved disposal
)

// matrix is the one table of who may do what; docs/API.md prints it and
// web's route test walks every route against it.
var matrix = map[Permission][]Role{
	ReadTenants:     {Admin, Technician, Legal, Auditor},
	AddTenants:      {Admin},
	ConnectTenant:   {Admin, Technician},
	ReadSchedule:    {Admin, Technician, Auditor},
	WriteSchedule:   {Admin, Technician},
	RunJobs:         {Admin, Technician},
	ReadContent:     {Admin, Legal},
	ReadHolds:       {Admin, Legal},
	WriteHolds:      {Admin, Legal},
	Export:          {Admin, Legal},
	Restore:         {Admin, Technician},
	ReadProofs:      {Admin, Technician, Legal, Auditor},
	ReadAudit:       {Admin, Auditor},
	ReadFindings:    {Admin, Technician, Auditor},
	ManageUsers:     {Admin},
	ReadMetrics:     {Admin},
	ReadAlerts:      {Admin, Technician},
	Reports:         {Admin, Technician, Auditor},
	RestoreZip:      {Admin},
	WritePolicy:     {Admin, Technician},
	WriteWitness:    {Admin},
	ReadDisposals:   {Admin, Technician, Legal, Auditor},
	ProposeDisposal: {Admin, Technician},
	ReviewDisposal:  {Legal}, // not even an admin: a second person with the legal role (docs/RETENTION.md)
	ExecuteDisposal: {Admin, Technician},
}

// Allowed reports whether role r has permission p. An unknown permission
// is allowed to no one.
func Allowed(r Role, p Permission) bool { return slices.Contains(matrix[p], r) }

// Permissions lists every permission, in the table's order.
func Permissions() []Permission {
	return []Permission{ReadTenants, AddTenants, ConnectTenant, ReadSchedule, WriteSchedule, RunJobs, ReadContent, ReadHolds, WriteHolds, Export, Restore, ReadProofs, ReadAudit, ReadFindings, ManageUsers, ReadMetrics, ReadAlerts, Reports, RestoreZip, WritePolicy, WriteWitness,
		ReadDisposals, ProposeDisposal, ReviewDisposal, ExecuteDisposal}
}
