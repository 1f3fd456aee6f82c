package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/holdfast/holdfast"
	"golang.org/x/mod/sumdb/note"
)

// CreateForTest writes a config for a new repository named tenant into be,
// with a fresh signing key, and returns the signer. It is for backend test
// suites, which have no data directory.
func CreateForTest(ctx context.Context, be Backend, tenant string, masterKey []byte) (note.Signer, Config, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "holdfast-test")
	if err != nil {
		return nil, Config{}, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, Config{}, err
	}
	id := holdfast.RandomHex(8)
	cfg := Config{Version: FormatVersion, Tenant: tenant, ID: id, Origin: fmt.Sprintf("holdfast/%s/%s", tenant, id), Hash: "sha256", LogKey: vkey, Created: time.Now().UTC()}
	if masterKey != nil {
		key := make([]byte, 32)
		rand.Read(key)
		w, err := wrapKey(masterKey, key)
		if err != nil {
			return nil, Config{}, err
		}
		cfg.Encryption = &EncryptionConfig{Algorithm: "aes-256-gcm", WrappedKey: w, MasterKeyFingerprint: KeyFingerprint(masterKey)}
	}
	b, _ := json.Marshal(cfg)
	if err := be.Put(ctx, configName, b); err != nil {
		return nil, Config{}, err
	}
	return signer, cfg, nil
}
