// Package store is Holdfast's source of truth: an append-only,
// content-addressed repository per tenant.
//
// A repository holds immutable pack files of compressed (optionally
// encrypted) blobs addressed by the SHA-256 of their plaintext, a record log
// of canonical-JSON records that are the leaves of an RFC 6962 Merkle tree,
// and every signed checkpoint (a c2sp.org/tlog-checkpoint note) ever issued.
// Nothing is ever overwritten or deleted: every object is created once,
// durably (temp file, fsync, link without replace, fsync directory), and
// Verify re-derives everything from the bytes on storage.
//
// Objects live in a Backend (the local filesystem here; S3 with Object Lock
// later); derived state (tree cache) and the writer's lock stay on local disk.
package store
