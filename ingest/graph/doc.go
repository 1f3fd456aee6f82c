// Package graph is the one package that imports msgraph-sdk-go: it connects
// to a tenant with azidentity's client-credentials flow (secret or
// certificate, any national cloud or explicit endpoints with a private CA)
// and implements ingest.Source on Microsoft Graph v1.0, with throttling
// handled below the SDK: Retry-After honoured, exponential backoff with
// jitter, and a tenant-wide pause while Graph is throttling.
package graph
