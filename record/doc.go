// Package record is the format of a tenant's log: every record type
// Holdfast writes, the Go type of each one's data with its JSON member
// names, and the canonical encoding (RFC 8785) whose bytes are the Merkle
// tree's leaves. Writers and readers both use these types, so a field
// renamed in Go cannot silently change the evidence; the golden files in
// testdata/ hold the exact bytes of a sample of each type.
//
// It imports only the root package: the store, the engine and every
// reader build on it.
package record
