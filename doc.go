// Package holdfast holds the domain types that every Holdfast package shares:
// tenant names, the error type with its Kind, and nothing that does I/O.
//
// Holdfast backs up Microsoft 365 tenants into an append-only, verifiable
// store (package store), indexes them for eDiscovery, evaluates retention
// policies and issues signed reports. The binary lives in cmd/holdfast; it is
// the only place where concrete types are wired together.
package holdfast
