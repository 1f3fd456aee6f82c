// Package ediscovery writes and checks eDiscovery export packages: the
// natives of a case's items, a load file, a manifest with every file's
// SHA-256, and the chain of custody — the signed checkpoint and an
// inclusion proof for every exported item's record — so that anyone with
// the log's public key can check offline that the package holds exactly
// what was captured.
package ediscovery

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/index"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/restore"
	"github.com/holdfast/holdfast/store"
	"golang.org/x/mod/sumdb/note"
)

// Store is what an export reads.
type Store interface {
	restore.Log
	index.Log
	InclusionBundle(ctx context.Context, index, size uint64) (*store.Bundle, error)
	Size() uint64
}

// Documents extracts what the load file says of a captured version (the
// search index does: addresses, subject, dates, custodians, text).
type Documents interface {
	Document(ctx context.Context, lg index.Log, r store.Record) (*index.Doc, error)
}

// Meta describes an export.
type Meta struct {
	Case     string    `json:"case"`
	Query    string    `json:"query"`
	Actor    string    `json:"actor"`
	Created  time.Time `json:"created"`
	Tenant   string    `json:"tenant"`
	LoadFile string    `json:"load_file,omitempty"` // its format: csv or dat
}

// FileEntry is one file of the package.
type FileEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	DocID  string `json:"doc_id,omitempty"`
	Record uint64 `json:"record,omitempty"` // the item.version record the file comes from
	// Records are the records a file made from several comes from (a
	// Teams conversation and its transcript).
	Records []uint64 `json:"records,omitempty"`
	// Captured is set for files that are the captured content byte for
	// byte (.eml, original files, a Teams message's JSON): their SHA-256 is
	// the record's content hash. Other natives (.ics, .vcf, transcripts)
	// are derived from it.
	Captured bool `json:"captured,omitempty"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format     string      `json:"format"`
	Meta       Meta        `json:"export"`
	Checkpoint string      `json:"checkpoint"` // the signed note the proofs are against
	Items      int         `json:"items"`
	Disposed   int         `json:"disposed,omitempty"` // versions in scope disposed of: rows and proofs, no natives
	Files      []FileEntry `json:"files"`
}

const manifestFormat = "holdfast-ediscovery/v1"

// Result is an export's outcome.
type Result struct {
	Items    int    `json:"items"`
	Disposed int    `json:"disposed"` // versions disposed of: a row each, no native
	Rows     int    `json:"load_file_rows"`
	Files    int    `json:"files"`
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"package_sha256"`
	Out      string `json:"out"`
}

