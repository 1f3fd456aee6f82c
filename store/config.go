package store

import (
	"encoding/json"
	"time"
)

// FormatVersion is the repository format this code writes and reads.
const FormatVersion = 1

// Config is a repository's config.json: written once when the tenant is
// added, never changed.
type Config struct {
	Version    int               `json:"version"`
	Tenant     string            `json:"tenant"`
	ID         string            `json:"id"`
	Origin     string            `json:"origin"`
	Hash       string            `json:"hash"`
	LogKey     string            `json:"log_vkey"`
	Created    time.Time         `json:"created"`
	Encryption *EncryptionConfig `json:"encryption,omitempty"`
}

// EncryptionConfig says how blobs and pack headers are encrypted.
type EncryptionConfig struct {
	Algorithm            string `json:"algorithm"`   // aes-256-gcm
	WrappedKey           []byte `json:"wrapped_key"` // the tenant key sealed with the master key
	MasterKeyFingerprint string `json:"master_key_fingerprint"`
}

func parseConfig(b []byte) (Config, error) {
	var c Config
	err := json.Unmarshal(b, &c)
	return c, err
}
