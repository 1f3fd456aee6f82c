package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/holdfast/holdfast"
)

// lockFile is an exclusive writer lock: flock(2) on a file that also names
// the holder. The kernel drops the lock when the holder dies, so a lock left
// by a killed process is stale and is taken over; the holder's pid and host
// stay in the file for messages.
type lockFile struct {
	f *os.File
}

type lockHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

func acquireLock(dir string) (*lockFile, bool, error) {
	const op = "lock"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, holdfast.E(op, holdfast.IO, err)
	}
	p := filepath.Join(dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, holdfast.E(op, holdfast.IO, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h lockHolder
			b, _ := os.ReadFile(p)
			if json.Unmarshal(b, &h) == nil && h.PID != 0 {
				return nil, false, holdfast.Errorf(op, holdfast.Locked,
					"%s is held by process %d on host %s since %s; wait for it to finish", p, h.PID, h.Host, h.Since.Format(time.RFC3339))
			}
			return nil, false, holdfast.Errorf(op, holdfast.Locked, "%s is held by another process", p)
		}
		return nil, false, holdfast.E(op, holdfast.IO, err)
	}
	// We hold the lock. Was it left by a process that died?
	stale := false
	if b, _ := os.ReadFile(p); len(b) > 0 {
		stale = true
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(lockHolder{PID: os.Getpid(), Host: host, Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0)
	}
	return &lockFile{f: f}, stale, nil
}

func (l *lockFile) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing drops the flock
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// LockDir takes the same exclusive lock on dir (its file "lock") that a
// store's writer takes, for other processes that keep state of their own
// there (a witness); release drops it.
func LockDir(dir string) (release func() error, err error) {
	l, _, err := acquireLock(dir)
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