// Export writes the package of versions (item.version record indexes) to
// out, a new zip file.
//
// progress, if not nil, is told how many of the versions were read.
func Export(ctx context.Context, s Store, docs Documents, records []uint64, deleted map[uint64]bool, disposed map[uint64]string, meta Meta, out string, progress func(done, total int64)) (*Result, error) {
	const op = "export"
	if len(records) == 0 {
		return nil, holdfast.E(op, holdfast.Invalid, "nothing matches: an empty export is not written")
	}
	format, err := ParseFormat(meta.LoadFile)
	if err != nil {
		return nil, err
	}
	meta.LoadFile = format
	if _, err := os.Lstat(out); err == nil {
		return nil, holdfast.Errorf(op, holdfast.Exist, "%s exists; an export never overwrites", out)
	}
	var vs []restore.Version
	var gone []store.Record // disposed of: a row and a proof, no native
	byRecord := map[uint64]store.Record{}
	for _, idx := range records {
		r, _, err := s.Record(ctx, idx)
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		if _, ok := disposed[idx]; ok {
			gone = append(gone, r)
			continue
		}
		v, err := restore.VersionOf(r, deleted[idx])
		if err != nil {
			return nil, holdfast.E(op, err)
		}
		vs = append(vs, v)
		byRecord[idx] = r
	}
	// The natives, through restore's exporter (every byte through the
	// store's hash checks), into a scratch directory beside the package.
	scratch, err := os.MkdirTemp(filepath.Dir(out), ".holdfast-export-")
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	defer os.RemoveAll(scratch)
	ex, err := restore.Export(ctx, s, vs, filepath.Join(scratch, "natives"), restore.ExportOptions{Progress: progress})
	if err != nil {
		return nil, err
	}
	if len(ex.Failures) > 0 {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "%d items could not be exported: %s: %s", len(ex.Failures), ex.Failures[0].Item, ex.Failures[0].Reason)
	}
	size := s.Size()
	first, err := s.InclusionBundle(ctx, records[0], size)
	if err != nil {
		return nil, holdfast.E(op, err)
	}
	p := &packager{ctx: ctx, s: s, docs: docs, byRecord: byRecord, deleted: deleted,
		man: Manifest{Format: manifestFormat, Meta: meta, Checkpoint: first.Checkpoint, Items: len(vs), Disposed: len(gone)}, docOf: map[string]string{}, msgDoc: map[uint64]string{}, convRecords: map[string][]uint64{}}
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	defer os.Remove(tmp)
	pkgHash := sha256.New() // of the package as written
	p.zw = zip.NewWriter(io.MultiWriter(f, pkgHash))
	fail := func(err error) (*Result, error) {
		p.zw.Close()
		f.Close()
		return nil, holdfast.E(op, err)
	}
	// Natives and their rows, in the exporter's order (an item before its
	// attachments).
	for _, m := range ex.Manifest {
		data, err := os.ReadFile(filepath.Join(scratch, "natives", filepath.FromSlash(m.Path)))
		if err != nil {
			return fail(holdfast.E(op, holdfast.IO, err))
		}
		if err := p.native(m, data); err != nil {
			return fail(err)
		}
	}
	// Versions disposed of: a row that says so, never a silent gap.
	for _, r := range gone {
		if err := p.disposedRow(r, disposed[r.Index]); err != nil {
			return fail(err)
		}
	}
	// Proofs: one inclusion proof per record, against one checkpoint.
	for _, idx := range records {
		b, err := s.InclusionBundle(ctx, idx, size)
		if err != nil {
			return fail(err)
		}
		js, _ := json.MarshalIndent(b, "", "  ")
		if err := p.add(fmt.Sprintf("proofs/record-%d.json", idx), js, FileEntry{Record: idx}); err != nil {
			return fail(holdfast.E(op, holdfast.IO, err))
		}
	}
	load, err := encodeLoadFile(format, p.rows)
	if err != nil {
		return fail(err)
	}
	if err := p.add(LoadFileName(format), load, FileEntry{}); err != nil {
		return fail(holdfast.E(op, holdfast.IO, err))
	}
	if err := p.add("checkpoint.txt", []byte(p.man.Checkpoint), FileEntry{}); err != nil {
		return fail(holdfast.E(op, holdfast.IO, err))
	}
	mj, _ := json.MarshalIndent(p.man, "", "  ")
	w, err := p.zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: meta.Created})
	if err == nil {
		_, err = w.Write(mj)
	}
	if err == nil {
		err = p.zw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	// A hard link never replaces a file that appeared meanwhile.
	if err := os.Link(tmp, out); err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	return &Result{Items: len(vs), Disposed: len(gone), Rows: len(p.rows), Files: len(p.man.Files) + 1, Bytes: st.Size(), SHA256: hex.EncodeToString(pkgHash.Sum(nil)), Out: out}, nil
}

// packager writes the package's files, their manifest entries and the
// load file's rows.
type packager struct {
	ctx      context.Context
	s        Store
	docs     Documents
	byRecord map[uint64]store.Record
	deleted  map[uint64]bool
	zw       *zip.Writer
	man      Manifest
	rows     []Row
	docOf    map[string]string // native path → its row's DocID (for attachments' parents)
	msgDoc   map[uint64]string // a Teams message's record → its row's DocID (for its hosted contents)
	// convRecords are a conversation file's records, by its path (for the
	// transcript made from it).
	convRecords map[string][]uint64
}

// add writes one file and its manifest entry.
func (p *packager) add(name string, data []byte, e FileEntry) error {
	w, err := p.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: p.man.Meta.Created})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	e.Path, e.SHA256, e.Bytes = name, hex.EncodeToString(sum[:]), int64(len(data))
	p.man.Files = append(p.man.Files, e)
	return nil
}

func (p *packager) nextDocID() string { return fmt.Sprintf("HF%06d", len(p.rows)+1) }

