package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

const (
	configName  = "config.json"
	packPrefix  = "packs/"
	logPrefix   = "log/"
	ckptPrefix  = "checkpoints/"
	cosigPrefix = "cosignatures/"
	logSuffix   = ".jsonl"
	maxLineSize = 64 << 20

	// PackSize is the size at which an open pack is written out.
	PackSize = 16 << 20
	// flushRecordBytes bounds the pending records kept in memory.
	flushRecordBytes = 8 << 20
)

var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// LeafHash returns the RFC 6962 leaf hash of a record's canonical bytes.
func LeafHash(rec []byte) []byte { return hasher.HashLeaf(rec) }

// Options configure Open.
type Options struct {
	// LocalDir holds derived state (state/) and the writer lock. For a
	// local backend it is the repository directory itself.
	LocalDir string
	// Signer signs checkpoints. Without one the store is read-only.
	Signer note.Signer
	// MasterKey unwraps the tenant key of an encrypted repository.
	MasterKey []byte
	// ReadOnly opens without the writer lock; Append and Flush fail.
	ReadOnly bool
	// Shared opens for reading and for depositing records: with the writer
	// lock when it is free, else without it, Deposit spooling records for
	// the process that holds it (see Deposit). Reads never wait.
	Shared bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Fence, if set, is asked before every write to the backend; an error
	// stops the writer (Locked). A worker holding a lease on the tenant
	// says stop before the lease can lapse, so that it never writes once
	// another worker may have taken the tenant over.
	Fence func() error
	// Spool opens as Shared does when another process holds the writer
	// lock, without trying it: another worker holds the tenant.
	Spool bool
	// OnClose, if set, is called by Close once the store is closed (a
	// lease is released).
	OnClose func()
	// Repair opens a store whose only damage is missing packs for the
	// writes of a repair (RecordRepair); any other damage still refuses.
	Repair bool
	// HighWaterFile, if set, is where this machine records the largest log
	// it has seen of this repository; it must lie outside the repository
	// (DataDir puts it under <data>/keys/seen/). A log shorter than the mark
	// was rolled back: the store refuses writes and Verify fails.
	HighWaterFile string
}

// Store is one tenant's repository.
type Store struct {
	mu       sync.Mutex
	be       Backend
	cfg      Config
	sealer   *sealer
	signer   note.Signer
	verifier note.Verifier
	localDir string
	readOnly bool
	issued   bool    // a checkpoint was issued since Open
	remote   *Remote // where the repository is, when not under the data directory
	spool    bool    // Shared, and another process holds the writer lock
	lock     *lockFile
	now      func() time.Time

	packs   []ID           // every pack known, in load order
	index   map[ID]blobLoc // blob id → where it is stored
	logged  map[ID]bool    // packs named by a pack.added record
	batches []batch        // committed log batches, in order
	size    uint64         // committed records
	tree    *compact.Range // over the committed records
	lastCkp uint64         // size of the newest checkpoint
	damaged string         // why appends are refused, if they are
	lost    map[ID]bool    // packs a repair record declared lost
	disp    disposalState  // what disposal records say (dispose.go)
	missing []ID           // packs the log names that are gone and not yet declared lost
	// repairable: the only damage is missing packs, which a repair
	// record can account for; with Options.Repair the store takes the
	// writes of that repair.
	repairable bool
	repair     bool

	fence   func() error
	fenced  atomic.Pointer[string] // why another writer took over, once one did
	onClose func()

	highWaterFile string
	seen          Expectation // this machine's high-water mark of the log
	cache         treeState   // the tree cache: as found at Open, then only its size as saved

	// Pending work, made durable by Flush.
	pack         *openPack // the pack being filled, nil before its first blob
	packEntries  []packEntry
	pendingBlob  map[ID]int // id → index in packEntries
	pending      []byte     // canonical records not yet in a batch, each ended by "\n": the batch to be
	pendingEnds  []int      // where each pending record's line ends in pending
	pendingPacks []ID       // packs named by pending records

	notes []string
}

type blobLoc struct {
	pack uint32 // index into Store.packs
	packEntry
}

type batch struct {
	first, last uint64
	name        string
	bytes       int64 // size of the batch file as listed
	// open: the name gives only the first record (see batchName); last
	// comes from the next batch's first (fromNext), or, for the newest,
	// its lines.
	open, fromNext bool
}

