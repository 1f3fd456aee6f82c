package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/holdfast/holdfast/record"
	"golang.org/x/mod/sumdb/note"
)

// Failure is one thing Verify found wrong, naming the object; it is
// evidence (verify.run records the first ones), so record declares it.
type Failure = record.VerifyFailure

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// ReadDataPercent is the share of packs whose blob data is read and
	// re-hashed (0 or 100: all). Headers, the log and checkpoints are always
	// checked in full.
	ReadDataPercent float64
	// ExpectedKey, if set, is the verifier key the caller trusts; a
	// repository whose config names another key fails.
	ExpectedKey string
	// Progress is called with bytes read so far and the total to read.
	Progress func(done, total int64)
	// Held are checkpoints kept outside the repository (ParseHeldCheckpoints):
	// the log must reach each one's size and have its root there.
	Held []Expectation
	// Witnesses, if any, are the witnesses' verifiers (c2sp.org/tlog-
	// cosignature) the caller trusts: some checkpoint must carry
	// WitnessThreshold of their cosignatures (0: all of them), and the
	// newest such is reported.
	Witnesses        []note.Verifier
	WitnessThreshold int
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	OK          bool   `json:"ok"`
	Records     uint64 `json:"records"`
	Blobs       int    `json:"blobs"`
	Bytes       int64  `json:"bytes"` // plaintext bytes re-hashed
	Packs       int    `json:"packs"`
	PacksRead   int    `json:"packs_read"` // packs whose blob data was re-hashed
	Checkpoints int    `json:"checkpoints"`
	Held        int    `json:"held_checkpoints,omitempty"` // held elsewhere, checked against the log
	// Witnessed is the size of the newest checkpoint with the threshold of
	// cosignatures by the trusted witnesses (when witnesses were given).
	Witnessed uint64    `json:"witnessed_checkpoint,omitempty"`
	Failures  []Failure `json:"failures"`
	Notes     []string  `json:"notes,omitempty"`
}

const maxFailures = 1000

type verifier struct {
	s       *Store
	r       *VerifyReport
	opts    VerifyOptions
	omitted int
	// Content no pack holds is judged once the whole log is read: a later
	// repair record may have declared its pack lost.
	absent    []absentRef
	blobPack  map[ID]ID     // blob → the pack that added it, for blobs no pack holds
	lostPacks map[ID]uint64 // pack → the repair record that declared it lost
	disp      verifyDisposal
	done      int64
	total     int64
	buf       []byte
}

func (v *verifier) fail(object, format string, args ...any) {
	if len(v.r.Failures) >= maxFailures {
		v.omitted++
		return
	}
	v.r.Failures = append(v.r.Failures, Failure{Object: object, Problem: fmt.Sprintf(format, args...)})
}

func (v *verifier) progress(n int64) {
	v.done += n
	if v.opts.Progress != nil {
		v.opts.Progress(v.done, v.total)
	}
}

