// Package access is who may do what in Holdfast's service: local users
// (argon2id passwords), API tokens (shown once, stored hashed, scoped to a
// role and tenants, with an expiry), the four roles and the one table of
// what each may do. The file lives at <data>/access.json, mode 0600,
// replaced whole under a lock.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"
)

// Role is what a user is for.
type Role string

const (
	Admin      Role = "admin"      // everything, users and tokens; every tenant
	Technician Role = "technician" // tenants, backups, schedules, restores, status, findings; no content, no holds
	Legal      Role = "legal"      // search, item content, holds, exports
	Auditor    Role = "auditor"    // read-only: reports, verify results, checkpoints and proofs, findings, the audit log
)

// Roles lists the roles.
var Roles = []Role{Admin, Technician, Legal, Auditor}

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", holdfast.Errorf("role", holdfast.Invalid, "unknown role %q (admin, technician, legal, auditor)", s)
	}
	return r, nil
}

// User is a person who signs in.
type User struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Tenants  []string  `json:"tenants"` // empty for an admin: every tenant
	Password string    `json:"password"`
	Created  time.Time `json:"created"`
	Disabled bool      `json:"disabled,omitempty"`
	// TOTP is the user's second factor (RFC 6238 secret, base32), once
	// enrolled; required for admins to sign in.
	TOTP string `json:"totp,omitempty"`
}

