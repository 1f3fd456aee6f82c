package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"golang.org/x/mod/sumdb/note"
)

// A data directory holds the log signing identity and one repository per
// tenant:
//
//	<data>/keys/log.key        note signer key (Ed25519), mode 0600
//	<data>/keys/log.pub        note verifier key
//	<data>/tenants/<name>/     the tenant's repository (a Local backend) with state/ and lock

const (
	signerKeyFile   = "keys/log.key"
	verifierKeyFile = "keys/log.pub"
)

// DataDir is a Holdfast data directory.
type DataDir struct {
	Dir string
}

// InitResult reports what Init did.
type InitResult struct {
	Dir     string   `json:"data_dir"`
	Created bool     `json:"created"`
	LogKey  string   `json:"log_vkey"`
	KeyFile string   `json:"signing_key_file"`
	Notes   []string `json:"notes,omitempty"` // permissions tightened
}

// tightenAll makes the data directory and its keys and tenants directories
// private to their owner, saying what it changed.
func (d DataDir) tightenAll() ([]string, error) {
	var notes []string
	for _, dir := range []string{d.Dir, filepath.Join(d.Dir, "keys"), filepath.Join(d.Dir, "tenants")} {
		n, err := tighten(dir)
		if err != nil {
			return notes, err
		}
		if n != "" {
			notes = append(notes, n)
		}
	}
	return notes, nil
}

// Init creates the data directory and the log signing identity. Running it
// again leaves an existing identity alone and reports it.
func (d DataDir) Init() (InitResult, error) {
	const op = "init"
	res := InitResult{Dir: d.Dir, KeyFile: filepath.Join(d.Dir, filepath.FromSlash(signerKeyFile))}
	if vkey, err := d.LogKey(); err == nil {
		res.LogKey = vkey
		n, err := d.tightenAll()
		res.Notes = n
		if err != nil {
			return res, holdfast.E(op, holdfast.IO, err)
		}
		return res, nil
	}
	if err := os.MkdirAll(filepath.Join(d.Dir, "keys"), 0o700); err != nil {
		return res, holdfast.E(op, holdfast.IO, err)
	}
	if err := os.MkdirAll(filepath.Join(d.Dir, "tenants"), 0o700); err != nil {
		return res, holdfast.E(op, holdfast.IO, err)
	}
	n, err := d.tightenAll()
	if err != nil {
		return res, holdfast.E(op, holdfast.IO, err)
	}
	res.Notes = n
	host, _ := os.Hostname()
	name := "holdfast-" + sanitizeKeyName(host) + "-" + holdfast.RandomHex(4)
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return res, holdfast.E(op, err)
	}
	if err := WriteNew(res.KeyFile, []byte(skey+"\n"), 0o600); err != nil {
		return res, holdfast.E(op, holdfast.IO, err)
	}
	if err := WriteNew(filepath.Join(d.Dir, filepath.FromSlash(verifierKeyFile)), []byte(vkey+"\n"), 0o644); err != nil {
		return res, holdfast.E(op, holdfast.IO, err)
	}
	res.Created, res.LogKey = true, vkey
	return res, nil
}

func sanitizeKeyName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return -1
	}, s)
	if s == "" {
		s = "host"
	}
	return s
}

func (d DataDir) notInitialised(op string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return holdfast.Errorf(op, holdfast.NotFound, "%s is not a Holdfast data directory; run holdfast init (or set --data / HOLDFAST_DATA)", d.Dir)
	}
	return holdfast.E(op, holdfast.IO, err)
}

// LogKey returns the public verifier key of the log signing identity.
func (d DataDir) LogKey() (string, error) {
	b, err := os.ReadFile(filepath.Join(d.Dir, filepath.FromSlash(verifierKeyFile)))
	if err != nil {
		return "", d.notInitialised("log key", err)
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", holdfast.E("log key", holdfast.Integrity, err, verifierKeyFile)
	}
	return vkey, nil
}

// Signer loads the log signing key.
func (d DataDir) Signer() (note.Signer, error) {
	p := filepath.Join(d.Dir, filepath.FromSlash(signerKeyFile))
	if err := checkKeyFile("signing key", p); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, d.notInitialised("signing key", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, holdfast.E("signing key", holdfast.Integrity, err, p)
	}
	return s, nil
}