// Verify re-derives everything from the bytes in the backend, trusting no
// cache: it re-hashes packs and blobs, decodes every record, recomputes the
// Merkle tree, checks every checkpoint's signature and root (matching roots
// at each checkpoint imply that consecutive checkpoints are consistent), and
// checks that every reference in a record resolves to a sound blob, every
// pack the log names exists, and every checkpoint the log announces exists.
// A returned error means Verify itself could not run; damage is reported in
// the report, never as an error.
func (s *Store) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	v := &verifier{s: s, r: &VerifyReport{Failures: []Failure{}}, opts: opts, blobPack: map[ID]ID{}, lostPacks: map[ID]uint64{},
		disp: verifyDisposal{blobs: map[ID]uint64{}, again: map[ID]bool{}, completed: map[uint64]bool{}, retired: map[ID]uint64{}}}
	if opts.ExpectedKey != "" && opts.ExpectedKey != s.cfg.LogKey {
		v.fail(configName, "names log key %s, but the trusted key is %s", s.cfg.LogKey, opts.ExpectedKey)
	}
	// Listed newest-first in the order of writing (checkpoints after their
	// batch, batches after their packs), so that a writer in another
	// process cannot make a sound repository look damaged: every batch
	// listed finds its packs, every checkpoint listed finds its records.
	var ckSizes []uint64
	err := s.be.List(ctx, ckptPrefix, func(name string, _ int64) error {
		n, err := strconv.ParseUint(strings.TrimPrefix(name, ckptPrefix), 10, 64)
		if err != nil || name != checkpointName(n) {
			v.fail(name, "unexpected file in checkpoints/")
			return nil
		}
		ckSizes = append(ckSizes, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var logs []batch // every log batch, its last record from its name or the next batch's first
	err = s.be.List(ctx, logPrefix, func(name string, size int64) error {
		v.total += size
		b, err := parseBatchName(name)
		if err != nil {
			v.fail(name, "unexpected file in log/: %v", err)
			return nil
		}
		b.bytes = size
		logs = append(logs, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	closeBatches(logs)
	var packs []objectInfo
	err = s.be.List(ctx, packPrefix, func(name string, size int64) error {
		packs = append(packs, objectInfo{name, size})
		return nil
	})
	if err != nil {
		return nil, err
	}
	pct := opts.ReadDataPercent
	if pct <= 0 || pct > 100 {
		pct = 100
	}
	readData := make([]bool, len(packs))
	for i := range packs {
		readData[i] = pct >= 100 || rand.Float64()*100 < pct
	}
	if pct < 100 && len(packs) > 0 && !slices.Contains(readData, true) {
		readData[rand.IntN(len(packs))] = true // a subset is never nothing
	}
	for i, p := range packs {
		if readData[i] {
			v.total += p.size
			v.r.PacksRead++
		}
	}
	if pct < 100 {
		v.r.Notes = append(v.r.Notes, fmt.Sprintf("read the blob data of %d of %d packs (%.0f%%, chosen at random); headers, the log and checkpoints were checked in full", v.r.PacksRead, len(packs), pct))
	}

	// 1. Packs: the file's hash is its name; every blob decodes to its id.
	good := map[ID]bool{}      // blob → sound (false: damaged)
	present := map[ID]string{} // pack id → name, for packs on storage
	for i, p := range packs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, err := packIDFromName(p.name)
		if err != nil {
			v.fail(p.name, "unexpected file in packs/: %v", err)
			continue
		}
		present[id] = p.name
		v.r.Packs++
		v.checkPack(ctx, id, p.name, p.size, readData[i], good)
	}

	// 2. The log: continuity, canonical records, references, tree roots.
	roots := map[uint64][]byte{} // checkpoint size → recomputed root
	want := map[uint64]bool{}
	for _, n := range ckSizes {
		want[n] = true
	}
	expected := append(s.expectations(), opts.Held...)
	rootAt := map[uint64]bool{} // sizes whose root is needed
	for _, n := range ckSizes {
		rootAt[n] = true
	}
	for _, e := range expected {
		rootAt[e.Size] = true
	}
	announced := map[uint64]uint64{} // checkpoint size → announcing record
	packRecords := map[ID]uint64{}   // pack → record that added it
	tree := rangeFactory.NewEmptyRange(0)
	treeOK := true // tree covers exactly records [0, next)
	var next uint64
	for i := range logs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := logs[i]
		l := objectInfo{b.name, b.bytes}
		switch {
		case b.first > next:
			v.fail(l.name, "records %d to %d are missing: no log batch holds them", next, b.first-1)
			treeOK = false
		case b.first < next:
			v.fail(l.name, "overlaps the batch before it (starts at record %d, expected %d)", b.first, next)
			treeOK = false
		}
		var count uint64
		rerr := v.readLog(ctx, l.name, l.size, func(raw []byte, lineNo uint64) {
			idx := b.first + lineNo
			count++
			r, err := record.Decode(raw)
			switch {
			case err != nil:
				v.fail(l.name, "record %d (line %d): %v", idx, lineNo+1, err)
			case r.Index != idx:
				v.fail(l.name, "line %d holds record %d, expected record %d", lineNo+1, r.Index, idx)
			default:
				v.checkRecord(r, good, announced, packRecords)
			}
			if treeOK {
				_ = tree.Append(LeafHash(raw), nil)
				if rootAt[tree.End()] {
					roots[tree.End()], _ = tree.GetRootHash(nil)
				}
			}
		})
		if rerr != nil {
			v.fail(l.name, "cannot be read: %v", rerr)
		}
		if b.open { // the newest, named by its first record only: it holds what it holds
			if count == 0 {
				v.fail(l.name, "holds no whole record")
				continue
			}
			b.last, logs[i].last = b.first+count-1, b.first+count-1
		}
		if n := b.last - b.first + 1; count != n {
			say := "its name says"
			if b.fromNext {
				say = "the next batch's first record says"
			}
			v.fail(l.name, "holds %d whole records, %s %d: the batch was truncated or altered", count, say, n)
			treeOK = false
		}
		next = b.last + 1
	}
	v.r.Records = next

	// 3. Checkpoints: signature, origin, size, root.
	lastGood := uint64(0) // size of the newest checkpoint whose root matched
	read := map[uint64]Checkpoint{}
	for _, n := range ckSizes {
		name := checkpointName(n)
		v.r.Checkpoints++
		msg, err := readAll(ctx, s.be, name, 64<<10)
		if err != nil {
			v.fail(name, "cannot be read: %v", err)
			continue
		}
		c, err := ParseCheckpoint(msg, s.verifier)
		if err != nil {
			v.fail(name, "%v", err)
			continue
		}
		read[n] = c
		switch {
		case c.Origin != s.cfg.Origin:
			v.fail(name, "is for log %q, not this tenant's log %q", c.Origin, s.cfg.Origin)
		case c.Size != n:
			v.fail(name, "says size %d, but its name says %d", c.Size, n)
		case roots[n] == nil && n > next:
			v.fail(name, "commits to %d records, but the log holds only %d: records were removed", n, v.r.Records)
		case roots[n] == nil:
			v.fail(name, "its root cannot be recomputed because the log before it is damaged")
		case !bytes.Equal(roots[n], c.Root):
			v.fail(name, "root hash does not match the log's first %d records: a record from %d to %d was altered (in %s)", n, lastGood, n-1, strings.Join(v.batchesBetween(logs, lastGood, n), ", "))
		default:
			lastGood = n
		}
	}
	v.witnesses(ctx, ckSizes, read, lastGood)
	// 4. What is known of the log from outside it: this machine's records
	// of its length, checkpoints held by others.
	for _, e := range expected {
		switch {
		case e.Origin != "" && e.Origin != s.cfg.Origin:
			v.fail(e.Source, "is a checkpoint of log %q, not of this tenant's log %q", e.Origin, s.cfg.Origin)
		case e.Size > next:
			v.fail(e.Source, "%s", e.missing(next))
		case e.Root == nil || e.Size == 0:
		case roots[e.Size] == nil:
			v.fail(e.Source, "the log's root at size %d cannot be recomputed because the log before it is damaged", e.Size)
		case !bytes.Equal(roots[e.Size], e.Root):
			v.fail(e.Source, "%s", e.forked(roots[e.Size]))
		}
		if e.Origin != "" {
			v.r.Held++
		}
	}
	for size, rec := range announced {
		if !want[size] {
			if _, err := s.be.Size(ctx, checkpointName(size)); err == nil {
				continue // issued by a writer after the listing
			}
			v.fail(checkpointName(size), "is missing: record %d announced it", rec)
		}
	}
	for id, rec := range packRecords {
		if _, ok := present[id]; !ok {
			if by, lost := v.lostPacks[id]; lost {
				v.r.Notes = append(v.r.Notes, fmt.Sprintf("%s is gone: repair record %d accounts for it", packName(id), by))
				continue
			}
			if _, retired := v.disp.retired[id]; retired {
				v.disp.removed++
				continue
			}
			v.fail(packName(id), "is missing: record %d added it to the repository", rec)
		}
	}
	for _, a := range v.absent {
		if by, gone := v.disp.blobs[a.blob]; gone {
			v.disp.absent++
			if v.disp.absent <= 3 {
				v.r.Notes = append(v.r.Notes, fmt.Sprintf("%s: content %s was disposed of by record %d", a.object, a.blob.Short(), by))
			}
			continue
		}
		pack, named := v.blobPack[a.blob]
		if by, lost := v.lostPacks[pack]; named && lost {
			v.fail(a.object, "content %s is lost for good: it was in pack %s, which repair record %d found gone and could not fetch again", a.blob.Short(), pack.Short(), by)
			continue
		}
		v.fail(a.object, "references blob %s, which no pack holds", a.blob.Short())
	}
	v.disposalFindings(present, good)
	var unheld []ID // blobs a present pack's record names but no pack holds, in a stable order
	for id, pack := range v.blobPack {
		if _, lost := v.lostPacks[pack]; !lost {
			if _, ok := present[pack]; ok {
				unheld = append(unheld, id)
			}
		}
	}
	slices.SortFunc(unheld, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range unheld {
		v.fail(packName(v.blobPack[id]), "its record names blob %s, but no pack holds it", id.Short())
	}
	for id, name := range present {
		if _, ok := packRecords[id]; !ok {
			v.r.Notes = append(v.r.Notes, fmt.Sprintf("%s is not named in the log yet (written by a run that was interrupted; the next write records it)", name))
		}
	}
	if v.omitted > 0 {
		v.r.Failures = append(v.r.Failures, Failure{Object: "verify", Problem: fmt.Sprintf("%d further failures not listed", v.omitted)})
	}
	v.r.OK = len(v.r.Failures) == 0
	return v.r, nil
}

// witnesses finds the newest checkpoint the trusted witnesses cosigned,
// enough of them; a cosignature by a trusted witness that does not verify
// is a failure.
func (v *verifier) witnesses(ctx context.Context, sizes []uint64, read map[uint64]Checkpoint, lastGood uint64) {
	p := WitnessPolicy{Witnesses: v.opts.Witnesses, Threshold: v.opts.WitnessThreshold}
	if len(p.Witnesses) == 0 {
		return
	}
	newest := uint64(0)
	for _, n := range sizes {
		newest = max(newest, n)
		c, ok := read[n]
		if !ok {
			continue // the checkpoint's own failure is reported above
		}
		msg, err := v.s.withLines(ctx, c)
		if err != nil {
			continue
		}
		_, err = p.Check(msg)
		var bad *BadCosignatureError
		if errors.As(err, &bad) {
			v.fail(fmt.Sprintf("%s%020d", cosigPrefix, n), "%v", bad)
			continue
		}
		if err == nil && n > v.r.Witnessed && n <= lastGood {
			v.r.Witnessed = n
		}
	}
	switch {
	case v.r.Witnessed == 0:
		v.fail("cosignatures", "no checkpoint of this log carries %d of the %d given witnesses' cosignatures", p.Required(), len(p.Witnesses))
	case v.r.Witnessed < newest:
		v.r.Notes = append(v.r.Notes, fmt.Sprintf("checkpoint %d is the newest with %d of the given witnesses' cosignatures; the checkpoints after it, up to %d, are not yet cosigned by enough of them", v.r.Witnessed, p.Required(), newest))
	}
}

// batchesBetween names the log batches that hold records [from, to).
func (v *verifier) batchesBetween(logs []batch, from, to uint64) []string {
	var names []string
	for _, b := range logs {
		if b.last >= from && b.first < to {
			names = append(names, b.name)
		}
	}
	return names
}

// absentRef is a record's reference to a blob no pack holds.
// verifyDisposal is what verify learns of disposals from the log.
type verifyDisposal struct {
	blobs     map[ID]uint64 // blob → the disposal.executed record that disposed of it
	again     map[ID]bool   // disposed blobs a later record references: captured again
	completed map[uint64]bool
	retired   map[ID]uint64 // pack → the disposal.completed record that retired it
	versions  int
	absent    int // references to disposed content (not damage)
	removed   int // retired packs that are gone (not damage)
}

// disposalFindings reports what disposals left: a summary, retired packs
// still present, and disposed content still stored once its disposal
// completed (the disposal did not remove it).
func (v *verifier) disposalFindings(present map[ID]string, good map[ID]bool) {
	d := &v.disp
	if len(d.blobs) == 0 && len(d.retired) == 0 {
		return
	}
	v.r.Notes = append(v.r.Notes, fmt.Sprintf("disposals: %d item versions disposed of, %d references to their content (disposed, not damage), %d retired packs removed", d.versions, d.absent, d.removed))
	retiredLeft := 0
	for id := range d.retired {
		if _, ok := present[id]; ok {
			retiredLeft++
		}
	}
	if retiredLeft > 0 {
		v.r.Notes = append(v.r.Notes, fmt.Sprintf("%d retired pack(s) still present: the next holdfast disposal execute removes them", retiredLeft))
		return // disposed content may still be in them
	}
	var kept []ID
	for id, by := range d.blobs {
		if d.completed[by] && good[id] && !d.again[id] {
			kept = append(kept, id)
		}
	}
	slices.SortFunc(kept, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range kept {
		v.fail("blob "+id.Short(), "was disposed of by record %d, but a pack still holds it", d.blobs[id])
	}
}

type absentRef struct {
	object string
	blob   ID
}

type objectInfo struct {
	name string
	size int64
}

func (v *verifier) checkPack(ctx context.Context, id ID, name string, size int64, readData bool, good map[ID]bool) {
	if !readData {
		entries, err := v.s.readPackHeader(ctx, name, size)
		if err != nil {
			v.fail(name, "header: %v", err)
			return
		}
		for _, e := range entries {
			if _, seen := good[e.ID]; !seen {
				good[e.ID] = true
			}
			v.r.Blobs++
		}
		return
	}
	data, err := v.readObject(ctx, name, size)
	v.progress(int64(len(data)))
	if err != nil {
		v.fail(name, "cannot be read: %v", err)
		return
	}
	if sha256.Sum256(data) != id {
		v.fail(name, "file hash does not match its name: the pack was altered")
	}
	if len(data) < packTrailerSize {
		v.fail(name, "is %d bytes, too short for a pack", len(data))
		return
	}
	hl, err := parseTrailer(data[len(data)-packTrailerSize:], int64(len(data)))
	if err != nil {
		v.fail(name, "%v", err)
		return
	}
	dataLen := int64(len(data)) - packTrailerSize - hl
	entries, err := parseHeader(data[dataLen:int64(len(data))-packTrailerSize], dataLen, v.s.sealer)
	if err != nil {
		v.fail(name, "%v", err)
		return
	}
	// Decompress and re-hash the blobs on every core.
	errs := make([]error, len(entries))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf []byte
			for i := w; i < len(entries); i += workers {
				e := entries[i]
				buf, errs[i] = decodeBlobInto(buf[:0], data[e.Offset:e.Offset+e.StoredLen], e, v.s.sealer)
			}
		}(w)
	}
	wg.Wait()
	for i, e := range entries {
		v.r.Blobs++
		if errs[i] != nil {
			v.fail(name, "%v", errs[i])
			if _, seen := good[e.ID]; !seen {
				good[e.ID] = false
			}
			continue
		}
		v.r.Bytes += int64(e.RawLen)
		good[e.ID] = true
	}
}

// readObject reads a whole object of known size into the verifier's
// reusable buffer; the result is valid until the next call.
func (v *verifier) readObject(ctx context.Context, name string, size int64) ([]byte, error) {
	if size > 1<<30 {
		return nil, fmt.Errorf("%d bytes is larger than any object holdfast writes", size)
	}
	if int64(cap(v.buf)) < size {
		v.buf = make([]byte, size)
	}
	b := v.buf[:size]
	rc, err := v.s.be.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return b[:n], nil // shorter than listed: the checks that follow say what is wrong
	}
	return b, err
}

func (v *verifier) checkRecord(r Record, good map[ID]bool, announced map[uint64]uint64, packRecords map[ID]uint64) {
	obj := fmt.Sprintf("record %d (%s)", r.Index, r.Type)
	for _, ref := range r.Refs {
		blobs := ref.Blobs()
		if len(ref.Chunks) == 1 || (len(ref.Chunks) == 0 && ref.Size > ChunkSize) {
			v.fail(obj, "content %s: malformed chunk list", ref.SHA256.Short())
		}
		for _, id := range blobs {
			if by, ok := v.disp.blobs[id]; ok && r.Index > by {
				v.disp.again[id] = true // captured again after it was disposed of
			}
			ok, seen := good[id]
			switch {
			case !seen:
				v.absent = append(v.absent, absentRef{obj, id})
			case !ok:
				v.fail(obj, "references blob %s, which is damaged", id.Short())
			}
		}
	}
	switch r.Type {
	case record.TypePack:
		var d record.PackAdded
		if err := json.Unmarshal(r.Data, &d); err != nil {
			v.fail(obj, "malformed data: %v", err)
			return
		}
		packRecords[d.Pack] = r.Index
		for _, id := range d.Blobs {
			if _, seen := good[id]; !seen {
				v.blobPack[id] = d.Pack
			}
		}
	case record.TypeRepair:
		var d RepairRecord
		if err := json.Unmarshal(r.Data, &d); err != nil {
			v.fail(obj, "malformed data: %v", err)
			return
		}
		for _, id := range d.LostPacks {
			v.lostPacks[id] = r.Index
		}
	case record.TypeDisposalExecuted:
		var d record.DisposalExecuted
		if err := json.Unmarshal(r.Data, &d); err != nil {
			v.fail(obj, "malformed data: %v", err)
			return
		}
		for _, id := range d.Blobs {
			v.disp.blobs[id] = r.Index
		}
		v.disp.versions += len(d.Versions)
	case record.TypeDisposalDone:
		var d record.DisposalCompleted
		if err := json.Unmarshal(r.Data, &d); err != nil {
			v.fail(obj, "malformed data: %v", err)
			return
		}
		v.disp.completed[d.Execution] = true
		for _, id := range d.Retired {
			v.disp.retired[id] = r.Index
		}
	case record.TypeCheckpoint:
		var d record.CheckpointIssued
		if err := json.Unmarshal(r.Data, &d); err != nil || d.Size != r.Index+1 {
			v.fail(obj, "malformed checkpoint announcement")
			return
		}
		announced[d.Size] = r.Index
	}
}

// readLog calls fn for each line of a log batch.
func (v *verifier) readLog(ctx context.Context, name string, size int64, fn func(raw []byte, line uint64)) error {
	data, err := v.readObject(ctx, name, size)
	v.progress(size)
	if err != nil {
		return err
	}
	var line uint64
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// A final line without its newline is a torn or cut record.
			v.fail(name, "ends with %d bytes that are not a whole record (the file was truncated)", len(data))
			return nil
		}
		fn(data[:i], line)
		line++
		data = data[i+1:]
	}
	return nil
}

func readAll(ctx context.Context, be Backend, name string, limit int64) ([]byte, error) {
	rc, err := be.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}
