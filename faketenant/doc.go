// Package faketenant emulates the part of Microsoft Graph v1.0 and the
// Microsoft identity platform that Holdfast uses, over HTTPS with its own CA,
// with a seeded, deterministic tenant: a small accountancy with mail
// folders, messages (full MIME with attachments) and departed employees.
//
// It is product code: the demo and every ingest test stand on it, so it
// follows Graph's real shapes rather than what the client expects —
// @odata.nextLink paging, @odata.deltaLink, @removed entries, Prefer:
// odata.maxpagesize, error bodies {"error":{"code","message"}}, 429 with
// Retry-After, 410 for expired delta tokens, and bearer tokens issued by a
// client-credentials token endpoint with OpenID discovery documents.
//
// Fault injection (429, 503, dropped connections, latency, expired delta
// tokens) and mutations (user activity, departures, the disaster of an
// overwritten folder) play out what a real tenant does.
package faketenant
