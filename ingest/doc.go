// Package ingest backs up a Microsoft 365 tenant into the store: it
// discovers accounts, walks each stream (account × workload × folder) with
// Graph delta queries, streams content into the store, and records item
// versions, tombstones, departed accounts and delta positions.
//
// A stream's delta link is recorded only after the items it covers are
// durable, and every item is deduplicated against what the store already
// holds, so a run killed at any moment and started again ends with exactly
// the versions an uninterrupted run would have: no gap, no duplicate.
//
// ingest depends on two small interfaces it owns: Source (Graph, provided
// by ingest/graph) and Store (provided by store.Store).
package ingest