// Open opens the repository in be.
func Open(ctx context.Context, be Backend, opts Options) (*Store, error) {
	const op = "store.Open"
	rc, err := be.Open(ctx, configName)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	cb, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	cfg, err := parseConfig(cb)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "config.json")
	}
	if cfg.Version != FormatVersion {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "repository format %d is not supported (this holdfast reads format %d)", cfg.Version, FormatVersion)
	}
	s := &Store{
		be: be, cfg: cfg, localDir: opts.LocalDir, now: opts.Now,
		index: map[ID]blobLoc{}, logged: map[ID]bool{}, pendingBlob: map[ID]int{}, lost: map[ID]bool{},
		readOnly: opts.ReadOnly || opts.Signer == nil, signer: opts.Signer,
		highWaterFile: opts.HighWaterFile, repair: opts.Repair, fence: opts.Fence,
		onClose: opts.OnClose,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.verifier, err = note.NewVerifier(cfg.LogKey); err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "config.json: log_vkey")
	}
	if s.signer != nil && (s.signer.Name() != s.verifier.Name() || s.signer.KeyHash() != s.verifier.KeyHash()) {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "the signing key %s is not the key this tenant's log was created with (%s)", s.signer.Name(), s.verifier.Name())
	}
	if cfg.Encryption != nil {
		if opts.MasterKey == nil {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "tenant %s is encrypted: set %s to the master key file", cfg.Tenant, MasterKeyEnv)
		}
		if fp := KeyFingerprint(opts.MasterKey); fp != cfg.Encryption.MasterKeyFingerprint {
			return nil, holdfast.Errorf(op, holdfast.Invalid, "the master key (fingerprint %s) is not the one tenant %s was encrypted with (fingerprint %s)", fp, cfg.Tenant, cfg.Encryption.MasterKeyFingerprint)
		}
		key, err := unwrapKey(opts.MasterKey, cfg.Encryption.WrappedKey)
		if err != nil {
			return nil, holdfast.E(op, holdfast.Integrity, err, "unwrap tenant key")
		}
		if s.sealer, err = newSealer(key); err != nil {
			return nil, holdfast.E(op, holdfast.Integrity, err)
		}
	}
	if opts.Spool && !s.readOnly {
		s.readOnly, s.spool = true, true
		s.notes = append(s.notes, "another worker holds this tenant: reading beside it; this command's records go to this machine's spool, appended when it next writes the tenant")
	}
	if !s.readOnly {
		lk, stale, err := acquireLock(s.localDir)
		if opts.Shared && holdfast.Is(holdfast.Locked, err) {
			s.readOnly, s.spool = true, true
			s.notes = append(s.notes, "another process is writing to this tenant: reading beside it; this command's records go to the spool, and that process appends them")
		} else if err != nil {
			return nil, holdfast.E(op, err)
		}
		s.lock = lk
		if stale {
			s.notes = append(s.notes, "took over the writer lock left by a process that ended without closing the store")
		}
	}
	if !s.readOnly {
		// Files an interrupted write left: the backend's own, and the
		// open pack (see openPack) when it lies outside the backend.
		n, err := 0, error(nil)
		l, local := be.(*Local)
		if local {
			n, err = l.Cleanup()
		}
		if err == nil && (!local || l.root != s.localDir) {
			var m int
			m, err = removeTempPacks(s.localDir)
			n += m
		}
		if err != nil {
			s.lock.release()
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		if n > 0 {
			s.notes = append(s.notes, fmt.Sprintf("removed %d incomplete file(s) left by an interrupted write; no committed data was touched", n))
		}
	}
	if err := s.load(ctx); err != nil {
		s.lock.release()
		return nil, holdfast.E(op, err)
	}
	return s, nil
}

// What to do about damage, said after it.
const (
	hintVerify   = "run holdfast verify to see all of it"
	hintRepair   = "run holdfast verify to see all of it, then holdfast repair to fetch the lost content again from the tenant"
	hintRollback = "the log was rolled back or cut; put the missing log batches and checkpoints back from a copy (holdfast verify names them) — holdfast never writes over a shorter log"
)

// markDamaged records why the repository cannot take writes: appending to
// a damaged log would bury the damage. Reads and Verify still work.
func (s *Store) markDamaged(why, hint string) {
	if s.damaged == "" {
		s.damaged = why + "; " + hint
		s.repairable = hint == hintRepair
		s.notes = append(s.notes, "the repository is damaged and will not take writes: "+s.damaged)
	} else {
		s.repairable = false // more than a repair can account for
	}
}

// Damaged returns why the store refuses writes, or "".
func (s *Store) Damaged() string { return s.damaged }

// Notes returns what Open found and repaired, in plain words.
func (s *Store) Notes() []string { return append([]string(nil), s.notes...) }

// Config returns the repository's configuration.
func (s *Store) Config() Config { return s.cfg }

// Size returns the number of committed records.
func (s *Store) Size() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Close flushes pending work and releases the writer lock.
func (s *Store) Close(ctx context.Context) error {
	if s.onClose != nil {
		defer s.onClose()
	}
	if s.readOnly {
		return nil
	}
	var err error
	if s.damaged == "" {
		// Flushing also appends what readers left in the spool; nothing a
		// writer leaves behind stays unsigned: the log is checkpointed when
		// it grew since the newest checkpoint.
		if err = s.Flush(ctx); err == nil {
			_, _, err = s.Checkpoint(ctx)
		}
	}
	if s.pack != nil {
		s.pack.discard() // blobs never acknowledged
		s.pack = nil
	}
	if rerr := s.lock.release(); err == nil && rerr != nil {
		err = rerr
	}
	return err
}

