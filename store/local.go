package store

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/holdfast/holdfast"
)

// tempPrefix marks files being written; a crash can leave them behind and
// Local.Cleanup removes them. They are never part of the repository.
const tempPrefix = ".tmp-"

// Local is a Backend on a local filesystem directory.
type Local struct {
	root string
}

// NewLocal returns a backend rooted at dir. The directory must exist.
func NewLocal(dir string) *Local { return &Local{root: dir} }

// Root returns the directory the backend stores objects in.
func (l *Local) Root() string { return l.root }

func (l *Local) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "..") ||
		strings.Contains(path.Base(name), tempPrefix) {
		return "", holdfast.Errorf("local backend", holdfast.Invalid, "invalid object name %q", name)
	}
	return filepath.Join(l.root, filepath.FromSlash(name)), nil
}

// Put writes the object with WriteNew (never replacing one) after creating
// its directory, and makes it read-only.
func (l *Local) Put(ctx context.Context, name string, data []byte) error {
	const op = "local.Put"
	p, err := l.newObject(ctx, op, name)
	if err != nil {
		return err
	}
	if err := WriteNew(p, data, 0o444); err != nil {
		if holdfast.Is(holdfast.Exist, err) {
			return holdfast.Errorf(op, holdfast.Exist, "object %s already exists and is never replaced", name)
		}
		return holdfast.E(op, err)
	}
	return nil
}

// newObject returns the path of object name, its directory made.
func (l *Local) newObject(ctx context.Context, op, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", holdfast.E(op, err)
	}
	p, err := l.path(name)
	if err != nil {
		return "", err
	}
	if err := mkdirAllSync(filepath.Dir(p)); err != nil {
		return "", holdfast.E(op, holdfast.IO, err)
	}
	return p, nil
}

// WriteNew writes data to a new file at p, durably and whole or not at
// all: a temporary file in p's directory, fsynced, hard-linked to p —
// which fails rather than replace a file — then the temporary name is
// removed and the directory fsynced. An existing p is an Exist error that
// names it. The store's objects and the files commands write (proofs,
// checkpoints, reports) are written this one way.
func WriteNew(p string, data []byte, perm os.FileMode) error {
	const op = "write file"
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := f.Close(); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return holdfast.Errorf(op, holdfast.Exist, "%s already exists; holdfast never replaces a file (choose another name or remove it)", p)
		}
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := os.Remove(tmp); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := syncDir(dir); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}

func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFoundOrIO("local.Open", name, err)
	}
	return f, nil
}

func (l *Local) ReadAt(ctx context.Context, name string, b []byte, off int64) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return notFoundOrIO("local.ReadAt", name, err)
	}
	defer f.Close()
	if _, err := f.ReadAt(b, off); err != nil {
		return holdfast.E("local.ReadAt", holdfast.IO, err, name)
	}
	return nil
}

func (l *Local) Size(ctx context.Context, name string) (int64, error) {
	p, err := l.path(name)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, notFoundOrIO("local.Size", name, err)
	}
	return fi.Size(), nil
}

func (l *Local) List(ctx context.Context, prefix string, fn func(name string, size int64) error) error {
	// Walk only the directory that can hold the prefix.
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var names []string
	sizes := map[string]int64{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		names = append(names, name)
		sizes[name] = info.Size()
		return nil
	})
	if err != nil {
		return holdfast.E("local.List", holdfast.IO, err)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(n, sizes[n]); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup removes temporary files that an interrupted writer left behind and
// returns how many it removed. They never held committed data.
func (l *Local) Cleanup() (int, error) {
	n := 0
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && p != l.root && (d.Name() == "state" || d.Name() == spoolDirName) && filepath.Dir(p) == l.root {
			// Local state, and the spool that readers write into without
			// the lock: never repository data, and not this writer's.
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

func notFoundOrIO(op, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return holdfast.Errorf(op, holdfast.NotFound, "object %s does not exist", name)
	}
	return holdfast.E(op, holdfast.IO, err)
}

// mkdirAllSync creates dir and its missing parents, fsyncing each parent so
// that the new directory entries survive a crash.
func mkdirAllSync(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// WriteReplace replaces a file that is not repository data (derived
// state, the service's access file) durably and whole: temp file, fsync,
// rename, fsync directory.
func WriteReplace(p string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(p)
	if err := mkdirAllSync(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(dir)
}

// Remove deletes an object and makes its removal durable. Only disposal
// calls it, for packs a disposal.completed record retired.
func (l *Local) Remove(ctx context.Context, name string) error {
	const op = "local.Remove"
	if err := ctx.Err(); err != nil {
		return holdfast.E(op, err)
	}
	p, err := l.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return holdfast.Errorf(op, holdfast.NotFound, "object %s does not exist", name)
		}
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}