// native adds one file the exporter wrote, with its row or rows.
func (p *packager) native(m restore.ManifestEntry, data []byte) error {
	name := "natives/" + m.Path
	switch {
	case len(m.Messages) > 0:
		return p.conversation(m, name, data)
	case m.DerivedFrom != "":
		// A transcript: a reading aid made from its conversation, no row.
		return p.add(name, data, FileEntry{Records: p.convRecords["natives/"+m.DerivedFrom]})
	}
	r := p.byRecord[m.Version]
	captured := len(r.Refs) > 0 && hex.EncodeToString(sha(data)) == r.Refs[0].SHA256.String()
	row, doc, err := p.row(r, name, data)
	if err != nil {
		return err
	}
	if m.Parent != "" {
		parent := p.docOf["natives/"+m.Parent]
		if parent == "" {
			parent = p.msgDoc[m.Version] // a hosted content: its message's row
		}
		row.ParentDocID = parent
		row.FileName = path.Base(m.Path)
		row.Subject, row.From, row.To, row.CC, row.BCC = "", "", "", "", ""
		p.family(parent, row.DocID)
	}
	if err := p.add(name, data, FileEntry{DocID: row.DocID, Record: m.Version, Captured: captured}); err != nil {
		return err
	}
	if m.Parent != "" {
		return nil // the parent's text holds its attachments' text
	}
	return p.text(row, doc)
}

// family sets the attachment range on every row of parent's family.
func (p *packager) family(parent, last string) {
	for i := range p.rows {
		r := &p.rows[i]
		if r.DocID == parent || r.ParentDocID == parent {
			r.BegAttach, r.EndAttach = parent, last
		}
	}
}