// load builds the in-memory view: blob index from pack headers, the batch
// list, the tree (from the state cache plus any newer batches) and the
// newest checkpoint. It checks, cheaply, that the log is whole and that no
// local record remembers a longer log; if not, the store refuses writes.
func (s *Store) load(ctx context.Context) error {
	// The records of the log's length kept beside it are read before the
	// log is listed: another process raises them only after its batch is
	// durable, so they are never ahead of what is listed here.
	if hw, ok, err := readHighWater(s.highWaterFile); err != nil {
		s.markDamaged(err.Error(), hintVerify)
	} else if ok && hw.Origin != s.cfg.Origin {
		s.markDamaged(fmt.Sprintf("this machine recorded log %s for tenant %s (%d records, %s), but the repository now holds log %s: the tenant's repository was replaced", hw.Origin, s.cfg.Tenant, hw.Size, s.highWaterFile, s.cfg.Origin), hintVerify)
	} else if ok {
		s.seen = Expectation{Source: "this machine's high-water mark", Size: hw.Size, Root: hw.Root}
	}
	if b, err := readFileLimit(s.statePath(), 64<<20); err == nil {
		var st treeState
		if json.Unmarshal(b, &st) == nil {
			s.cache = st
		}
	}
	unreadable := map[ID]bool{}
	err := s.be.List(ctx, packPrefix, func(name string, size int64) error {
		id, err := packIDFromName(name)
		if err != nil {
			s.notes = append(s.notes, fmt.Sprintf("ignored %s: %v", name, err))
			return nil
		}
		entries, err := s.readPackHeader(ctx, name, size)
		if err != nil {
			unreadable[id] = true
			s.notes = append(s.notes, fmt.Sprintf("pack %s is unreadable (%v); run holdfast verify", name, err))
			return nil
		}
		s.addPack(id, entries)
		return nil
	})
	if err != nil {
		return err
	}
	var listed []batch
	err = s.be.List(ctx, logPrefix, func(name string, size int64) error {
		b, err := parseBatchName(name)
		if err != nil {
			s.notes = append(s.notes, fmt.Sprintf("ignored %s: %v", name, err))
			return nil
		}
		b.bytes = size
		listed = append(listed, b)
		return nil
	})
	if err != nil {
		return err
	}
	closeBatches(listed)
	if n := len(listed); n > 0 && listed[n-1].open {
		if err := s.closeNewest(ctx, &listed[n-1]); err != nil {
			return err
		}
		if listed[n-1].open {
			listed = listed[:n-1] // not one whole record
		}
	}
	for _, b := range listed {
		if b.first != s.size {
			s.markDamaged(fmt.Sprintf("log batch %s starts at record %d but the log before it ends at record %d", b.name, b.first, int64(s.size)-1), hintVerify)
		}
		s.batches = append(s.batches, b)
		s.size = b.last + 1
	}
	err = s.be.List(ctx, ckptPrefix, func(name string, size int64) error {
		n, err := strconv.ParseUint(strings.TrimPrefix(name, ckptPrefix), 10, 64)
		if err == nil && n > s.lastCkp {
			s.lastCkp = n
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.lastCkp > s.size {
		s.markDamaged(fmt.Sprintf("checkpoint %d was issued but the log holds only %d records: the log was truncated or a batch removed", s.lastCkp, s.size), hintRollback)
	}
	for _, e := range s.expectations() {
		if e.Size > s.size {
			s.markDamaged(e.missing(s.size), hintRollback)
		}
	}
	s.checkCachedBatches()
	if s.damaged == "" {
		if err := s.loadTree(ctx); err != nil {
			if !holdfast.Is(holdfast.Integrity, err) {
				return err
			}
			s.markDamaged(err.Error(), hintVerify)
		}
	}
	if s.damaged == "" && s.seen.Size == s.size && s.seen.Root != nil {
		if root, err := s.tree.GetRootHash(nil); err == nil && !bytes.Equal(root, s.seen.Root) {
			s.markDamaged(s.seen.forked(root), hintRollback)
		}
	}
	if s.damaged == "" && s.disposalUnderWay() {
		if err := s.reindexLocked(ctx); err != nil {
			return err
		}
	}
	if s.damaged == "" {
		s.checkLoggedPacks(unreadable)
	}
	if !s.readOnly && s.damaged == "" {
		// Packs written by a run that died before its records were committed
		// hold durable blobs; name them in the log so nothing is unaccounted for.
		var orphans []ID
		for _, id := range s.packs {
			if !s.logged[id] {
				orphans = append(orphans, id)
			}
		}
		for _, id := range orphans {
			entries, err := s.packHeader(ctx, id)
			if err != nil {
				return err
			}
			if err := s.appendPackRecord(id, entries, true); err != nil {
				return err
			}
		}
		if len(orphans) > 0 {
			s.notes = append(s.notes, fmt.Sprintf("recorded %d pack(s) written by an interrupted run", len(orphans)))
		}
		if err := s.recoverCheckpoint(ctx); err != nil {
			return err
		}
	}
	return nil
}

// closeNewest finds the last record of the newest batch when its name
// gives only the first: from the tree cache when the cache ends with that
// batch as it was written, else by counting its lines.
func (s *Store) closeNewest(ctx context.Context, b *batch) error {
	if c := s.cache.Batches; len(c) > 0 && c[len(c)-1].Name == b.name && c[len(c)-1].Bytes == b.bytes && s.cache.Size > b.first {
		b.last, b.open = s.cache.Size-1, false
		return nil
	}
	n, err := countBatch(ctx, s.be, b.name)
	if err != nil && !holdfast.Is(holdfast.Integrity, err) {
		return err
	}
	if err != nil {
		s.markDamaged(err.Error(), hintVerify)
	}
	if n > 0 {
		b.last, b.open = b.first+n-1, false
	}
	return nil
}

// checkCachedBatches compares the batches the tree cache covers with the
// ones listed: a batch whose size changed was truncated or altered.
func (s *Store) checkCachedBatches() {
	if s.cache.Size > s.size {
		return // already refused: the log is shorter than the cache
	}
	listed := make(map[string]int64, len(s.batches))
	for _, b := range s.batches {
		listed[b.name] = b.bytes
	}
	for _, c := range s.cache.Batches {
		got, ok := listed[c.Name]
		switch {
		case !ok:
			s.markDamaged(fmt.Sprintf("log batch %s is missing", c.Name), hintRollback)
		case got != c.Bytes:
			s.markDamaged(fmt.Sprintf("log batch %s is %d bytes, but it was %d when it was written: it was truncated or altered", c.Name, got, c.Bytes), hintVerify)
		}
	}
}

// checkLoggedPacks refuses writes when a pack the log names is missing or
// unreadable, unless a repair record already accounts for it.
func (s *Store) checkLoggedPacks(unreadable map[ID]bool) {
	present := make(map[ID]bool, len(s.packs))
	for _, id := range s.packs {
		present[id] = true
	}
	var missing []string
	for id := range s.logged {
		if _, retired := s.disp.retired[id]; retired {
			continue // removed, or to be, after a disposal
		}
		if (!present[id] || unreadable[id]) && !s.lost[id] {
			missing = append(missing, packName(id))
			s.missing = append(s.missing, id)
		}
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(missing)
	more := ""
	if len(missing) > 3 {
		more = fmt.Sprintf(" and %d more", len(missing)-3)
		missing = missing[:3]
	}
	s.markDamaged(fmt.Sprintf("%s%s, named by the log, missing or unreadable", strings.Join(missing, ", "), more), hintRepair)
}

func (s *Store) addPack(id ID, entries []packEntry) {
	pi := uint32(len(s.packs))
	s.packs = append(s.packs, id)
	for _, e := range entries {
		// A pack that stays is preferred to one a disposal retires.
		if loc, ok := s.index[e.ID]; !ok || s.goingPack(s.packs[loc.pack]) {
			s.index[e.ID] = blobLoc{pack: pi, packEntry: e}
		}
	}
}

// packHeader reads the entries of pack id.
func (s *Store) packHeader(ctx context.Context, id ID) ([]packEntry, error) {
	size, err := s.be.Size(ctx, packName(id))
	if err != nil {
		return nil, err
	}
	return s.readPackHeader(ctx, packName(id), size)
}

func (s *Store) readPackHeader(ctx context.Context, name string, size int64) ([]packEntry, error) {
	if size < packTrailerSize {
		return nil, fmt.Errorf("%d bytes is too short for a pack", size)
	}
	t := make([]byte, packTrailerSize)
	if err := s.be.ReadAt(ctx, name, t, size-packTrailerSize); err != nil {
		return nil, err
	}
	hl, err := parseTrailer(t, size)
	if err != nil {
		return nil, err
	}
	h := make([]byte, hl)
	if err := s.be.ReadAt(ctx, name, h, size-packTrailerSize-hl); err != nil {
		return nil, err
	}
	return parseHeader(h, size-packTrailerSize-hl, s.sealer)
}

// treeState is the derived cache of the tree and the packs the log names.
type treeState struct {
	Size    uint64      `json:"size"`
	Hashes  [][]byte    `json:"hashes"`
	Logged  []ID        `json:"logged_packs"`
	Batches []batchMark `json:"batches,omitempty"`    // the batches the tree covers, as written
	Lost    []ID        `json:"lost_packs,omitempty"` // packs repair records declared lost
	// What disposal records say (dispose.go).
	Disposed map[ID]uint64 `json:"disposed_blobs,omitempty"`
	Retiring map[ID]uint64 `json:"retiring_packs,omitempty"`
	Retired  map[ID]uint64 `json:"retired_packs,omitempty"`
}

// batchMark is a batch's name and size when it was written, so that Open
// notices a batch cut short without reading it.
type batchMark struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

func (s *Store) statePath() string { return filepath.Join(s.StateDir(), "tree.json") }

// StateDir is the directory of the tenant's derived, local state (the tree
// cache, search index, restore journals): never repository data, and
// rebuildable from the repository except where its owner says otherwise.
func (s *Store) StateDir() string { return filepath.Join(s.localDir, "state") }

func (s *Store) loadTree(ctx context.Context) error {
	s.tree = rangeFactory.NewEmptyRange(0)
	if st := s.cache; st.Size > 0 && st.Size <= s.size {
		if r, err := rangeFactory.NewRange(0, st.Size, st.Hashes); err == nil {
			s.tree = r
			for _, id := range st.Logged {
				s.logged[id] = true
			}
			for _, id := range st.Lost {
				s.lost[id] = true
			}
			s.disp = disposalState{disposed: st.Disposed, retiring: st.Retiring, retired: st.Retired}
			s.disp.init()
		}
	}
	// Replay the batches the cache does not cover.
	from := s.tree.End()
	if from == 0 {
		clear(s.logged)
		clear(s.lost)
		s.disp = disposalState{}
	}
	return s.scanRecords(ctx, from, s.size, func(raw []byte, r Record) error {
		if err := s.tree.Append(LeafHash(raw), nil); err != nil {
			return err
		}
		s.noteRecord(r)
		return nil
	})
}

// noteRecord updates in-memory state from a committed record.
func (s *Store) noteRecord(r Record) {
	if r.Type == record.TypeRepair {
		s.noteRepair(r)
	}
	if r.Type == record.TypePack {
		var d record.PackAdded
		if json.Unmarshal(r.Data, &d) == nil {
			s.logged[d.Pack] = true
		}
	}
	switch r.Type {
	case record.TypePack, record.TypeDisposalExecuted, record.TypeDisposalDone:
		s.noteDisposal(r)
	}
}

func (s *Store) saveTree() {
	if s.readOnly {
		return
	}
	if s.cache.Size > s.tree.End() {
		return // never replace the record of a longer log with a shorter one
	}
	st := treeState{Size: s.tree.End(), Hashes: s.tree.Hashes()}
	for id := range s.logged {
		st.Logged = append(st.Logged, id)
	}
	for _, b := range s.batches {
		st.Batches = append(st.Batches, batchMark{Name: b.name, Bytes: b.bytes})
	}
	for id := range s.lost {
		st.Lost = append(st.Lost, id)
	}
	st.Disposed, st.Retiring, st.Retired = s.disp.disposed, s.disp.retiring, s.disp.retired
	b, err := json.Marshal(st)
	if err == nil {
		err = WriteReplace(s.statePath(), b, 0o600)
	}
	if err == nil {
		s.cache = treeState{Size: st.Size} // what Open found is no longer needed
	}
	if err != nil {
		// Derived state: the next open rebuilds it from the log.
		s.notes = append(s.notes, fmt.Sprintf("could not save the tree cache: %v", err))
	}
}

// appendPackRecord logs a pack and the blobs it holds (pack.added).
func (s *Store) appendPackRecord(id ID, entries []packEntry, adopted bool) error {
	pr := record.PackAdded{Pack: id, Adopted: adopted}
	for _, e := range entries {
		pr.Blobs = append(pr.Blobs, e.ID)
		pr.Size += int64(e.StoredLen)
	}
	sort.Slice(pr.Blobs, func(i, j int) bool { return bytes.Compare(pr.Blobs[i][:], pr.Blobs[j][:]) < 0 })
	_, err := s.appendLocked(record.TypePack, pr, nil)
	if err == nil {
		s.pendingPacks = append(s.pendingPacks, id)
	}
	return err
}

// readTiers are the read buffers PutBlob grows through, each from a pool
// of its own: most items (mail, contacts, events) fit the first, so a
// download in flight — there are hundreds at once — holds 16 KiB rather
// than a chunk. Content beyond the last is streamed in chunks.
var readTiers = [...]int{16 << 10, 256 << 10, ChunkSize}

var readPools [len(readTiers)]sync.Pool

func init() {
	for i, n := range readTiers {
		readPools[i].New = func() any { b := make([]byte, n); return &b }
	}
}

// PutBlob stores the content read from r and returns its Ref. Content is
// split into ChunkSize blobs; each is stored once however often it is put.
// Memory use is bounded by ChunkSize whatever the content's size. The blobs
// are durable once Flush returns.
func (s *Store) PutBlob(ctx context.Context, r io.Reader) (Ref, error) {
	const op = "store.PutBlob"
	if err := s.writable(op); err != nil {
		return Ref{}, err
	}
	tier := 0
	bp := readPools[0].Get().(*[]byte)
	defer func() { readPools[tier].Put(bp) }()
	n, eof := 0, false
	for {
		m, end, err := fill(r, (*bp)[n:])
		if err != nil {
			return Ref{}, holdfast.E(op, holdfast.IO, err, "read content")
		}
		n, eof = n+m, end
		if eof || tier == len(readTiers)-1 {
			break
		}
		next := readPools[tier+1].Get().(*[]byte)
		copy(*next, (*bp)[:n])
		readPools[tier].Put(bp)
		tier, bp = tier+1, next
	}
	if eof {
		return s.PutBytes(ctx, (*bp)[:n]) // content of one chunk at most
	}
	buf := *bp
	w := s.newRefWriter()
	for {
		m, eof, err := fill(r, buf[n:])
		if err != nil {
			// A reader that fails part-way (a dropped download) must never
			// yield a shorter content that looks whole.
			return Ref{}, holdfast.E(op, holdfast.IO, err, "read content")
		}
		n += m
		if n > 0 && (n == len(buf) || eof) {
			if err := w.add(ctx, buf[:n]); err != nil {
				return Ref{}, holdfast.E(op, err)
			}
			n = 0
		}
		if eof {
			break
		}
		if cerr := ctx.Err(); cerr != nil {
			return Ref{}, holdfast.E(op, cerr)
		}
	}
	return w.ref(), nil
}

// fill reads into buf until it is full or r ends. Unlike io.ReadFull it
// tells a clean end (io.EOF) from a reader's failure: an HTTP body cut
// short of its Content-Length reports io.ErrUnexpectedEOF, which is an
// error here, not the end of the content.
func fill(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// PutBytes stores b; it is PutBlob for content already in memory.
func (s *Store) PutBytes(ctx context.Context, b []byte) (Ref, error) {
	const op = "store.PutBytes"
	if err := s.writable(op); err != nil {
		return Ref{}, err
	}
	w := s.newRefWriter()
	if len(b) <= ChunkSize {
		w.whole = nil // one chunk: the content's hash is the blob's
	}
	for len(b) > 0 {
		n := min(len(b), ChunkSize)
		if err := w.add(ctx, b[:n]); err != nil {
			return Ref{}, holdfast.E(op, err)
		}
		b = b[n:]
	}
	return w.ref(), nil
}

// refWriter builds the Ref of content stored chunk by chunk.
type refWriter struct {
	s     *Store
	whole hash.Hash
	r     Ref
}

func (s *Store) newRefWriter() *refWriter { return &refWriter{s: s, whole: sha256.New()} }

func (w *refWriter) add(ctx context.Context, chunk []byte) error {
	if w.whole != nil {
		w.whole.Write(chunk)
	}
	id := ID(sha256.Sum256(chunk))
	w.r.Chunks = append(w.r.Chunks, id)
	w.r.Size += int64(len(chunk))
	if w.s.HasBlob(id) {
		return nil
	}
	// Compress and seal outside the lock so that concurrent writers use
	// every core; only the append to the open pack is serialised.
	stored := encodeBlob(nil, id, chunk, w.s.sealer)
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.addBlobLocked(ctx, id, len(chunk), stored, false)
}

func (w *refWriter) ref() Ref {
	r := w.r
	if len(r.Chunks) == 1 {
		r.SHA256 = r.Chunks[0] // one chunk: the content's hash is the blob's
		r.Chunks = nil
		return r
	}
	if len(r.Chunks) == 0 {
		r.SHA256, r.Chunks = sha256.Sum256(nil), nil // empty content: no blob at all
		return r
	}
	copy(r.SHA256[:], w.whole.Sum(nil))
	return r
}

// addBlobLocked adds a blob to the open pack, unless it is stored already
// or pending; force stores it even if stored (a retiring pack's blob being
// copied).
func (s *Store) addBlobLocked(ctx context.Context, id ID, rawLen int, stored []byte, force bool) error {
	if _, ok := s.index[id]; ok && !force {
		return nil
	}
	if _, ok := s.pendingBlob[id]; ok {
		return nil
	}
	if s.pack == nil {
		p, err := newOpenPack(s.localDir)
		if err != nil {
			return err
		}
		s.pack = p
	}
	off := s.pack.size
	if err := s.pack.write(stored); err != nil {
		return err
	}
	s.pendingBlob[id] = len(s.packEntries)
	s.packEntries = append(s.packEntries, packEntry{ID: id, RawLen: uint32(rawLen), StoredLen: uint32(len(stored)), Offset: uint32(off)})
	if s.pack.size >= PackSize {
		return s.writePackLocked(ctx)
	}
	return nil
}

// writePackLocked writes the open pack and queues its pack.added record.
func (s *Store) writePackLocked(ctx context.Context) error {
	if len(s.packEntries) == 0 {
		return nil
	}
	id, undo, err := s.pack.finish(encodeHeader(s.packEntries, s.sealer))
	if err != nil {
		return err
	}
	if err := s.mayWrite("write pack"); err != nil {
		return errors.Join(err, undo())
	}
	if err := s.pack.store(ctx, s.be, packName(id)); err != nil && !holdfast.Is(holdfast.Exist, err) {
		// The pack stays open, its blobs pending: the next flush tries
		// again.
		return errors.Join(err, undo())
	}
	s.pack.discard()
	s.pack = nil
	entries := s.packEntries
	s.addPack(id, entries)
	for _, e := range entries {
		delete(s.disp.disposed, e.ID) // captured again, if it was disposed of
	}
	s.packEntries = nil
	clear(s.pendingBlob)
	return s.appendPackRecord(id, entries, false)
}

// Append queues a record of type typ with data (marshalled to JSON) that
// references refs, and returns its index. The record is durable, and so
// acknowledged, once Flush returns.
func (s *Store) Append(ctx context.Context, typ string, data any, refs ...Ref) (uint64, error) {
	const op = "store.Append"
	if err := s.writable(op); err != nil {
		return 0, err
	}
	// Encode the data outside the lock; only numbering is serialised.
	raw, err := encodeData(data)
	if err != nil {
		return 0, holdfast.E(op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ref := range refs {
		for _, id := range ref.Blobs() {
			_, stored := s.index[id]
			_, pending := s.pendingBlob[id]
			if !stored && !pending {
				return 0, holdfast.Errorf(op, holdfast.Invalid, "record refers to blob %s, which is not stored", id.Short())
			}
		}
	}
	i, err := s.appendRawLocked(typ, raw, refs)
	if err != nil {
		return 0, holdfast.E(op, err)
	}
	if len(s.pending) >= flushRecordBytes {
		if err := s.flushLocked(ctx); err != nil {
			return 0, holdfast.E(op, err)
		}
	}
	return i, nil
}

// encodeData returns the canonical JSON of a record's data.
func encodeData(data any) (json.RawMessage, error) {
	var raw []byte
	switch d := data.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		raw = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil, holdfast.E("encode record data", holdfast.Invalid, err)
		}
		raw = b
	}
	c, err := record.Canonical(raw)
	if err != nil {
		return nil, holdfast.E("encode record data", holdfast.Invalid, err)
	}
	return c, nil
}

func (s *Store) appendLocked(typ string, data any, refs []Ref) (uint64, error) {
	raw, err := encodeData(data)
	if err != nil {
		return 0, err
	}
	return s.appendRawLocked(typ, raw, refs)
}

// appendRawLocked queues a record whose data is already canonical.
func (s *Store) appendRawLocked(typ string, data json.RawMessage, refs []Ref) (uint64, error) {
	i := s.size + uint64(len(s.pendingEnds))
	start := len(s.pending)
	b, err := record.AppendCanonicalData(s.pending, Record{Index: i, Type: typ, Time: s.now(), Refs: refs, Data: data})
	if err != nil {
		return 0, err
	}
	if n := len(b) - start; n > maxLineSize {
		return 0, holdfast.Errorf("encode record", holdfast.Invalid, "record of %d bytes exceeds the %d-byte limit", n, maxLineSize)
	}
	s.pending = append(b, '\n')
	s.pendingEnds = append(s.pendingEnds, len(s.pending))
	return i, nil
}

func (s *Store) writable(op string) error {
	if s.readOnly {
		return holdfast.Errorf(op, holdfast.Invalid, "the store is open read-only")
	}
	if s.damaged != "" && !(s.repair && s.repairable) {
		return holdfast.Errorf(op, holdfast.Integrity, "refusing to write: %s", s.damaged)
	}
	return s.mayWrite(op)
}

// mayWrite refuses once the writer is fenced off: another writer
// appended where it meant to, or its Fence (a lease about to lapse) says
// stop. Every write to the backend asks it first.
func (s *Store) mayWrite(op string) error {
	if why := s.fenced.Load(); why != nil {
		return holdfast.Errorf(op, holdfast.Locked, "%s: this writer stops writing the tenant (reopen it to go on from the log as it is)", *why)
	}
	if s.fence != nil {
		if err := s.fence(); err != nil {
			return holdfast.E(op, holdfast.Locked, err)
		}
	}
	return nil
}

// Flush makes every blob and record put so far durable: the open pack is
// written first, then the pending records as one log batch.
func (s *Store) Flush(ctx context.Context) error {
	const op = "store.Flush"
	if s.spool && s.damaged == "" {
		return nil // deposits are durable in the spool when Deposit returns
	}
	if err := s.writable(op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(ctx); err != nil {
		return holdfast.E(op, err)
	}
	return nil
}

func (s *Store) flushLocked(ctx context.Context) error {
	if err := s.writePackLocked(ctx); err != nil {
		return err
	}
	spooled, err := s.drainSpoolLocked(ctx)
	if err != nil {
		return err
	}
	if len(s.pendingEnds) == 0 {
		s.removeSpooled(spooled) // only deposits already in the log
		return nil
	}
	first := s.size
	last := first + uint64(len(s.pendingEnds)) - 1
	name := batchName(first)
	if err := s.mayWrite("flush"); err != nil {
		return err
	}
	if err := s.be.Put(ctx, name, s.pending); err != nil {
		if holdfast.Is(holdfast.Exist, err) {
			// Another writer appended at this place first: this one's view
			// of the log is stale (its lease lapsed, or it was never the
			// only writer). It stops; its pending records were never
			// acknowledged, and the log stays one.
			why := fmt.Sprintf("another writer appended record %d to the log first", first)
			s.fenced.Store(&why)
			return s.mayWrite("flush")
		}
		return err
	}
	start := 0
	for _, end := range s.pendingEnds {
		if err := s.tree.Append(LeafHash(s.pending[start:end-1]), nil); err != nil {
			return err
		}
		start = end
	}
	for _, id := range s.pendingPacks {
		s.logged[id] = true
	}
	s.pendingPacks = s.pendingPacks[:0]
	s.batches = append(s.batches, batch{first: first, last: last, name: name, bytes: int64(len(s.pending))})
	s.size = last + 1
	s.pending, s.pendingEnds = s.pending[:0], s.pendingEnds[:0]
	if cap(s.pending) > 2*flushRecordBytes {
		s.pending = nil // one large flush does not keep its buffer
	}
	s.saveTree()
	s.raiseHighWater()
	s.removeSpooled(spooled)
	return nil
}

func packName(id ID) string {
	h := id.String()
	return packPrefix + h[:2] + "/" + h
}

func packIDFromName(name string) (ID, error) {
	rest := strings.TrimPrefix(name, packPrefix)
	dir, file, ok := strings.Cut(rest, "/")
	if !ok || len(dir) != 2 {
		return ID{}, fmt.Errorf("not a pack name")
	}
	id, err := record.ParseID(file)
	if err != nil || !strings.HasPrefix(file, dir) {
		return ID{}, fmt.Errorf("not a pack name")
	}
	return id, nil
}

// batchName names the batch whose first record is first. The name holds
// nothing else, so that of two writers appending at the same place —
// a worker whose lease lapsed and the one that took the tenant over —
// exactly one can create it (If-None-Match on S3, a hard link on disk)
// and the other is fenced off (see flushLocked). Batches written before
// were named first-last; they are read as they are.
func batchName(first uint64) string {
	return fmt.Sprintf("%s%020d%s", logPrefix, first, logSuffix)
}

func parseBatchName(name string) (batch, error) {
	s := strings.TrimSuffix(strings.TrimPrefix(name, logPrefix), logSuffix)
	a, b, ranged := strings.Cut(s, "-")
	if len(a) != 20 || !strings.HasSuffix(name, logSuffix) || (ranged && len(b) != 20) {
		return batch{}, fmt.Errorf("not a log batch name")
	}
	first, err := strconv.ParseUint(a, 10, 64)
	if err != nil {
		return batch{}, fmt.Errorf("not a log batch name")
	}
	if !ranged {
		return batch{first: first, name: name, open: true}, nil
	}
	last, err := strconv.ParseUint(b, 10, 64)
	if err != nil || last < first {
		return batch{}, fmt.Errorf("not a log batch name")
	}
	return batch{first: first, last: last, name: name}, nil
}

// closeBatches gives each open batch but the last its last record: the
// one before the next batch's first. A next batch that does not start
// after it is left for the continuity checks to report (last = first, and
// the next one overlaps).
func closeBatches(bs []batch) {
	for i := range bs {
		if bs[i].open && i+1 < len(bs) {
			bs[i].last = max(bs[i].first, bs[i+1].first-1)
			bs[i].open, bs[i].fromNext = false, true
		}
	}
}

// countBatch counts the whole records of a batch; a cut last line is an
// Integrity error beside the count of those before it.
func countBatch(ctx context.Context, be Backend, name string) (uint64, error) {
	var n uint64
	err := eachLine(ctx, be, name, func([]byte) error { n++; return nil })
	return n, err
}

// scanRecords calls fn for each committed record with index in [from, to).
func (s *Store) scanRecords(ctx context.Context, from, to uint64, fn func(raw []byte, r Record) error) error {
	// The writer appends batches as it flushes (the index reads a running
	// backup's log beside it): read the list as it stands. Batches are
	// only ever appended, so the ones seen do not change.
	s.mu.Lock()
	batches := s.batches
	s.mu.Unlock()
	i := sort.Search(len(batches), func(i int) bool { return batches[i].last >= from })
	for ; i < len(batches) && batches[i].first < to; i++ {
		if err := readBatch(ctx, s.be, batches[i], from, to, fn); err != nil {
			return err
		}
	}
	return nil
}

// errStopBatch ends a batch read at the end of the range asked for.
var errStopBatch = errors.New("stop reading the batch")

// readBatch decodes the records of one batch with indexes in [from, to)
// and checks their indexes; lines before from are counted, not decoded,
// and reading stops at to. A batch read to its end must hold as many
// records as its name says.
func readBatch(ctx context.Context, be Backend, b batch, from, to uint64, fn func(raw []byte, r Record) error) error {
	want := b.first
	err := eachLine(ctx, be, b.name, func(raw []byte) error {
		if want < from {
			want++
			return nil
		}
		if want >= to {
			return errStopBatch
		}
		r, err := record.Decode(raw)
		if err != nil {
			return holdfast.E("read log", holdfast.Integrity, err, fmt.Sprintf("%s: record %d", b.name, want))
		}
		if r.Index != want {
			return holdfast.Errorf("read log", holdfast.Integrity, "%s: record %d says it is record %d", b.name, want, r.Index)
		}
		want++
		return fn(raw, r)
	})
	if errors.Is(err, errStopBatch) {
		return nil
	}
	if err != nil {
		return err
	}
	if want != b.last+1 {
		return holdfast.Errorf("read log", holdfast.Integrity, "%s holds %d records, its name says %d (truncated?)", b.name, want-b.first, b.last-b.first+1)
	}
	return nil
}

// eachLine streams a log batch and calls fn with each record's bytes
// (valid until fn returns). A final line without its newline is a cut
// record: an Integrity error.
func eachLine(ctx context.Context, be Backend, name string, fn func(line []byte) error) error {
	rc, err := be.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A record longer than the buffer: assemble it.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		if err == io.EOF {
			return holdfast.Errorf("read log", holdfast.Integrity, "%s ends with a partial record; run holdfast verify", name)
		}
		if err != nil {
			return holdfast.E("read log", holdfast.IO, err, name)
		}
		if err := fn(line[:len(line)-1]); err != nil {
			return err
		}
	}
}

// Scan calls fn with the canonical bytes of each committed record whose
// type is one of types, from index from on, in order. It skips other
// records without decoding them and does not re-check canonical form (Verify
// does), so consumers that rebuild state from the log pay only for the
// records they need.
func (s *Store) Scan(ctx context.Context, from uint64, types []string, fn func(raw []byte) error) error {
	s.mu.Lock()
	size := s.size
	batches := s.batches
	s.mu.Unlock()
	suffixes := make([][]byte, len(types))
	for i, t := range types {
		suffixes[i] = []byte(`"type":"` + t + `"}`)
	}
	i := sort.Search(len(batches), func(i int) bool { return batches[i].last >= from })
	for ; i < len(batches) && batches[i].first < size; i++ {
		b := batches[i]
		idx := b.first
		err := eachLine(ctx, s.be, b.name, func(line []byte) error {
			defer func() { idx++ }()
			if idx < from || idx >= size {
				return nil
			}
			for _, suf := range suffixes {
				if bytes.HasSuffix(line, suf) {
					return fn(line)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Records calls fn for each committed record from index from on, in order.
func (s *Store) Records(ctx context.Context, from uint64, fn func(raw []byte, r Record) error) error {
	s.mu.Lock()
	size := s.size
	s.mu.Unlock()
	return s.scanRecords(ctx, from, size, fn)
}

// Record returns committed record i and its canonical bytes.
func (s *Store) Record(ctx context.Context, i uint64) (Record, []byte, error) {
	var rec Record
	var raw []byte
	if i >= s.Size() {
		return rec, nil, holdfast.Errorf("store.Record", holdfast.NotFound, "record %d does not exist; the log holds %d records", i, s.Size())
	}
	err := s.scanRecords(ctx, i, i+1, func(b []byte, r Record) error {
		rec, raw = r, append([]byte(nil), b...)
		return nil
	})
	return rec, raw, err
}

// ReadBlob returns the plaintext of blob id, checked against its hash.
func (s *Store) ReadBlob(ctx context.Context, id ID) ([]byte, error) {
	const op = "store.ReadBlob"
	s.mu.Lock()
	if i, ok := s.pendingBlob[id]; ok {
		e := s.packEntries[i]
		stored := make([]byte, e.StoredLen)
		err := s.pack.readAt(stored, int64(e.Offset))
		s.mu.Unlock()
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		p, err := decodeBlob(stored, e, s.sealer)
		if err != nil {
			return nil, holdfast.E(op, holdfast.Integrity, err)
		}
		return p, nil
	}
	loc, ok := s.index[id]
	var pack ID
	if ok {
		pack = s.packs[loc.pack]
	}
	s.mu.Unlock()
	if !ok {
		if by, gone := s.Disposed(id); gone {
			return nil, holdfast.Errorf(op, holdfast.NotFound, "blob %s was disposed of (record %d)", id.Short(), by)
		}
		return nil, holdfast.Errorf(op, holdfast.NotFound, "blob %s is not stored", id.Short())
	}
	stored := make([]byte, loc.StoredLen)
	if err := s.be.ReadAt(ctx, packName(pack), stored, int64(loc.Offset)); err != nil {
		return nil, holdfast.E(op, err)
	}
	p, err := decodeBlob(stored, loc.packEntry, s.sealer)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, "pack "+pack.Short())
	}
	return p, nil
}

// ReadContent writes the content named by ref to w, checking every blob and
// the hash of the whole.
func (s *Store) ReadContent(ctx context.Context, ref Ref, w io.Writer) error {
	const op = "store.ReadContent"
	h := sha256.New()
	var n int64
	for _, id := range ref.Blobs() {
		p, err := s.ReadBlob(ctx, id)
		if err != nil {
			return holdfast.E(op, err)
		}
		h.Write(p)
		n += int64(len(p))
		if _, err := w.Write(p); err != nil {
			return holdfast.E(op, holdfast.IO, err)
		}
	}
	if n != ref.Size || !bytes.Equal(h.Sum(nil), ref.SHA256[:]) {
		return holdfast.Errorf(op, holdfast.Integrity, "content %s: read %d bytes whose hash does not match (want %d bytes)", ref.SHA256.Short(), n, ref.Size)
	}
	return nil
}

// HasBlob reports whether blob id is stored or pending.
func (s *Store) HasBlob(id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, a := s.index[id]
	_, b := s.pendingBlob[id]
	return a || b
}
