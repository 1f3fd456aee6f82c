package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/holdfast/holdfast"
)

// Remote is where a tenant's repository lives when it is not under the
// data directory (an S3 bucket, say). It is kept in the tenant's folder
// as repository.json; the folder then holds only derived state (the
// index, caches, the writer lock), which is rebuilt from the repository
// when missing.
type Remote struct {
	URL       string `json:"url"` // s3://bucket/prefix
	Endpoint  string `json:"endpoint,omitempty"`
	PathStyle bool   `json:"path_style,omitempty"`
	Region    string `json:"region,omitempty"`
	// LockMode (GOVERNANCE or COMPLIANCE) and LockDays lock every object
	// written for that many days from its creation.
	LockMode string `json:"lock_mode,omitempty"`
	LockDays int    `json:"lock_days,omitempty"`
	// CacheDir is where the backend may keep copies of what it wrote
	// (derived state: the tenant's state/remote-cache).
	CacheDir string `json:"-"`
}

const remoteName = "repository.json"

var (
	remotesMu sync.Mutex
	remotes   = map[string]func(context.Context, Remote) (Backend, error){}
)

// RegisterRemote makes repositories at URLs of scheme openable (package
// store/s3 registers "s3"); the binary imports the packages it supports.
func RegisterRemote(scheme string, open func(context.Context, Remote) (Backend, error)) {
	remotesMu.Lock()
	defer remotesMu.Unlock()
	remotes[scheme] = open
}

func openRemote(ctx context.Context, r Remote) (Backend, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, holdfast.Errorf("repository", holdfast.Invalid, "repository %q is not a URL", r.URL)
	}
	remotesMu.Lock()
	open := remotes[u.Scheme]
	remotesMu.Unlock()
	if open == nil {
		return nil, holdfast.Errorf("repository", holdfast.Invalid, "repository %q: this build has no backend for %q", r.URL, u.Scheme)
	}
	return open(ctx, r)
}

// ValidateRemote checks a remote repository's settings.
func ValidateRemote(r Remote) error {
	const op = "repository"
	if strings.Contains(r.URL, "@") {
		return holdfast.E(op, holdfast.Invalid, "the repository URL carries no credentials (they come from the environment)")
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return holdfast.Errorf(op, holdfast.Invalid, "repository %q: want scheme://bucket/prefix", r.URL)
	}
	if u.RawQuery != "" {
		return holdfast.Errorf(op, holdfast.Invalid, "repository %q: no query in the URL", r.URL)
	}
	if strings.Contains(r.Endpoint, "@") {
		return holdfast.E(op, holdfast.Invalid, "the endpoint carries no credentials (it is kept in repository.json; credentials come from the environment)")
	}
	if r.Endpoint != "" {
		e, err := url.Parse(r.Endpoint)
		if err != nil || (e.Scheme != "https" && e.Scheme != "http") || e.Host == "" {
			return holdfast.Errorf(op, holdfast.Invalid, "endpoint %q: want http(s)://host[:port]", r.Endpoint)
		}
		if e.User != nil || e.RawQuery != "" {
			return holdfast.E(op, holdfast.Invalid, "the endpoint carries no credentials or query (it is kept in repository.json; credentials come from the environment)")
		}
	}
	switch strings.ToUpper(r.LockMode) {
	case "":
		if r.LockDays != 0 {
			return holdfast.E(op, holdfast.Invalid, "lock days without a lock mode (governance or compliance)")
		}
	case "GOVERNANCE", "COMPLIANCE":
		if r.LockDays <= 0 {
			return holdfast.E(op, holdfast.Invalid, "a lock mode needs the days to lock for")
		}
	default:
		return holdfast.Errorf(op, holdfast.Invalid, "lock mode %q: want governance or compliance", r.LockMode)
	}
	return nil
}

// readRemote reads a tenant folder's repository.json, if there is one.
func readRemote(dir string) (Remote, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, remoteName))
	if errors.Is(err, os.ErrNotExist) {
		return Remote{}, false, nil
	}
	if err != nil {
		return Remote{}, false, holdfast.E("repository", holdfast.IO, err)
	}
	var r Remote
	if err := json.Unmarshal(b, &r); err != nil {
		return Remote{}, false, holdfast.E("repository", holdfast.Integrity, err, filepath.Join(dir, remoteName))
	}
	return r, true, nil
}

// tenantBackend is the backend of the repository whose folder is dir: the
// remote one it names (returned too), or the folder itself.
func tenantBackend(ctx context.Context, dir string) (Backend, *Remote, error) {
	r, ok, err := readRemote(dir)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return NewLocal(dir), nil, nil
	}
	r.CacheDir = filepath.Join(dir, "state", "remote-cache")
	be, err := openRemote(ctx, r)
	return be, &r, err
}

// tenantExists reports whether dir is a tenant's folder: a local
// repository (config.json) or a remote one (repository.json).
func tenantExists(dir string) bool {
	for _, n := range []string{configName, remoteName} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// Location says where a store's repository is and what object lock
// guards it: ("local", "none"), or for a remote repository its scheme and
// the lock mode every object is written with ("governance",
// "compliance"; a bucket without Object Lock refuses those writes, so an
// object that exists is locked as said).
func (s *Store) Location() (backend, objectLock string) {
	if s.remote == nil {
		return "local", "none"
	}
	u, _ := url.Parse(s.remote.URL)
	lock := strings.ToLower(s.remote.LockMode)
	if lock == "" {
		lock = "none"
	}
	return u.Scheme, lock
}

// RaiseRetention makes the objects written from now on locked at least
// for days in at least mode (COMPLIANCE is above GOVERNANCE): a repository
// in a bucket follows its tenant's retention profile upwards, never
// downwards. It reports whether anything changed. A local repository has
// nothing to raise.
func (s *Store) RaiseRetention(ctx context.Context, mode string, days int) (Remote, bool, error) {
	if s.remote == nil || days <= 0 {
		return Remote{}, false, nil
	}
	r := *s.remote
	mode = strings.ToUpper(mode)
	changed := false
	if days > r.LockDays {
		r.LockDays, changed = days, true
	}
	if r.LockMode == "" || (mode == "COMPLIANCE" && strings.ToUpper(r.LockMode) != "COMPLIANCE") {
		r.LockMode, changed = mode, true
	}
	if !changed {
		return r, false, nil
	}
	if s.remote.LockMode == "" {
		// Locking starts now: the bucket must have Object Lock. Without it
		// a WORM requirement (compliance) is refused; a plain retention
		// stays unlocked, as the repository was made.
		lc, ok := s.be.(interface{ LockEnabled(context.Context) error })
		err := holdfast.Errorf("retention", holdfast.Invalid, "repository %s cannot lock objects", r.URL)
		if ok {
			err = lc.LockEnabled(ctx)
		}
		if err != nil {
			if mode == "COMPLIANCE" {
				return *s.remote, false, err
			}
			return *s.remote, false, nil
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := WriteReplace(filepath.Join(s.localDir, remoteName), append(b, '\n'), 0o600); err != nil {
		return r, false, holdfast.E("retention", holdfast.IO, err)
	}
	s.remote = &r
	return r, true, nil
}
