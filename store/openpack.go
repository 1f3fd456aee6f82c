package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/holdfast/holdfast"
)

// The pack being filled is assembled in a temporary file beside the
// repository's local state rather than in memory: a pack is up to
// PackSize (16 MiB) and a backup's memory should not carry one. Its
// blobs, then its header, go to the file; its name is the SHA-256 of
// what was written, hashed on the way. A backend that can store an object
// from a file (FilePutter) takes it from there — the local disk links the
// fsynced file into place, S3 uploads it — and any other reads it back.
// A crash leaves the file behind under tempPrefix; the next writer removes
// it, and the blobs it held were never acknowledged.

// packTempPrefix names an open pack's temporary file.
const packTempPrefix = tempPrefix + "pack-"

// FilePutter is a Backend that can store an object from a file it is
// given, without the object in memory. PutFile keeps Put's contract: the
// object is durable when it returns, and an existing name is an Exist
// error that leaves it untouched. f holds exactly the object's size bytes
// from offset 0; it stays the caller's, who closes and removes it.
type FilePutter interface {
	PutFile(ctx context.Context, name string, f *os.File, size int64) error
}

// openPack is the pack being filled.
type openPack struct {
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	size int64
}

func newOpenPack(dir string) (*openPack, error) {
	f, err := os.CreateTemp(dir, packTempPrefix+"*")
	if err != nil {
		return nil, holdfast.E("open pack", holdfast.IO, err)
	}
	return &openPack{f: f, w: bufio.NewWriterSize(f, 256<<10), h: sha256.New()}, nil
}

func (p *openPack) write(b []byte) error {
	if _, err := p.w.Write(b); err != nil {
		return holdfast.E("open pack", holdfast.IO, err)
	}
	p.h.Write(b)
	p.size += int64(len(b))
	return nil
}

// finish writes the pack's header and returns the pack's ID, and a
// function that takes the header off again so that the pack can be
// finished again later (after a failed store).
func (p *openPack) finish(header []byte) (ID, func() error, error) {
	state, err := p.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return ID{}, nil, err
	}
	size := p.size
	undo := func() error {
		// Into a new file: a failed store may have linked this one into
		// place already, and it must not change under that name.
		if err := p.w.Flush(); err != nil {
			return holdfast.E("open pack", holdfast.IO, err)
		}
		f, err := os.CreateTemp(filepath.Dir(p.f.Name()), packTempPrefix+"*")
		if err != nil {
			return holdfast.E("open pack", holdfast.IO, err)
		}
		if _, err := io.Copy(f, io.NewSectionReader(p.f, 0, size)); err != nil {
			f.Close()
			os.Remove(f.Name())
			return holdfast.E("open pack", holdfast.IO, err)
		}
		p.discard()
		p.f, p.size = f, size
		p.w.Reset(f)
		return p.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
	}
	if err := p.write(header); err != nil {
		return ID{}, nil, errors.Join(err, undo())
	}
	var id ID
	p.h.Sum(id[:0])
	return id, undo, nil
}

// readAt reads what was written at off.
func (p *openPack) readAt(b []byte, off int64) error {
	if err := p.w.Flush(); err != nil {
		return holdfast.E("open pack", holdfast.IO, err)
	}
	if _, err := p.f.ReadAt(b, off); err != nil {
		return holdfast.E("open pack", holdfast.IO, err)
	}
	return nil
}

// store puts the finished pack under name through be.
func (p *openPack) store(ctx context.Context, be Backend, name string) error {
	if err := p.w.Flush(); err != nil {
		return holdfast.E("write pack", holdfast.IO, err)
	}
	if fp, ok := be.(FilePutter); ok {
		return fp.PutFile(ctx, name, p.f, p.size)
	}
	data := make([]byte, p.size)
	if _, err := p.f.ReadAt(data, 0); err != nil {
		return holdfast.E("write pack", holdfast.IO, err)
	}
	return be.Put(ctx, name, data)
}

// discard removes the temporary file.
func (p *openPack) discard() {
	p.f.Close()
	os.Remove(p.f.Name())
}

// removeTempPacks removes open packs a crashed writer left in dir.
func removeTempPacks(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() && strings.HasPrefix(e.Name(), packTempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// PutFile stores the file as the object name, as Put does: the file is
// made read-only, fsynced and hard-linked into place (a link never
// replaces a name), then the directory is fsynced. A file on another
// filesystem is copied instead.
func (l *Local) PutFile(ctx context.Context, name string, f *os.File, size int64) error {
	const op = "local.Put"
	p, err := l.newObject(ctx, op, name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := f.Chmod(0o444); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := f.Sync(); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	err = os.Link(f.Name(), p)
	if errors.Is(err, syscall.EXDEV) {
		data := make([]byte, size)
		if _, err := f.ReadAt(data, 0); err != nil {
			return holdfast.E(op, holdfast.IO, err)
		}
		return l.Put(ctx, name, data)
	}
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return holdfast.Errorf(op, holdfast.Exist, "object %s already exists and is never replaced", name)
		}
		return holdfast.E(op, holdfast.IO, err)
	}
	if err := syncDir(dir); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}