// highWaterFile is where this machine records the largest log it has seen
// of a tenant: outside the tenant's folder, so that removing the newest
// batches (or putting back an old copy of the folder) is noticed.
func (d DataDir) highWaterFile(name string) string {
	return filepath.Join(d.Dir, "keys", "seen", name+".json")
}

// TenantDir is the directory of a tenant's repository.
func (d DataDir) TenantDir(name string) string {
	return filepath.Join(d.Dir, "tenants", name)
}

// AddTenantOptions configure AddTenant.
type AddTenantOptions struct {
	// MasterKey, if set, turns on encryption with a fresh tenant key
	// wrapped by it.
	MasterKey []byte
	Now       time.Time
	// Remote, if set, puts the repository there (an S3 bucket) instead of
	// under the data directory.
	Remote *Remote
}

// AddTenant creates the repository of tenant name and returns its config.
func (d DataDir) AddTenant(ctx context.Context, name string, opts AddTenantOptions) (Config, error) {
	const op = "tenant add"
	if err := holdfast.ValidateTenantName(name); err != nil {
		return Config{}, err
	}
	vkey, err := d.LogKey()
	if err != nil {
		return Config{}, holdfast.E(op, err)
	}
	dir := d.TenantDir(name)
	if tenantExists(dir) {
		return Config{}, holdfast.Errorf(op, holdfast.Exist, "tenant %s already exists in %s", name, dir)
	}
	if opts.Remote != nil {
		if err := ValidateRemote(*opts.Remote); err != nil {
			return Config{}, err
		}
	}
	if hw, ok, _ := readHighWater(d.highWaterFile(name)); ok {
		return Config{}, holdfast.Errorf(op, holdfast.Integrity, "this machine has seen a log of %d records for tenant %s (%s, origin %s), but its repository is gone from %s: put it back rather than start a new log under the same name", hw.Size, name, d.highWaterFile(name), hw.Origin, dir)
	}
	if err := mkdirAllSync(dir); err != nil {
		return Config{}, holdfast.E(op, holdfast.IO, err)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	id := holdfast.RandomHex(8)
	cfg := Config{
		Version: FormatVersion, Tenant: name, ID: id,
		Origin: fmt.Sprintf("holdfast/%s/%s", name, id),
		Hash:   "sha256", LogKey: vkey, Created: opts.Now.UTC(),
	}
	if opts.MasterKey != nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return Config{}, holdfast.E(op, err)
		}
		wrapped, err := wrapKey(opts.MasterKey, key)
		if err != nil {
			return Config{}, holdfast.E(op, holdfast.Invalid, err, "master key")
		}
		cfg.Encryption = &EncryptionConfig{Algorithm: "aes-256-gcm", WrappedKey: wrapped, MasterKeyFingerprint: KeyFingerprint(opts.MasterKey)}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return Config{}, holdfast.E(op, err)
	}
	var be Backend = NewLocal(dir)
	if opts.Remote != nil {
		// The folder names the bucket before anything is written there, so
		// that a repository in a bucket is never left without a folder
		// that leads to it.
		if be, err = openRemote(ctx, *opts.Remote); err != nil {
			return Config{}, holdfast.E(op, err)
		}
		if lc, ok := be.(interface{ CheckLock(context.Context) error }); ok {
			if err := lc.CheckLock(ctx); err != nil {
				return Config{}, holdfast.E(op, err)
			}
		}
		rb, _ := json.MarshalIndent(opts.Remote, "", "  ")
		if err := WriteNew(filepath.Join(dir, remoteName), append(rb, '\n'), 0o600); err != nil {
			return Config{}, holdfast.E(op, err)
		}
	}
	if err := be.Put(ctx, configName, append(b, '\n')); err != nil {
		if opts.Remote != nil {
			os.Remove(filepath.Join(dir, remoteName))
			if holdfast.Is(holdfast.Exist, err) {
				return Config{}, holdfast.Errorf(op, holdfast.Exist, "%s already holds a repository: a tenant's log is never started twice in one place", opts.Remote.URL)
			}
		}
		return Config{}, holdfast.E(op, err)
	}
	signer, err := d.Signer()
	if err != nil {
		return Config{}, holdfast.E(op, err)
	}
	s, err := Open(ctx, be, Options{LocalDir: dir, Signer: signer, MasterKey: opts.MasterKey})
	if err != nil {
		return Config{}, holdfast.E(op, err)
	}
	defer s.Close(ctx)
	if _, err := s.Append(ctx, record.TypeTenantCreated, record.TenantCreated{Tenant: name, Origin: cfg.Origin, Encrypted: cfg.Encryption != nil}); err != nil {
		return Config{}, holdfast.E(op, err)
	}
	if _, _, err := s.Checkpoint(ctx); err != nil {
		return Config{}, holdfast.E(op, err)
	}
	return cfg, nil
}

