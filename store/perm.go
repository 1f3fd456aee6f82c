package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/holdfast/holdfast"
)

// Repository encryption protects the repository wherever it is kept; it
// does not protect what the machine running Holdfast derives from it (the
// search index holds mail and Teams text in the clear, restore journals
// hold item names). That derived state is protected the way ssh protects
// its keys: the data directory and every tenant directory are private to
// their owner (0700), and a key file others can read is refused.

// tighten makes dir private to its owner (0700) if group or others have
// any access, and returns a note saying so; "" when nothing changed.
func tighten(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return "", nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	return fmt.Sprintf("made %s private to its owner (mode %04o → 0700): it holds decrypted, derived data", dir, fi.Mode().Perm()), nil
}

// checkKeyFile refuses a secret key file that group or others can read or
// write, as ssh refuses such private keys.
func checkKeyFile(op, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return nil // reading it reports the problem
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return holdfast.Errorf(op, holdfast.Permission, "%s is accessible by others (mode %04o): a secret key must be private to its owner; run chmod 600 %s", p, m, p)
	}
	return nil
}
