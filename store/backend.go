package store

import (
	"context"
	"io"
)

// Backend is where a repository's objects live. Objects are named with
// slash-separated paths ("packs/ab/ab12…", "log/…", "checkpoints/…") and are
// immutable: Put creates an object once and durably, and no method replaces or
// removes one. Every backend runs the shared suite in package storetest.
type Backend interface {
	// Put stores data under name. It returns only when the object is durable.
	// If name already exists it fails with an error of kind holdfast.Exist and
	// leaves the existing object untouched.
	Put(ctx context.Context, name string, data []byte) error
	// Open streams the whole object. A missing object is holdfast.NotFound.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// ReadAt reads len(p) bytes at offset off; a short object is an error.
	ReadAt(ctx context.Context, name string, p []byte, off int64) error
	// Size returns the object's size.
	Size(ctx context.Context, name string) (int64, error)
	// List calls fn for every object whose name starts with prefix, in
	// lexical order of names.
	List(ctx context.Context, prefix string, fn func(name string, size int64) error) error
}
