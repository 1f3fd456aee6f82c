package restore

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/holdfast/holdfast"
)

// A Journal makes a restore into the tenant resumable. It is a file of
// JSON lines in the tenant's state directory: a header naming the restore,
// its scope (with the moment fixed, so a rerun selects the same versions)
// and target; then the id of every folder, calendar or contact folder the
// restore created, as it is created (fsynced: a resumed restore must write
// into the same folders, never make new ones), and every item restored
// (written, not fsynced: a process killed loses no written line, and items
// whose line did not reach the disk are found in the tenant on resume).
// A finished restore ends with a "finished" line.
type Journal struct {
	mu         sync.Mutex
	f          *os.File
	path       string
	Header     JournalHeader
	containers map[string]string
	done       map[string]bool
	Resumed    bool // opened from an earlier, interrupted run
}

// JournalHeader is the first line of a journal.
type JournalHeader struct {
	Restore string    `json:"restore"`
	Key     string    `json:"key"`    // scope and target, as given: what a rerun must match
	Folder  string    `json:"folder"` // the restore folder's name
	Scope   Scope     `json:"scope"`  // with At fixed
	Target  string    `json:"target"` // account restored into ("" each item's own)
	Started time.Time `json:"started"`
}

type journalLine struct {
	T    string         `json:"t"` // header, container, done, finished
	H    *JournalHeader `json:"h,omitempty"`
	Key  string         `json:"key,omitempty"`
	ID   string         `json:"id,omitempty"`
	Item string         `json:"item,omitempty"`
}

// CreateJournal starts the journal of a new restore in dir.
func CreateJournal(dir string, h JournalHeader) (*Journal, error) {
	const op = "restore journal"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	path := filepath.Join(dir, h.Restore+".journal")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	j := &Journal{f: f, path: path, Header: h, containers: map[string]string{}, done: map[string]bool{}}
	if err := j.append(journalLine{T: "header", H: &h}, true); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// FindJournal opens the newest unfinished journal in dir whose key is key,
// to resume it; it returns nil if there is none.
func FindJournal(dir, key string) (*Journal, error) {
	const op = "restore journal"
	names, _ := filepath.Glob(filepath.Join(dir, "*.journal"))
	sort.Sort(sort.Reverse(sort.StringSlice(names))) // ids start with their time
	for _, path := range names {
		j, finished, err := readJournal(path)
		if err != nil {
			return nil, holdfast.E(op, err, filepath.Base(path))
		}
		if finished || j.Header.Key != key {
			continue
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		j.f, j.Resumed = f, true
		return j, nil
	}
	return nil, nil
}

// readJournal reads a journal; a torn last line (a write cut by a crash) is
// ignored, anything else unreadable is an error.
func readJournal(path string) (*Journal, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, holdfast.E("read", holdfast.IO, err)
	}
	j := &Journal{path: path, containers: map[string]string{}, done: map[string]bool{}}
	finished, header := false, false
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		var l journalLine
		if err := json.Unmarshal(line, &l); err != nil {
			if i == len(lines)-1 {
				break // cut by a crash mid-write
			}
			return nil, false, holdfast.Errorf("read", holdfast.Integrity, "line %d is not a journal line", i+1)
		}
		switch l.T {
		case "header":
			if l.H == nil {
				return nil, false, holdfast.Errorf("read", holdfast.Integrity, "line %d: header without content", i+1)
			}
			j.Header, header = *l.H, true
		case "container":
			j.containers[l.Key] = l.ID
		case "done":
			j.done[l.Item] = true
		case "finished":
			finished = true
		}
	}
	if !header {
		return nil, false, holdfast.E("read", holdfast.Integrity, "no header")
	}
	return j, finished, nil
}

func (j *Journal) append(l journalLine, sync bool) error {
	b, _ := json.Marshal(l)
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return holdfast.E("restore journal", holdfast.IO, err)
	}
	if sync {
		if err := j.f.Sync(); err != nil {
			return holdfast.E("restore journal", holdfast.IO, err)
		}
	}
	return nil
}

// Container returns the id of the container created for key.
func (j *Journal) Container(key string) (string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	id, ok := j.containers[key]
	return id, ok
}

// SetContainer records a container the restore created, durably.
func (j *Journal) SetContainer(key, id string) error {
	j.mu.Lock()
	j.containers[key] = id
	j.mu.Unlock()
	return j.append(journalLine{T: "container", Key: key, ID: id}, true)
}

// Done reports whether item was restored by an earlier run.
func (j *Journal) Done(item string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[item]
}

// MarkDone records that item is in the tenant.
func (j *Journal) MarkDone(item string) error {
	j.mu.Lock()
	j.done[item] = true
	j.mu.Unlock()
	return j.append(journalLine{T: "done", Item: item}, false)
}

// DoneCount is the number of items recorded as restored.
func (j *Journal) DoneCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// Finish marks the restore finished (it will not be resumed) and closes
// the journal.
func (j *Journal) Finish() error {
	err := j.append(journalLine{T: "finished"}, true)
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = holdfast.E("restore journal", holdfast.IO, cerr)
	}
	return err
}

// Close closes the journal without finishing it: the restore can resume.
func (j *Journal) Close() error {
	j.f.Sync()
	return j.f.Close()
}

// versionKey names a version in a journal.
func versionKey(v Version) string {
	return v.Item + "@" + strconv.FormatUint(v.Record, 10)
}
