package store

import (
	"bytes"
	"context"
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
)

// Reads never wait for a running backup. A command that reads and must
// leave a record of doing so (a search's audit event, a verify run, a
// report issued, a restore performed) opens the store Shared: it takes the
// writer lock when it is free; when another process holds it, the command
// reads without it and Deposit writes its records durably into the spool
// (<tenant>/spool/), from which the writer appends them at its next flush.
// A spooled record is never lost: its file goes only after the batch that
// holds it is durable, and a writer that died in between is caught by the
// spool id the record carries (see drainSpoolLocked).

const spoolDirName = "spool"

// spoolFile is one deposit: the records a reader left for the writer.
type spoolFile struct {
	ID      string        `json:"id"`
	Records []spoolRecord `json:"records"`
}

type spoolRecord struct {
	Type string          `json:"type"`
	Time time.Time       `json:"time"` // when the reader deposited it
	Data json.RawMessage `json:"data"`
}

func (s *Store) spoolDir() string { return filepath.Join(s.localDir, spoolDirName) }

// Spooled reports whether records this store deposits go to the spool
// (another process holds the writer lock) rather than straight to the log.
func (s *Store) Spooled() bool { return s.spool }

// Deposit records data as a record of type typ. With the writer lock it is
// Append (durable at the next Flush); without it — another process is
// writing — the record is written durably to the spool before Deposit
// returns, and the writer appends it at its next flush. data must marshal
// to a JSON object: a spooled record's data gains "spool_id".
func (s *Store) Deposit(ctx context.Context, typ string, data any) error {
	const op = "store.Deposit"
	if !s.spool {
		_, err := s.Append(ctx, typ, data)
		return err
	}
	if s.damaged != "" {
		return holdfast.Errorf(op, holdfast.Integrity, "refusing to write: %s", s.damaged)
	}
	raw, err := encodeData(data)
	if err != nil {
		return holdfast.E(op, err)
	}
	if !bytes.HasPrefix(raw, []byte("{")) {
		return holdfast.Errorf(op, holdfast.Invalid, "a deposited record's data must be a JSON object")
	}
	if !record.ValidType(typ) {
		return holdfast.Errorf(op, holdfast.Invalid, "record type %q is not dotted lower-case words", typ)
	}
	sf := spoolFile{ID: fmt.Sprintf("%d-%s", s.now().UnixNano(), holdfast.RandomHex(6)), Records: []spoolRecord{{Type: typ, Time: s.now().UTC(), Data: raw}}}
	b, err := json.Marshal(sf)
	if err != nil {
		return holdfast.E(op, err)
	}
	if err := WriteReplace(filepath.Join(s.spoolDir(), sf.ID+".json"), b, 0o600); err != nil {
		return holdfast.E(op, holdfast.IO, err)
	}
	return nil
}

// drainSpoolLocked appends the records waiting in the spool to the pending
// records and returns the spool files to remove once they are durable.
func (s *Store) drainSpoolLocked(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(s.spoolDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, holdfast.E("drain spool", holdfast.IO, err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, tempPrefix) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names) // in the order they were deposited
	var done []string
	var last []byte // the newest batch, read once: a writer may have died after appending a deposit
	for _, n := range names {
		p := filepath.Join(s.spoolDir(), n)
		b, err := readFileLimit(p, maxLineSize)
		if err != nil {
			return nil, holdfast.E("drain spool", holdfast.IO, err)
		}
		var sf spoolFile
		if err := json.Unmarshal(b, &sf); err != nil || sf.ID == "" {
			s.notes = append(s.notes, fmt.Sprintf("left %s in the spool: it is not a deposit (%v)", p, err))
			continue
		}
		if last == nil && len(s.batches) > 0 {
			if last, err = readAll(ctx, s.be, s.batches[len(s.batches)-1].name, maxLineSize); err != nil {
				return nil, err
			}
		}
		if bytes.Contains(last, []byte(`"spool_id":"`+sf.ID+`"`)) {
			done = append(done, p) // appended by a writer that died before removing it
			continue
		}
		for _, r := range sf.Records {
			data, err := withSpoolID(r.Data, sf.ID)
			if err != nil {
				return nil, holdfast.E("drain spool", holdfast.Integrity, err, p)
			}
			if _, err := s.appendRawLocked(r.Type, data, nil); err != nil {
				return nil, err
			}
		}
		done = append(done, p)
	}
	return done, nil
}

// withSpoolID adds "spool_id" to a canonical JSON object.
func withSpoolID(data json.RawMessage, id string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["spool_id"], _ = json.Marshal(id)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return record.Canonical(b)
}

// removeSpooled removes spool files whose records are durable in the log.
func (s *Store) removeSpooled(paths []string) {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.notes = append(s.notes, fmt.Sprintf("could not remove %s from the spool (its records are in the log; the next writer skips it): %v", p, err))
		}
	}
	if len(paths) > 0 {
		_ = syncDir(s.spoolDir())
	}
}
