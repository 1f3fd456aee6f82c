package store

import "github.com/holdfast/holdfast/record"

// The log's types are the record package's: the store's API speaks in
// them. record declares every record type, its data and the canonical
// encoding; the store keeps the bytes.
type (
	// ID is the SHA-256 of a blob's plaintext.
	ID = record.ID
	// Ref names stored content (see record.Ref).
	Ref = record.Ref
	// Record is one entry of a tenant's log (see record.Record).
	Record = record.Record
)
