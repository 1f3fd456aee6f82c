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
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
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

// Meta describes an export.
type Meta struct {
	Case    string    `json:"case"`
	Query   string    `json:"query"`
	Actor   string    `json:"actor"`
	Created time.Time `json:"created"`
	Tenant  string    `json:"tenant"`
}

// FileEntry is one file of the package.
type FileEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	DocID  string `json:"doc_id,omitempty"`
	Record uint64 `json:"record,omitempty"` // the item.version record the file comes from
	// Captured is set for files that are the captured content byte for
	// byte (.eml, original files): their SHA-256 is the record's content
	// hash. Other natives (.ics, .vcf, transcripts) are derived from it.
	Captured bool `json:"captured,omitempty"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format     string      `json:"format"`
	Meta       Meta        `json:"export"`
	Checkpoint string      `json:"checkpoint"` // the signed note the proofs are against
	Items      int         `json:"items"`
	Files      []FileEntry `json:"files"`
}

const manifestFormat = "holdfast-ediscovery/v1"

// Result is an export's outcome.
type Result struct {
	Items  int    `json:"items"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"package_sha256"`
	Out    string `json:"out"`
}

// Export writes the package of versions (item.version record indexes) to
// out, a new zip file.
func Export(ctx context.Context, s Store, records []uint64, deleted map[uint64]bool, meta Meta, out string) (*Result, error) {
	const op = "export"
	if len(records) == 0 {
		return nil, holdfast.E(op, holdfast.Invalid, "nothing matches: an empty export is not written")
	}
	if _, err := os.Lstat(out); err == nil {
		return nil, holdfast.Errorf(op, holdfast.Exist, "%s exists; an export never overwrites", out)
	}
	var vs []restore.Version
	byRecord := map[uint64]store.Record{}
	for _, idx := range records {
		r, _, err := s.Record(ctx, idx)
		if err != nil {
			return nil, holdfast.E(op, err)
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
	ex, err := restore.Export(ctx, s, vs, filepath.Join(scratch, "natives"), false)
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
	man := Manifest{Format: manifestFormat, Meta: meta, Checkpoint: first.Checkpoint, Items: len(vs)}
	docIDs := map[uint64]string{}
	for i, v := range vs {
		docIDs[v.Record] = fmt.Sprintf("HF%06d", i+1)
	}
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	defer os.Remove(tmp)
	pkgHash := sha256.New() // of the package as written
	zw := zip.NewWriter(io.MultiWriter(f, pkgHash))
	add := func(name string, data []byte, e FileEntry) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: meta.Created})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		e.Path, e.SHA256, e.Bytes = name, hex.EncodeToString(sum[:]), int64(len(data))
		man.Files = append(man.Files, e)
		return nil
	}
	// Natives.
	var load bytes.Buffer
	cw := csv.NewWriter(&load)
	cw.Write([]string{"DocID", "Custodian", "Kind", "Path", "SHA256", "From", "To", "Subject", "Sent", "Filename", "Author", "Modified", "Record", "Deleted"})
	sort.Slice(ex.Manifest, func(i, j int) bool { return ex.Manifest[i].Path < ex.Manifest[j].Path })
	for _, m := range ex.Manifest {
		data, err := os.ReadFile(filepath.Join(scratch, "natives", filepath.FromSlash(m.Path)))
		if err != nil {
			zw.Close()
			f.Close()
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		r := byRecord[m.Version]
		captured := len(r.Refs) > 0 && hex.EncodeToString(sha(data)) == r.Refs[0].SHA256.String()
		name := "natives/" + m.Path
		if err := add(name, data, FileEntry{DocID: docIDs[m.Version], Record: m.Version, Captured: captured}); err != nil {
			zw.Close()
			f.Close()
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		cw.Write(loadRow(docIDs[m.Version], name, man.Files[len(man.Files)-1].SHA256, m.Version, r, data, deleted[m.Version]))
	}
	cw.Flush()
	// Proofs: one inclusion proof per record, against one checkpoint.
	for _, v := range vs {
		b, err := s.InclusionBundle(ctx, v.Record, size)
		if err != nil {
			zw.Close()
			f.Close()
			return nil, holdfast.E(op, err)
		}
		js, _ := json.MarshalIndent(b, "", "  ")
		if err := add(fmt.Sprintf("proofs/record-%d.json", v.Record), js, FileEntry{DocID: docIDs[v.Record], Record: v.Record}); err != nil {
			zw.Close()
			f.Close()
			return nil, holdfast.E(op, holdfast.IO, err)
		}
	}
	if err := add("loadfile.csv", load.Bytes(), FileEntry{}); err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	if err := add("checkpoint.txt", []byte(man.Checkpoint), FileEntry{}); err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	mj, _ := json.MarshalIndent(man, "", "  ")
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: meta.Created})
	if err == nil {
		_, err = w.Write(mj)
	}
	if err == nil {
		err = zw.Close()
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
	res := &Result{Items: len(vs), Files: len(man.Files) + 1, Bytes: st.Size(), SHA256: hex.EncodeToString(pkgHash.Sum(nil)), Out: out}
	return res, nil
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// loadRow is one line of the load file: the fields of the kind of item.
func loadRow(docID, name, sum string, record uint64, r store.Record, data []byte, deleted bool) []string {
	var d struct {
		Account  string `json:"account"`
		Workload string `json:"workload"`
		File     *struct {
			Name       string    `json:"name"`
			CreatedBy  string    `json:"created_by"`
			ModifiedBy string    `json:"modified_by"`
			Modified   time.Time `json:"modified"`
		} `json:"file"`
	}
	json.Unmarshal(r.Data, &d)
	row := []string{docID, d.Account, d.Workload, name, sum, "", "", "", "", "", "", "", fmt.Sprint(record), fmt.Sprint(deleted)}
	switch {
	case d.Workload == "mail" && strings.HasSuffix(name, ".eml"):
		doc := index.MailFields(data)
		row[5], row[6], row[7] = doc.From, doc.To, doc.Subject
		if !doc.Sent.IsZero() {
			row[8] = doc.Sent.Format(time.RFC3339)
		}
	case d.File != nil:
		row[9], row[10] = d.File.Name, d.File.CreatedBy
		if !d.File.Modified.IsZero() {
			row[11] = d.File.Modified.UTC().Format(time.RFC3339)
		}
	default:
		row[9] = path.Base(name)
	}
	return row
}

// Problem is one thing wrong with a package.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Report is what Verify found.
type Report struct {
	Items    int       `json:"items"`
	Files    int       `json:"files"`
	Proofs   int       `json:"proofs"`
	Size     uint64    `json:"checkpoint_size"`
	Problems []Problem `json:"problems"`
}

// Verify checks a package offline with the log's verifier key: every file
// against the manifest, nothing extra or missing, every proof against the
// signed checkpoint, and every captured native against its record's hash.
func Verify(pkg string, v note.Verifier) (*Report, error) {
	const op = "verify export"
	zr, err := zip.OpenReader(pkg)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Integrity, err, pkg+" is not a readable zip")
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, holdfast.E(op, holdfast.Integrity, err, f.Name)
		}
		data, err := io.ReadAll(io.LimitReader(rc, 1<<31))
		rc.Close()
		if err != nil {
			return nil, holdfast.E(op, holdfast.Integrity, err, f.Name)
		}
		files[f.Name] = data
	}
	var man Manifest
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil || man.Format != manifestFormat {
		return nil, holdfast.Errorf(op, holdfast.Integrity, "manifest.json is missing or not a %s manifest", manifestFormat)
	}
	rep := &Report{Items: man.Items, Problems: []Problem{}}
	listed := map[string]bool{"manifest.json": true}
	records := map[uint64]store.Record{}
	for _, e := range man.Files {
		listed[e.Path] = true
		data, ok := files[e.Path]
		if !ok {
			rep.Problems = append(rep.Problems, Problem{e.Path, "listed in the manifest but not in the package"})
			continue
		}
		if got := hex.EncodeToString(sha(data)); got != e.SHA256 {
			rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("SHA-256 %s, the manifest says %s", got, e.SHA256)})
			continue
		}
		rep.Files++
		if strings.HasPrefix(e.Path, "proofs/") {
			b, err := store.ParseBundle(data)
			if err == nil && b.Checkpoint != man.Checkpoint {
				err = fmt.Errorf("proves against another checkpoint than the package's")
			}
			var res store.BundleResult
			if err == nil {
				res, err = store.VerifyBundle(b, v)
			}
			if err != nil {
				rep.Problems = append(rep.Problems, Problem{e.Path, err.Error()})
				continue
			}
			r, err := store.DecodeRecord([]byte(b.Record))
			if err != nil {
				rep.Problems = append(rep.Problems, Problem{e.Path, err.Error()})
				continue
			}
			r.Index = b.Index
			records[b.Index] = r
			rep.Proofs++
			rep.Size = res.Size
		}
	}
	for name := range files {
		if !listed[name] {
			rep.Problems = append(rep.Problems, Problem{name, "in the package but not in the manifest"})
		}
	}
	if string(files["checkpoint.txt"]) != man.Checkpoint {
		rep.Problems = append(rep.Problems, Problem{"checkpoint.txt", "differs from the manifest's checkpoint"})
	}
	// Every native comes from a proven record; captured ones are its bytes.
	for _, e := range man.Files {
		if !strings.HasPrefix(e.Path, "natives/") {
			continue
		}
		r, ok := records[e.Record]
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("no valid inclusion proof for its record %d", e.Record)})
		case e.Captured && (len(r.Refs) == 0 || r.Refs[0].SHA256.String() != e.SHA256):
			rep.Problems = append(rep.Problems, Problem{e.Path, fmt.Sprintf("is not the content record %d captured", e.Record)})
		}
	}
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Path < rep.Problems[j].Path })
	return rep, nil
}
