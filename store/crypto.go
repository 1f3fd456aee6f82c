package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/holdfast/holdfast"
)

// MasterKeyEnv names the environment variable holding the path of the master
// key file that wraps each tenant's content key.
const MasterKeyEnv = "HOLDFAST_MASTER_KEY_FILE"

// LoadMasterKey reads a 256-bit key from path: 32 raw bytes, 64 hex digits or
// base64 of 32 bytes.
func LoadMasterKey(path string) ([]byte, error) {
	const op = "load master key"
	if err := checkKeyFile(op, path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if len(b) == 32 {
		return b, nil
	}
	s := string(bytes.TrimSpace(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, holdfast.Errorf(op, holdfast.Invalid, "%s does not hold a 256-bit key (want 32 raw bytes, 64 hex digits or base64 of 32 bytes)", path)
}

// KeyFingerprint identifies a key without revealing it.
func KeyFingerprint(key []byte) string {
	h := sha256.Sum256(append([]byte("holdfast key fingerprint\x00"), key...))
	return hex.EncodeToString(h[:8])
}

// sealer encrypts and authenticates with AES-256-GCM. A nil *sealer means
// the repository is not encrypted.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("want a 32-byte key, got %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal appends nonce||ciphertext of plain to dst.
func (s *sealer) seal(dst, plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	dst = append(dst, nonce...)
	return s.aead.Seal(dst, nonce, plain, aad)
}

func (s *sealer) open(dst, sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("ciphertext too short (%d bytes)", len(sealed))
	}
	out, err := s.aead.Open(dst, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("authentication failed: %w", err)
	}
	return out, nil
}

var wrapAAD = []byte("holdfast tenant content key")

// wrapKey seals a tenant content key with the master key.
func wrapKey(master, key []byte) ([]byte, error) {
	s, err := newSealer(master)
	if err != nil {
		return nil, err
	}
	return s.seal(nil, key, wrapAAD), nil
}

func unwrapKey(master, wrapped []byte) ([]byte, error) {
	s, err := newSealer(master)
	if err != nil {
		return nil, err
	}
	return s.open(nil, wrapped, wrapAAD)
}