// Tenants lists the tenants in the data directory.
func (d DataDir) Tenants() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.Dir, "tenants"))
	if err != nil {
		return nil, d.notInitialised("tenants", err)
	}
	var names []string
	for _, e := range ents {
		if tenantExists(filepath.Join(d.Dir, "tenants", e.Name())) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// OpenTenantOptions configure OpenTenant.
type OpenTenantOptions struct {
	ReadOnly  bool
	Shared    bool // see Options.Shared
	Repair    bool // see Options.Repair
	MasterKey []byte
	Now       func() time.Time
	Fence     func() error // see Options.Fence
	Spool     bool         // see Options.Spool
	OnClose   func()       // see Options.OnClose
}

// OpenTenant opens tenant name's repository; for writing unless ReadOnly.
func (d DataDir) OpenTenant(ctx context.Context, name string, opts OpenTenantOptions) (*Store, error) {
	op := "open tenant " + name
	if err := holdfast.ValidateTenantName(name); err != nil {
		return nil, err
	}
	dir := d.TenantDir(name)
	if !tenantExists(dir) {
		if _, derr := os.Stat(filepath.Join(d.Dir, filepath.FromSlash(verifierKeyFile))); derr != nil {
			return nil, d.notInitialised(op, derr)
		}
		// An unknown name is bad input, whichever command is given it.
		return nil, holdfast.Errorf(op, holdfast.Invalid, "tenant %s does not exist in %s (holdfast tenant list; holdfast tenant add %s)", name, d.Dir, name)
	}
	o := Options{LocalDir: dir, MasterKey: opts.MasterKey, ReadOnly: opts.ReadOnly, Shared: opts.Shared, Repair: opts.Repair, Now: opts.Now, HighWaterFile: d.highWaterFile(name),
		Fence: opts.Fence, Spool: opts.Spool}
	if !opts.ReadOnly || opts.Shared {
		signer, err := d.Signer()
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		o.Signer = signer
	}
	var notes []string
	if !opts.ReadOnly {
		// A reader may not own the directories; a writer does.
		for _, p := range []string{d.Dir, filepath.Join(d.Dir, "tenants"), dir, filepath.Join(dir, "state")} {
			n, err := tighten(p)
			if err != nil {
				return nil, holdfast.E(op, holdfast.IO, err)
			}
			if n != "" {
				notes = append(notes, n)
			}
		}
	}
	be, remote, err := tenantBackend(ctx, dir)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	s, err := Open(ctx, be, o)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	s.remote = remote
	s.onClose = opts.OnClose
	s.notes = append(notes, s.notes...)
	return s, nil
}

// LogMark is how far this machine has seen tenant name's log grow: the
// size and root of its high-water mark, raised after every flush. It opens
// nothing, so caches of what is derived from the log (a status) can tell
// at the cost of one small read whether the log grew; ok is false when
// there is no mark yet.
func (d DataDir) LogMark(name string) (size uint64, root []byte, ok bool, err error) {
	if err := holdfast.ValidateTenantName(name); err != nil {
		return 0, nil, false, err
	}
	hw, ok, err := readHighWater(d.highWaterFile(name))
	return hw.Size, hw.Root, ok, err
}
