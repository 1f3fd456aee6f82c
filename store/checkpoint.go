package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement of the log's size and root hash, in the
// c2sp.org/tlog-checkpoint format: origin, size and base64 root hash on three
// lines, then the note signature.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	Note   []byte `json:"-"` // the signed note as stored
}

func checkpointBody(origin string, size uint64, root []byte) []byte {
	return []byte(fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root)))
}

// ParseCheckpoint opens a signed checkpoint note with verifier v and parses
// its body. Any problem is an Integrity error.
func ParseCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	const op = "parse checkpoint"
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, holdfast.E(op, holdfast.Integrity, err, "signature")
	}
	c, err := parseCheckpointBody(n.Text)
	if err != nil {
		return Checkpoint{}, holdfast.E(op, holdfast.Integrity, err)
	}
	c.Note = msg
	return c, nil
}

func parseCheckpointBody(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, fmt.Errorf("checkpoint body has fewer than three lines")
	}
	if lines[0] == "" {
		return Checkpoint{}, fmt.Errorf("checkpoint has an empty origin")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal number", lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

func checkpointName(size uint64) string { return fmt.Sprintf("%s%020d", ckptPrefix, size) }

// Checkpoint makes everything pending durable and, when the log has grown
// since the newest checkpoint, issues and stores a new signed checkpoint.
// It returns the newest checkpoint and whether it was issued now.
func (s *Store) Checkpoint(ctx context.Context) (Checkpoint, bool, error) {
	const op = "store.Checkpoint"
	if err := s.writable(op); err != nil {
		return Checkpoint{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The open pack's record must be in the log before the size is fixed.
	if err := s.writePackLocked(ctx); err != nil {
		return Checkpoint{}, false, holdfast.E(op, err)
	}
	if s.lastCkp > 0 && s.size+uint64(len(s.pendingEnds)) == s.lastCkp {
		c, err := s.readCheckpoint(ctx, s.lastCkp)
		return c, false, holdfastE(op, err)
	}
	size := s.size + uint64(len(s.pendingEnds)) + 1
	if _, err := s.appendLocked(record.TypeCheckpoint, record.CheckpointIssued{Size: size}, nil); err != nil {
		return Checkpoint{}, false, holdfast.E(op, err)
	}
	if err := s.flushLocked(ctx); err != nil {
		return Checkpoint{}, false, holdfast.E(op, err)
	}
	c, err := s.issueLocked(ctx)
	return c, err == nil, holdfastE(op, err)
}

func holdfastE(op string, err error) error {
	if err == nil {
		return nil
	}
	return holdfast.E(op, err)
}

// issueLocked signs and stores a checkpoint for the current committed size.
func (s *Store) issueLocked(ctx context.Context) (Checkpoint, error) {
	root, err := s.tree.GetRootHash(nil)
	if err != nil {
		return Checkpoint{}, err
	}
	body := checkpointBody(s.cfg.Origin, s.size, root)
	msg, err := note.Sign(&note.Note{Text: string(body)}, s.signer)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := s.mayWrite("checkpoint"); err != nil {
		return Checkpoint{}, err
	}
	if err := s.be.Put(ctx, checkpointName(s.size), msg); err != nil {
		return Checkpoint{}, err
	}
	s.lastCkp = s.size
	s.issued = true
	return Checkpoint{Origin: s.cfg.Origin, Size: s.size, Root: root, Note: msg}, nil
}

// recoverCheckpoint issues the checkpoint that the last record announced if
// the process died before storing it.
func (s *Store) recoverCheckpoint(ctx context.Context) error {
	if s.size == 0 || s.lastCkp == s.size {
		return nil
	}
	rec, _, err := s.Record(ctx, s.size-1)
	if err != nil {
		return err
	}
	var d record.CheckpointIssued
	if rec.Type != record.TypeCheckpoint || json.Unmarshal(rec.Data, &d) != nil || d.Size != s.size {
		return nil
	}
	if _, err := s.issueLocked(ctx); err != nil {
		return err
	}
	s.notes = append(s.notes, fmt.Sprintf("issued checkpoint %d, announced by an interrupted run", s.size))
	return nil
}

func (s *Store) readCheckpoint(ctx context.Context, size uint64) (Checkpoint, error) {
	rc, err := s.be.Open(ctx, checkpointName(size))
	if err != nil {
		return Checkpoint{}, err
	}
	defer rc.Close()
	msg, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return Checkpoint{}, holdfast.E("read checkpoint", holdfast.IO, err)
	}
	c, err := ParseCheckpoint(msg, s.verifier)
	if err != nil {
		return Checkpoint{}, holdfast.E("read checkpoint", err, checkpointName(size))
	}
	if c.Size != size {
		return Checkpoint{}, holdfast.Errorf("read checkpoint", holdfast.Integrity, "%s says size %d", checkpointName(size), c.Size)
	}
	return c, nil
}

// Issued reports whether this store issued a checkpoint since it was
// opened (the witnesses are then asked to cosign the newest).
func (s *Store) Issued() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// LatestCheckpoint returns the newest checkpoint, or NotFound if none was issued.
func (s *Store) LatestCheckpoint(ctx context.Context) (Checkpoint, error) {
	s.mu.Lock()
	n := s.lastCkp
	s.mu.Unlock()
	if n == 0 {
		return Checkpoint{}, holdfast.Errorf("store.LatestCheckpoint", holdfast.NotFound, "no checkpoint has been issued yet")
	}
	return s.readCheckpoint(ctx, n)
}

// CheckpointAt returns the checkpoint of the given size.
func (s *Store) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	c, err := s.readCheckpoint(ctx, size)
	if holdfast.Is(holdfast.NotFound, err) {
		return c, holdfast.Errorf("store.CheckpointAt", holdfast.NotFound, "no checkpoint of size %d was issued (see holdfast log --type %s)", size, record.TypeCheckpoint)
	}
	return c, err
}

// CheckpointSizes lists the sizes of all stored checkpoints in order.
func (s *Store) CheckpointSizes(ctx context.Context) ([]uint64, error) {
	var sizes []uint64
	err := s.be.List(ctx, ckptPrefix, func(name string, _ int64) error {
		n, err := strconv.ParseUint(strings.TrimPrefix(name, ckptPrefix), 10, 64)
		if err == nil {
			sizes = append(sizes, n)
		}
		return nil
	})
	return sizes, err
}

func readFileLimit(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, io.LimitReader(f, limit))
	return buf.Bytes(), err
}