// Token is an API token for scripts and PSA tools; only its hash is kept.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	User    string    `json:"user"`
	Role    Role      `json:"role"`
	Tenants []string  `json:"tenants"`
	Hash    string    `json:"sha256"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

type file struct {
	Users  []User  `json:"users"`
	Tokens []Token `json:"tokens"`
}

// Store keeps the users and tokens of a data directory.
type Store struct {
	path string
	now  func() time.Time

	mu     sync.Mutex
	cached *file       // the file as last read, for readers (view)
	stat   os.FileInfo // of that file: a replacement is a new file
}

// Open returns the access store of data directory dir; now is the clock
// (nil: time.Now).
func Open(dir string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{path: filepath.Join(dir, "access.json"), now: now}
}

func (s *Store) read() (*file, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &file{}, nil
	}
	if err != nil {
		return nil, holdfast.E("access", holdfast.IO, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, holdfast.E("access", holdfast.Integrity, err, s.path)
	}
	return &f, nil
}

// view is the file for readers: read again only when it was replaced
// (every change writes a new file, see update), so a request's token
// check costs a stat, not a read and a parse. Readers must not change it.
func (s *Store) view() (*file, error) {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &file{}, nil
	}
	if err != nil {
		return nil, holdfast.E("access", holdfast.IO, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && os.SameFile(s.stat, fi) && s.stat.ModTime().Equal(fi.ModTime()) && s.stat.Size() == fi.Size() {
		return s.cached, nil
	}
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cached, s.stat = f, fi
	return f, nil
}

// Change is a change of who may do what, as the evidence records it: no
// password, hash or secret, only what an auditor needs to know who could
// reach a tenant's data, from when, and who granted it.
type Change struct {
	Change  string    // user.added, user.disabled, user.enabled, password.changed, totp.enrolled, token.created, token.revoked
	User    string    // the user changed, or the token's user
	Role    Role      // the user's or the token's role
	Tenants []string  // the tenants it covers; empty: every tenant (admin)
	Token   string    // a token's id (never its secret)
	Expires time.Time // a created token's expiry
}

// A Recorder puts a change into the evidence before it takes effect: it
// runs under the file's lock after the change was checked, and when it
// fails nothing changes. (A failure after it leaves a record of a change
// that did not happen, never a change without a record.)
type Recorder func(Change) error

// update changes the file under an exclusive lock, so that a CLI command
// and the service never lose each other's changes. The change fn returns
// is given to rec (when both are set) before the file is replaced.
func (s *Store) update(rec Recorder, fn func(*file) (*Change, error)) error {
	lf, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return holdfast.E("access", holdfast.IO, err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return holdfast.E("access", holdfast.IO, err)
	}
	f, err := s.read()
	if err != nil {
		return err
	}
	ch, err := fn(f)
	if err != nil {
		return err
	}
	if ch != nil && rec != nil {
		if err := rec(*ch); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return holdfast.E("access", err)
	}
	if err := store.WriteReplace(s.path, b, 0o600); err != nil {
		return holdfast.E("access", holdfast.IO, err)
	}
	return nil
}

func validName(op, name string) error {
	if name == "" || len(name) > 128 || strings.ContainsFunc(name, func(r rune) bool { return holdfast.IsControl(r) || r == ' ' || r == '/' }) {
		return holdfast.Errorf(op, holdfast.Invalid, "user name %q: want 1 to 128 characters without spaces, slashes or control characters", name)
	}
	return nil
}

// checkScope: an admin has every tenant and names none; everyone else
// names at least one.
func checkScope(op string, role Role, tenants []string) error {
	if role == Admin && len(tenants) > 0 {
		return holdfast.E(op, holdfast.Invalid, "an admin has every tenant: give no --tenant")
	}
	if role != Admin && len(tenants) == 0 {
		return holdfast.Errorf(op, holdfast.Invalid, "a %s works on named tenants: give --tenant T (repeatable)", role)
	}
	for _, t := range tenants {
		if err := holdfast.ValidateTenantName(t); err != nil {
			return err
		}
	}
	return nil
}

// MinPassword is the shortest password accepted.
const MinPassword = 12

// AddUser adds a user with a password (hashed with argon2id).
func (s *Store) AddUser(name string, role Role, tenants []string, password string, rec Recorder) error {
	const op = "user add"
	if err := validName(op, name); err != nil {
		return err
	}
	if err := checkScope(op, role, tenants); err != nil {
		return err
	}
	if len(password) < MinPassword {
		return holdfast.Errorf(op, holdfast.Invalid, "the password is shorter than %d characters", MinPassword)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return holdfast.E(op, err)
	}
	return s.update(rec, func(f *file) (*Change, error) {
		for _, u := range f.Users {
			if u.Name == name {
				return nil, holdfast.Errorf(op, holdfast.Exist, "user %s exists", name)
			}
		}
		f.Users = append(f.Users, User{Name: name, Role: role, Tenants: slices.Clone(tenants), Password: hash, Created: s.now().UTC()})
		return &Change{Change: "user.added", User: name, Role: role, Tenants: slices.Clone(tenants)}, nil
	})
}

// SetDisabled disables a user (every token and session of theirs stops
// working at once, and they cannot sign in) or enables them again. A user
// is never deleted: the evidence keeps naming them.
func (s *Store) SetDisabled(name string, disabled bool, rec Recorder) error {
	op := "user disable"
	if !disabled {
		op = "user enable"
	}
	return s.update(rec, func(f *file) (*Change, error) {
		i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == name })
		if i < 0 {
			return nil, holdfast.Errorf(op, holdfast.NotFound, "no user %s", name)
		}
		u := &f.Users[i]
		if u.Disabled == disabled {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "user %s is already %s", name, map[bool]string{true: "disabled", false: "enabled"}[disabled])
		}
		if disabled && u.Role == Admin && !slices.ContainsFunc(f.Users, func(o User) bool { return o.Role == Admin && !o.Disabled && o.Name != name }) {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "%s is the last enabled admin: add another admin first", name)
		}
		u.Disabled = disabled
		ch := "user.enabled"
		if disabled {
			ch = "user.disabled"
		}
		return &Change{Change: ch, User: name, Role: u.Role, Tenants: slices.Clone(u.Tenants)}, nil
	})
}

// ChangePassword gives a user a new password, once the current one is
// given (a wrong one fails as a sign-in does, saying nothing more).
func (s *Store) ChangePassword(name, current, password string, rec Recorder) error {
	const op = "password change"
	if len(password) < MinPassword {
		return holdfast.Errorf(op, holdfast.Invalid, "the new password is shorter than %d characters", MinPassword)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return holdfast.E(op, err)
	}
	return s.update(rec, func(f *file) (*Change, error) {
		i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == name })
		if i < 0 || f.Users[i].Disabled || !checkPassword(f.Users[i].Password, current) {
			return nil, ErrUnauthenticated
		}
		f.Users[i].Password = hash
		return &Change{Change: "password.changed", User: name, Role: f.Users[i].Role, Tenants: slices.Clone(f.Users[i].Tenants)}, nil
	})
}

// Users lists the users, without their password hashes.
func (s *Store) Users() ([]User, error) {
	f, err := s.view()
	if err != nil {
		return nil, err
	}
	out := []User{}
	for _, u := range f.Users {
		u.Password, u.Tenants = "", slices.Clone(u.Tenants)
		if u.TOTP != "" {
			u.TOTP = "enrolled"
		}
		out = append(out, u)
	}
	return out, nil
}

// TokenPrefix starts every token, so that a leaked one is recognisable.
const TokenPrefix = "hfa_"

// CreateToken issues a token for user, with role and tenants no wider than
// the user's (empty: the user's), valid for ttl. The secret is returned
// once and never stored.
func (s *Store) CreateToken(user, name string, role Role, tenants []string, ttl time.Duration, rec Recorder) (string, Token, error) {
	const op = "token create"
	if ttl <= 0 || ttl > 2*365*24*time.Hour {
		return "", Token{}, holdfast.E(op, holdfast.Invalid, "a token expires within two years: give --expires (e.g. 90d)")
	}
	var secret string
	var tok Token
	err := s.update(rec, func(f *file) (*Change, error) {
		i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == user })
		if i < 0 || f.Users[i].Disabled {
			return nil, holdfast.Errorf(op, holdfast.NotFound, "no user %s", user)
		}
		u := f.Users[i]
		if role == "" {
			role = u.Role
		}
		if role != u.Role && u.Role != Admin {
			return nil, holdfast.Errorf(op, holdfast.Permission, "a %s cannot issue a %s token", u.Role, role)
		}
		if len(tenants) == 0 {
			tenants = u.Tenants
		}
		if err := checkScope(op, role, tenants); err != nil {
			return nil, err
		}
		if u.Role != Admin {
			for _, t := range tenants {
				if !slices.Contains(u.Tenants, t) {
					return nil, holdfast.Errorf(op, holdfast.Permission, "user %s has no access to tenant %s", user, t)
				}
			}
		}
		id, sec := holdfast.RandomHex(8), holdfast.RandomSecret(24) // the id never holds the separator "_"
		sum := sha256.Sum256([]byte(sec))
		now := s.now().UTC()
		tok = Token{ID: id, Name: name, User: user, Role: role, Tenants: slices.Clone(tenants), Hash: hex.EncodeToString(sum[:]), Created: now, Expires: now.Add(ttl)}
		f.Tokens = append(f.Tokens, tok)
		secret = TokenPrefix + id + "_" + sec
		return &Change{Change: "token.created", User: user, Role: role, Tenants: slices.Clone(tenants), Token: id, Expires: tok.Expires}, nil
	})
	return secret, tok, err
}

// Tokens lists the tokens (their hashes included: they are not secrets).
func (s *Store) Tokens() ([]Token, error) {
	f, err := s.view()
	if err != nil {
		return nil, err
	}
	out := append([]Token{}, f.Tokens...)
	for i := range out {
		out[i].Tenants = slices.Clone(out[i].Tenants)
	}
	return out, nil
}

// RevokeToken removes a token.
func (s *Store) RevokeToken(id string, rec Recorder) error {
	return s.update(rec, func(f *file) (*Change, error) {
		i := slices.IndexFunc(f.Tokens, func(t Token) bool { return t.ID == id })
		if i < 0 {
			return nil, holdfast.Errorf("token revoke", holdfast.NotFound, "no token %s", id)
		}
		t := f.Tokens[i]
		f.Tokens = slices.Delete(f.Tokens, i, i+1)
		return &Change{Change: "token.revoked", User: t.User, Role: t.Role, Tenants: slices.Clone(t.Tenants), Token: t.ID}, nil
	})
}

// Principal is who a request comes from, as authenticated.
type Principal struct {
	User    string   `json:"user"`
	Role    Role     `json:"role"`
	Tenants []string `json:"tenants,omitempty"` // none for an admin: every tenant
	Token   string   `json:"token,omitempty"`
}

// Tenant reports whether p may act on tenant t.
func (p *Principal) Tenant(t string) bool { return p.Role == Admin || slices.Contains(p.Tenants, t) }

// ErrUnauthenticated is every authentication failure: which part failed is
// never said, so that tokens and users cannot be probed.
var ErrUnauthenticated = holdfast.E("authenticate", holdfast.Permission, "not authenticated")

// Authenticate checks a bearer token.
func (s *Store) Authenticate(bearer string) (*Principal, error) {
	rest, ok := strings.CutPrefix(bearer, TokenPrefix)
	id, sec, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || id == "" || sec == "" {
		return nil, ErrUnauthenticated
	}
	f, err := s.view()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(sec))
	want := hex.EncodeToString(sum[:])
	for _, t := range f.Tokens {
		if t.ID != id {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(want)) != 1 || !s.now().Before(t.Expires) {
			return nil, ErrUnauthenticated
		}
		i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == t.User })
		if i < 0 || f.Users[i].Disabled {
			return nil, ErrUnauthenticated
		}
		return &Principal{User: t.User, Role: t.Role, Tenants: slices.Clone(t.Tenants), Token: t.ID}, nil
	}
	return nil, ErrUnauthenticated
}

// Enabled reports whether a user exists and is not disabled: a session
// ends at its next request once its user is disabled.
func (s *Store) Enabled(name string) bool {
	f, err := s.view()
	if err != nil {
		return false
	}
	i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == name })
	return i >= 0 && !f.Users[i].Disabled
}

// argon2id parameters (RFC 9106's second recommended option: 64 MiB, 3
// passes), 4 lanes.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 4
	argonKeyLen  = 32
)

func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// checkPassword compares pw with a PHC-encoded argon2id hash in constant time.
func checkPassword(encoded, pw string) bool {
	var v int
	var m uint32
	var t uint32
	var p uint8
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// CheckPassword authenticates a user by password and, when the user has
// enrolled a second factor, a TOTP code; an admin must have one. Failures
// all look alike, whichever part failed and whether the user exists.
func (s *Store) CheckPassword(name, pw, code string) (*Principal, error) {
	f, err := s.view()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == name })
	if i < 0 {
		checkPassword(dummyHash(), pw) // the same work for an unknown user
		return nil, ErrUnauthenticated
	}
	u := f.Users[i]
	if !checkPassword(u.Password, pw) || u.Disabled {
		return nil, ErrUnauthenticated
	}
	switch {
	case u.TOTP != "":
		ok, _ := totp.ValidateCustom(code, u.TOTP, s.now(), totpOpts)
		if !ok {
			return nil, ErrUnauthenticated
		}
	case u.Role == Admin:
		return nil, ErrNeedsTOTP
	}
	return &Principal{User: u.Name, Role: u.Role, Tenants: slices.Clone(u.Tenants)}, nil
}

// ErrNeedsTOTP: an admin signs in only with a second factor. It is said
// only after the right password, so it tells an attacker nothing.
var ErrNeedsTOTP = holdfast.E("sign in", holdfast.Permission, "an admin signs in with a second factor: enrol one with holdfast user totp NAME")

// totpOpts are RFC 6238's defaults (30 s, 6 digits, SHA-1 — what
// authenticator apps do), accepting the neighbouring period for clock skew.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// EnrollTOTP gives a user a new second factor and returns its otpauth://
// URL (for an authenticator app's QR code) and its secret, once.
func (s *Store) EnrollTOTP(name string, rec Recorder) (url, secret string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Holdfast", AccountName: name, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", holdfast.E("user totp", err)
	}
	err = s.update(rec, func(f *file) (*Change, error) {
		i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == name })
		if i < 0 {
			return nil, holdfast.Errorf("user totp", holdfast.NotFound, "no user %s", name)
		}
		f.Users[i].TOTP = key.Secret()
		return &Change{Change: "totp.enrolled", User: name, Role: f.Users[i].Role, Tenants: slices.Clone(f.Users[i].Tenants)}, nil
	})
	if err != nil {
		return "", "", err
	}
	return key.URL(), key.Secret(), nil
}

// dummyHash is checked against for unknown users, so that the time taken
// does not say whether a user exists. It is made on first use, not when
// the package loads: argon2id's 64 MiB and quarter second would otherwise
// be paid by every process, a backup or `holdfast --help` included.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("holdfast: no such user")
	return h
})