// conversation adds a Teams conversation file and, for each message in it,
// the message's captured JSON as its own native with its own row.
func (p *packager) conversation(m restore.ManifestEntry, name string, data []byte) error {
	var recs []uint64
	for _, mr := range m.Messages {
		recs = append(recs, mr.Version)
	}
	p.convRecords[name] = recs
	if err := p.add(name, data, FileEntry{Records: recs}); err != nil {
		return err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil || len(raws) != len(m.Messages) {
		return holdfast.Errorf("export", holdfast.Integrity, "%s: %d messages, its manifest names %d (%v)", m.Path, len(raws), len(m.Messages), err)
	}
	dir := strings.TrimSuffix(name, path.Ext(name))
	for i, mr := range m.Messages {
		r := p.byRecord[mr.Version]
		msg := []byte(raws[i])
		native := fmt.Sprintf("%s/%04d %s.json", dir, i+1, shortHash(mr.Item))
		row, doc, err := p.row(r, native, msg)
		if err != nil {
			return err
		}
		captured := len(r.Refs) > 0 && hex.EncodeToString(sha(msg)) == r.Refs[0].SHA256.String()
		p.msgDoc[mr.Version] = row.DocID
		if err := p.add(native, msg, FileEntry{DocID: row.DocID, Record: mr.Version, Captured: captured}); err != nil {
			return err
		}
		if err := p.text(row, doc); err != nil {
			return err
		}
	}
	return nil
}

// row builds and appends the load file row of one native.
func (p *packager) row(r store.Record, native string, data []byte) (*Row, *index.Doc, error) {
	doc, err := p.docs.Document(p.ctx, p.s, r)
	if err != nil {
		return nil, nil, err
	}
	md := md5.Sum(data)
	row := Row{DocID: p.nextDocID(), Custodian: strings.Join(doc.Custodians, "; "), Kind: doc.Kind,
		Subject: doc.Subject, MD5: hex.EncodeToString(md[:]), SHA256: hex.EncodeToString(sha(data)),
		NativePath: native, Record: r.Index, Deleted: p.deleted[r.Index], FileName: doc.Filename, Author: doc.Author}
	if doc.Kind == "email" && strings.HasSuffix(native, ".eml") {
		h := index.MailFields(data)
		row.From, row.To, row.CC, row.BCC, row.Subject = h.From, h.To, h.Cc, h.Bcc, h.Subject
	} else {
		row.From, row.To = people(doc.From), people(doc.To)
		row.CC, row.BCC = people(doc.Cc), people(doc.Bcc)
	}
	if row.Subject == "" {
		row.Subject = doc.Title
	}
	row.Sent, row.Received, row.Modified = date(doc.Sent), date(doc.Received), date(doc.Modified)
	if row.Sent == "" && row.Received == "" {
		row.Sent = date(doc.Date) // an event's start, a contact's change
	}
	if row.FileName == "" {
		row.FileName = path.Base(native)
	}
	p.rows = append(p.rows, row)
	p.docOf[native] = row.DocID
	return &p.rows[len(p.rows)-1], doc, nil
}

// disposedRow appends the load file row of a version whose content was
// disposed of: what its record says, and how it was disposed of.
func (p *packager) disposedRow(r store.Record, how string) error {
	doc, err := p.docs.Document(p.ctx, p.s, r)
	if err != nil {
		return err
	}
	row := Row{DocID: p.nextDocID(), Custodian: strings.Join(doc.Custodians, "; "), Kind: doc.Kind, Subject: doc.Title,
		From: people(doc.From), To: people(doc.To), CC: people(doc.Cc), BCC: people(doc.Bcc),
		Sent: date(doc.Sent), Received: date(doc.Received), Modified: date(doc.Modified),
		FileName: doc.Filename, Author: doc.Author, Record: r.Index, Deleted: p.deleted[r.Index], Disposed: how}
	p.rows = append(p.rows, row)
	return nil
}

// text writes a row's extracted text beside the natives.
func (p *packager) text(row *Row, doc *index.Doc) error {
	t := strings.TrimSpace(doc.Body + "\n" + doc.AttachmentText)
	if t == "" {
		return nil
	}
	row.TextPath = "text/" + row.DocID + ".txt"
	return p.add(row.TextPath, []byte(t+"\n"), FileEntry{DocID: row.DocID, Record: row.Record})
}

// people joins recipient tokens into one value: the index keeps an
// address, a display name and an alias per person; the load file shows
// the addresses, or the names where there is none.
func people(tokens []string) string {
	var addrs, names []string
	for _, t := range tokens {
		if strings.Contains(t, "@") {
			addrs = append(addrs, t)
		} else if strings.Contains(t, " ") {
			names = append(names, t)
		}
	}
	if len(addrs) > 0 {
		return strings.Join(dedupe(addrs), "; ")
	}
	return strings.Join(dedupe(names), "; ")
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if k := strings.ToLower(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// Problem is one thing wrong with a package.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Report is what Verify found.
type Report struct {
	Items  int    `json:"items"`
	Files  int    `json:"files"`
	Proofs int    `json:"proofs"`
	Size   uint64 `json:"checkpoint_size"`
	// Witnesses is how many of the trusted witnesses cosigned the
	// package's checkpoint (when witnesses were given).
	Witnesses int       `json:"witness_cosignatures,omitempty"`
	Problems  []Problem `json:"problems"`
}

// Limits that keep Verify bounded whatever the package holds.
const (
	maxManifestBytes = 64 << 20 // manifest.json
	maxSmallFile     = 4 << 20  // a proof, checkpoint.txt
	// expansionRatio bounds what a package may expand to: its size times
	// this, or minExpansion for small packages. Deflate compresses at most
	// about 1,000:1 (runs of zeros); natives rarely beyond 10:1.
	expansionRatio = 200
	minExpansion   = 256 << 20
)

// Verify checks a package offline with the log's verifier key: every file
// against the manifest, nothing extra or missing, every proof against the
// signed checkpoint, and every captured native against its record's hash.
// It streams: each entry is read no further than the size the manifest
// states, the package's total expansion is capped, and memory stays
// bounded however large or hostile the package.
func Verify(pkg string, v note.Verifier, wp store.WitnessPolicy) (*Report, error) {
	const op = "verify export"
	f, err := os.Open(pkg)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, pkg+" is not a readable zip")
	}
	budget := max(st.Size()*expansionRatio, minExpansion)
	rep := &Report{Problems: []Problem{}}
	byName := map[string]*zip.File{}
	var declared uint64
	for _, zf := range zr.File {
		declared += zf.UncompressedSize64
		if byName[zf.Name] != nil {
			rep.Problems = append(rep.Problems, Problem{zf.Name, "is in the package twice"})
		}
		byName[zf.Name] = zf
	}
	if declared > uint64(budget) {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "%s declares %d bytes of content in a %d-byte file, more than %d times its size: refusing to expand it (a zip bomb?)", pkg, declared, st.Size(), expansionRatio)
	}
	var expanded int64
	// open streams an entry, counting what it expands to against the budget.
	open := func(name string) (io.Reader, func(), error) {
		zf := byName[name]
		if zf == nil {
			return nil, nil, fmt.Errorf("not in the package")
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, nil, err
		}
		return &budgetReader{r: rc, n: &expanded, max: budget}, func() { rc.Close() }, nil
	}
	readSmall := func(name string, limit int64) ([]byte, error) {
		r, done, err := open(name)
		if err != nil {
			return nil, err
		}
		defer done()
		b, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err == nil && int64(len(b)) > limit {
			err = fmt.Errorf("larger than %d bytes", limit)
		}
		return b, err
	}
	mb, err := readSmall("manifest.json", maxManifestBytes)
	if errors.Is(err, errExpansion) {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "%s expands beyond %d bytes: refusing to go on (a zip bomb?)", pkg, budget)
	}
	var man Manifest
	if err != nil || json.Unmarshal(mb, &man) != nil || man.Format != manifestFormat {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "manifest.json is missing or not a %s manifest", manifestFormat)
	}
	rep.Items = man.Items
	listed := map[string]bool{"manifest.json": true}
	type proven struct {
		hasContent bool
		content    store.ID
	}
	records := map[uint64]proven{}
	// Every listed file: the size and hash the manifest states, streamed;
	// proofs are checked as they pass.
	for _, e := range man.Files {
		listed[e.Path] = true
		zf := byName[e.Path]
		if zf == nil {
			rep.Problems = append(rep.Problems, Problem{e.Path, "listed in the manifest but not in the package"})
			continue
		}
		if zf.UncompressedSize64 != uint64(e.Bytes) {
			rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("is %d bytes, the manifest says %d", zf.UncompressedSize64, e.Bytes)})
			continue
		}
		proof := strings.HasPrefix(e.Path, "proofs/")
		if proof && e.Bytes > maxSmallFile {
			rep.Problems = append(rep.Problems, Problem{e.Path, "is too large to be a proof"})
			continue
		}
		r, done, err := open(e.Path)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{e.Path, err.Error()})
			continue
		}
		h := sha256.New()
		var keep bytes.Buffer
		w := io.Writer(h)
		if proof {
			w = io.MultiWriter(h, &keep)
		}
		n, err := io.Copy(w, io.LimitReader(r, e.Bytes+1))
		done()
		switch {
		case errors.Is(err, errExpansion):
			return nil, holdfast.Errorf(op, holdfast.Integrity, "%s expands beyond %d bytes at %s: refusing to go on (a zip bomb?)", pkg, budget, e.Path)
		case err != nil:
			rep.Problems = append(rep.Problems, Problem{e.Path, err.Error()})
			continue
		case n != e.Bytes:
			rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("holds more or fewer than the %d bytes the manifest says", e.Bytes)})
			continue
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 {
			rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("SHA-256 %s, the manifest says %s", got, e.SHA256)})
			continue
		}
		rep.Files++
		if !proof {
			continue
		}
		b, err := store.ParseBundle(keep.Bytes())
		if err == nil && store.CheckpointBody(b.Checkpoint) != store.CheckpointBody(man.Checkpoint) {
			err = fmt.Errorf("proves against another checkpoint than the package's")
		}
		var res store.BundleResult
		if err == nil {
			res, err = store.VerifyBundle(b, v)
		}
		var rec store.Record
		if err == nil {
			rec, err = record.Decode([]byte(b.Record))
		}
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{e.Path, err.Error()})
			continue
		}
		p := proven{hasContent: len(rec.Refs) > 0}
		if p.hasContent {
			p.content = rec.Refs[0].SHA256
		}
		records[b.Index] = p
		rep.Proofs++
		rep.Size = res.Size
	}
	for name := range byName {
		if !listed[name] {
			rep.Problems = append(rep.Problems, Problem{name, "in the package but not in the manifest"})
		}
	}
	if ck, err := readSmall("checkpoint.txt", maxSmallFile); err != nil || string(ck) != man.Checkpoint {
		rep.Problems = append(rep.Problems, Problem{"checkpoint.txt", "differs from the manifest's checkpoint"})
	}
	if n, err := wp.Check([]byte(man.Checkpoint)); err != nil {
		rep.Problems = append(rep.Problems, Problem{"checkpoint.txt", err.Error()})
	} else {
		rep.Witnesses = n
	}
	// Every native and text comes from proven records; captured ones are
	// their record's bytes.
	for _, e := range man.Files {
		if !strings.HasPrefix(e.Path, "natives/") && !strings.HasPrefix(e.Path, "text/") {
			continue
		}
		recs := e.Records
		if len(recs) == 0 {
			recs = []uint64{e.Record}
		}
		for _, idx := range recs {
			r, ok := records[idx]
			switch {
			case !ok:
				rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("no valid inclusion proof for its record %d", idx)})
			case e.Captured && (!r.hasContent || r.content.String() != e.SHA256):
				rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("is not the content record %d captured", idx)})
			}
		}
	}
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Path < rep.Problems[j].Path })
	return rep, nil
}

// errExpansion stops a read that would expand the package beyond its budget.
var errExpansion = errors.New("the package expands beyond its budget")

// budgetReader counts the bytes read from every entry against one budget.
type budgetReader struct {
	r   io.Reader
	n   *int64
	max int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.n >= b.max {
		return 0, errExpansion
	}
	if rest := b.max - *b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	*b.n += int64(n)
	return n, err
}
