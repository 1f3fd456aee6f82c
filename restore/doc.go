// Package restore brings captured items back as they were at a moment:
// it selects, from the store's log, the version of each item that was
// current then, and exports natives — .eml, .ics, .vcf, original files,
// Teams JSON with an HTML transcript — with a manifest of SHA-256 hashes,
// to a directory or a zip file. Every byte written is read through the
// store's hash checks. Restore into the tenant through Graph is not built
// yet.
package restore
