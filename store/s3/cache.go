package s3

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// cache keeps copies of written objects in a local directory, newest
// first, up to a size. It is derived state: losing it costs requests to
// the bucket, nothing else. A nil cache does nothing.
type cache struct {
	dir   string
	limit int64

	mu    sync.Mutex
	order []cached // oldest first
	size  int64
}

type cached struct {
	name string
	size int64
}

// newCache keeps this process's copies in a folder of its own under dir,
// and removes what processes that are gone left there.
func newCache(dir string, limit int64) *cache {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "p"))
		if err != nil || (pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	own := filepath.Join(dir, "p"+strconv.Itoa(os.Getpid()))
	os.RemoveAll(own)
	if err := os.MkdirAll(own, 0o700); err != nil {
		return nil
	}
	return &cache{dir: own, limit: limit}
}

func (c *cache) path(name string) string {
	return filepath.Join(c.dir, strings.ReplaceAll(name, "/", "_"))
}

// put keeps a copy of an object just written (temporary file, rename: a
// reader never sees half of one), dropping the oldest beyond the limit.
func (c *cache) put(name string, data []byte) {
	if c == nil || int64(len(data)) > c.limit {
		return
	}
	p := c.path(name)
	if err := os.WriteFile(p+".tmp", data, 0o600); err != nil {
		return
	}
	c.keep(name, p, int64(len(data)))
}

// putFile keeps a copy of an object written from f: a link to the file
// when it is on the same filesystem (it is not written again), else a
// copy.
func (c *cache) putFile(name string, f *os.File, size int64) {
	if c == nil || size > c.limit {
		return
	}
	p := c.path(name)
	os.Remove(p + ".tmp") // never write through a link left behind
	if err := os.Link(f.Name(), p+".tmp"); err != nil {
		w, err := os.OpenFile(p+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return
		}
		_, err = io.Copy(w, io.NewSectionReader(f, 0, size))
		if cerr := w.Close(); err != nil || cerr != nil {
			os.Remove(p + ".tmp")
			return
		}
	}
	c.keep(name, p, size)
}

// keep renames the copy at p+".tmp" into place and drops the oldest
// copies beyond the limit.
func (c *cache) keep(name, p string, size int64) {
	if err := os.Rename(p+".tmp", p); err != nil {
		os.Remove(p + ".tmp")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order = append(c.order, cached{name, size})
	c.size += size
	for c.size > c.limit && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= old.size
		os.Remove(c.path(old.name))
	}
}

// readAt fills p from the cached copy of name at off, if there is one
// that holds those bytes.
func (c *cache) readAt(name string, p []byte, off int64) bool {
	if c == nil {
		return false
	}
	f, err := os.Open(c.path(name))
	if err != nil {
		return false
	}
	defer f.Close()
	n, err := f.ReadAt(p, off)
	return err == nil && n == len(p)
}

// remove drops the copy of an object removed from the bucket.
func (c *cache) remove(name string) {
	if c == nil {
		return
	}
	os.Remove(c.path(name))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.order {
		if o.name == name {
			c.size -= o.size
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}
