package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signature type byte of Ed25519 cosignature/v1
// keys (c2sp.org/tlog-cosignature).
const algCosignatureV1 = 0x04

// Signer makes cosignature/v1 note signatures: the signed message is
// "cosignature/v1\ntime T\n" followed by the checkpoint's note body, and the
// signature is T (8 bytes, big-endian) followed by the Ed25519 signature.
type Signer struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	now  func() time.Time
}

var _ note.Signer = (*Signer)(nil)

// NewSigner returns the cosigner name signing with key; now gives the
// timestamp (time.Now when nil).
func NewSigner(name string, key ed25519.PrivateKey, now func() time.Time) (*Signer, error) {
	if !validName(name) {
		return nil, holdfast.Errorf("witness key", holdfast.Invalid, "%q is not a valid witness name (non-empty, no spaces, no '+')", name)
	}
	if now == nil {
		now = time.Now
	}
	pub := key.Public().(ed25519.PublicKey)
	return &Signer{name: name, hash: keyHash(name, pub), key: key, now: now}, nil
}

func (s *Signer) Name() string    { return s.name }
func (s *Signer) KeyHash() uint32 { return s.hash }

// Sign cosigns msg, which must be a checkpoint's note body.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	t := s.now().Unix()
	if t < 0 {
		return nil, errors.New("cosignature time before 1970")
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, 8+ed25519.SignatureSize), uint64(t))
	return append(sig, ed25519.Sign(s.key, cosignedMessage(uint64(t), msg))...), nil
}

// VerifierKey returns the signer's vkey, the text a log or an auditor
// configures to trust this witness: name+hash+base64(0x04 || public key).
func (s *Signer) VerifierKey() string {
	return formatKey(s.name, s.hash, append([]byte{algCosignatureV1}, s.key.Public().(ed25519.PublicKey)...))
}

// Verifier checks cosignature/v1 signatures of one witness.
type Verifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

var _ note.Verifier = (*Verifier)(nil)

func (v *Verifier) Name() string    { return v.name }
func (v *Verifier) KeyHash() uint32 { return v.hash }

// Verify reports whether sig is this witness's cosignature of msg.
func (v *Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(t, msg), sig[8:])
}

// String returns the vkey.
func (v *Verifier) String() string {
	return formatKey(v.name, v.hash, append([]byte{algCosignatureV1}, v.pub...))
}

// NewVerifier parses a witness's vkey (type 0x04, cosignature/v1).
func NewVerifier(vkey string) (*Verifier, error) {
	const op = "witness key"
	name, hash, key, err := parseKey(vkey)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err, "vkey")
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "vkey %q is not an Ed25519 cosignature/v1 key (type 0x04)", name)
	}
	pub := ed25519.PublicKey(key[1:])
	if keyHash(name, pub) != hash {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "vkey %q: its key hash does not match its name and key", name)
	}
	return &Verifier{name: name, hash: hash, pub: pub}, nil
}

// GenerateKey makes a new witness key named name and returns it in the
// signed-note private key form (PRIVATE+KEY+name+hash+base64(0x04 ||
// seed)) with its vkey.
func GenerateKey(name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", holdfast.Errorf("witness keygen", holdfast.Invalid, "%q is not a valid witness name (non-empty, no spaces, no '+')", name)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	pub := priv.Public().(ed25519.PublicKey)
	h := keyHash(name, pub)
	skey = "PRIVATE+KEY+" + formatKey(name, h, append([]byte{algCosignatureV1}, priv.Seed()...))
	return skey, formatKey(name, h, append([]byte{algCosignatureV1}, pub...)), nil
}

// ParseSignerKey reads a key GenerateKey made.
func ParseSignerKey(skey string, now func() time.Time) (*Signer, error) {
	const op = "witness key"
	rest, ok := strings.CutPrefix(strings.TrimSpace(skey), "PRIVATE+KEY+")
	if !ok {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "not a witness signer key (it starts PRIVATE+KEY+)")
	}
	name, hash, key, err := parseKey(rest)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if len(key) != 1+ed25519.SeedSize || key[0] != algCosignatureV1 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "not an Ed25519 cosignature/v1 signer key")
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	s, err := NewSigner(name, priv, now)
	if err != nil {
		return nil, err
	}
	if s.hash != hash {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "signer key %q: its key hash does not match its name and key", name)
	}
	return s, nil
}

// cosignedMessage is what a cosignature/v1 signs.
func cosignedMessage(t uint64, body []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), body...)
}

func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

func formatKey(name string, hash uint32, key []byte) string {
	return fmt.Sprintf("%s+%08x+%s", name, hash, base64.StdEncoding.EncodeToString(key))
}

func parseKey(s string) (name string, hash uint32, key []byte, err error) {
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 || !validName(parts[0]) || len(parts[1]) != 8 {
		return "", 0, nil, errors.New("malformed key: want name+hash+base64")
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return "", 0, nil, errors.New("malformed key hash")
	}
	key, err = base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return "", 0, nil, errors.New("malformed key: not base64")
	}
	return parts[0], uint32(h), key, nil
}
