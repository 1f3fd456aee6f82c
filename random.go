package holdfast

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// RandomHex returns n random bytes from crypto/rand as hex: the one source
// of ids (tenants' stores, spool files, tokens, webhooks, events).
// crypto/rand does not fail on the systems Go supports; if it ever did,
// Read would crash the program rather than return predictable bytes.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomSecret returns n random bytes as unpadded base64url: secrets that
// travel in headers, cookies and URLs (session ids, CSRF and API token
// secrets).
func RandomSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
