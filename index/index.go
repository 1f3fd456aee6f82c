// Package index is the tenant's full-text index for legal hold and
// eDiscovery: one Bleve document per captured item version (tombstoned ones
// included), searched in the KQL of Microsoft Purview. It is derived data:
// Update catches it up from the store's log, and a rebuild recreates it
// from the store alone.
package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	bleveindex "github.com/blevesearch/bleve_index_api"
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/record"
	"github.com/holdfast/holdfast/store"
)

// Log is what the index reads from the store.
type Log interface {
	Records(ctx context.Context, from uint64, fn func(raw []byte, r store.Record) error) error
	Record(ctx context.Context, i uint64) (store.Record, []byte, error)
	ReadContent(ctx context.Context, ref store.Ref, w io.Writer) error
}

// Index is a tenant's Bleve index.
type Index struct {
	b    bleve.Index
	dir  string
	lock *os.File // flock on <dir>.lock: one process uses the index at a time

	// Tuning set at Open; tests shrink them to reach the paths they guard.
	directSort int    // hits up to which newest sorts them all
	exactRun   int    // the fewest documents in doubt worth a run of their own
	next       uint64 // the first log record not yet indexed
	batch      int    // documents per Bleve batch (SetBatch)

	users   map[string]string // Entra user id → UPN, from account records
	current map[string]uint64 // item key → record of its current version (loaded lazily)
	fresh   bool              // filled from empty by this process: every version it holds is in current
}

const (
	textAnalyzer    = "hf_text"
	keywordAnalyzer = "hf_keyword"
	nextKey         = "holdfast.next"
	compactKey      = "holdfast.compact" // "1": merge every segment (a disposal replaced documents)
	itemKeyPrefix   = "item|"
	mappingVersion  = "12" // 12: disposed versions
)

// DefaultBatch is how many documents Update gives Bleve at once: Bleve
// analyses a batch's documents together, so a batch's memory grows with it,
// and its speed too, up to about this size.
const DefaultBatch = 500

// SetBatch sets how many documents Update gives Bleve at once (n <= 0:
// DefaultBatch). A backup indexing beside its capture uses smaller batches,
// so that the two together hold less memory.
func (ix *Index) SetBatch(n int) {
	if n <= 0 {
		n = DefaultBatch
	}
	ix.batch = n
}

// Text fields searched by free text and by phrases (term vectors on).
var textFields = []string{"subject", "body", "attachment", "attachmentnames", "filename"}

func newMapping() *mapping.IndexMappingImpl {
	im := bleve.NewIndexMapping()
	for name, config := range map[string]map[string]any{
		textAnalyzer:    {"type": custom.Name, "tokenizer": wordsTokenizer}, // words split and lower-cased at extraction (analysis.go)
		keywordAnalyzer: {"type": custom.Name, "tokenizer": single.Name, "token_filters": []string{lowercase.Name}},
	} {
		if err := im.AddCustomAnalyzer(name, config); err != nil {
			panic(fmt.Sprintf("index mapping: analyzer %s: %v", name, err)) // a bug, never bad input
		}
	}
	im.DefaultAnalyzer = textAnalyzer
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	dm := bleve.NewDocumentStaticMapping()
	text := func(name string) {
		f := bleve.NewTextFieldMapping()
		f.Analyzer, f.Store, f.IncludeInAll, f.DocValues, f.IncludeTermVectors = textAnalyzer, false, false, false, true
		// Hits are sorted by date, never scored: no frequencies and norms.
		f.SkipFreqNorm = true
		dm.AddFieldMappingsAt(name, f)
	}
	keyword := func(name string, store bool) {
		f := bleve.NewTextFieldMapping()
		f.Analyzer, f.Store, f.IncludeInAll, f.DocValues, f.IncludeTermVectors = keywordAnalyzer, store, false, false, false
		f.SkipFreqNorm = true
		dm.AddFieldMappingsAt(name, f)
	}

	for _, n := range positioned {
		text(n)
		keyword(numField(n), false) // its numbers' keys (analysis.go)
		if pairFields[n] {
			keyword(pairField(n), false) // its pairs of words
		}
	}
	numpos := bleve.NewTextFieldMapping()
	numpos.Index, numpos.Store, numpos.IncludeInAll, numpos.DocValues = false, true, false, false
	dm.AddFieldMappingsAt(numPosField, numpos)
	keyword("kind", true)
	// Account and item are shown in hits, never searched (custodian and
	// the key are): stored only.
	for _, n := range []string{"account", "item"} {
		f := bleve.NewTextFieldMapping()
		f.Index, f.Store, f.IncludeInAll, f.DocValues = false, true, false, false
		dm.AddFieldMappingsAt(n, f)
	}
	for _, n := range []string{"custodian", "folder", "from", "to", "cc", "bcc", "ext"} {
		keyword(n, false)
	}
	// Fields for the index itself, one exact term a document (Graph's ids
	// are case-sensitive: nothing is lower-cased).
	exact := func(name string, docValues bool) {
		f := bleve.NewKeywordFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues, f.SkipFreqNorm = false, false, docValues, true
		dm.AddFieldMappingsAt(name, f)
	}
	exact("key", false) // the item across its versions
	title := bleve.NewTextFieldMapping()
	title.Index, title.Store, title.IncludeInAll, title.DocValues = false, true, false, false
	dm.AddFieldMappingsAt("title", title)
	// Numbers and times are indexed as a dozen or more prefix terms each:
	// only those a query can name are indexed; version and captured are
	// stored or kept in the store.
	for _, n := range []string{"size", "version"} {
		f := bleve.NewNumericFieldMapping()
		f.Index, f.Store, f.IncludeInAll, f.DocValues = n == "size", n == "version", false, false
		dm.AddFieldMappingsAt(n, f)
	}
	// Hits are sorted by "order": the date as 12 hex digits of seconds
	// since year 1, then the version's record as 16, so that equal dates
	// fall in a fixed order. One short term with doc values per document:
	// sorting on the date's own doc values (every prefix term of a
	// number, 160 bytes a document) and on _id (a stored-field read a
	// hit) cost most of a query's time.
	exact("order", true)
	// The month of the date (UTC, 2006-01): searches with many hits sort
	// only those of the newest months that hold enough (see newest).
	exact("month", false)
	for _, n := range []string{"created", "modified", "sent", "received", "date"} {
		f := bleve.NewDateTimeFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = n == "date", false, false
		dm.AddFieldMappingsAt(n, f)
	}
	for _, n := range []string{"hasattachment", "deleted", "current", "disposed"} {
		f := bleve.NewBooleanFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = n == "deleted" || n == "disposed", false, false
		dm.AddFieldMappingsAt(n, f)
	}
	im.DefaultMapping = dm
	return im
}

// Open opens the index in dir, creating it if there is none. An index of
// another mapping version or one that cannot be opened is recreated (it
// is derived data); the next Update fills it from the store.
func Open(dir string) (*Index, error) {
	return open(dir, false)
}

// open takes the index's lock and opens it, deleting it first when fresh.
func open(dir string, fresh bool) (*Index, error) {
	const op = "open index"
	// Searches beside a running backup, and several searches, take turns:
	// a second process opening the index would find it in use, and an
	// index that cannot be opened is rebuilt from scratch below.
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	if fresh {
		// Under the lock: never pull an index from under a process using it.
		if err := os.RemoveAll(dir); err != nil {
			lock.Close()
			return nil, holdfast.E(op, holdfast.IO, err)
		}
	}
	ix, err := openLocked(dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	ix.lock = lock
	return ix, nil
}

func openLocked(dir string) (*Index, error) {
	const op = "open index"
	b, err := bleve.Open(dir)
	if err == nil {
		if v, _ := b.GetInternal([]byte("holdfast.mapping")); string(v) != mappingVersion {
			b.Close()
			err = fmt.Errorf("mapping version %q", v)
		}
	}
	if err != nil {
		if rerr := os.RemoveAll(dir); rerr != nil {
			return nil, holdfast.E(op, holdfast.IO, rerr)
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		b, err = bleve.New(dir, newMapping())
		if err != nil {
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		if err := b.SetInternal([]byte("holdfast.mapping"), []byte(mappingVersion)); err != nil {
			b.Close()
			return nil, holdfast.E(op, holdfast.IO, err)
		}
	}
	ix := &Index{b: b, dir: dir, users: map[string]string{}, current: map[string]uint64{}, directSort: 1000, exactRun: 8192, batch: DefaultBatch}
	if v, err := b.GetInternal([]byte(nextKey)); err == nil && v != nil {
		ix.next, _ = strconv.ParseUint(string(v), 10, 64)
	}
	if v, err := b.GetInternal([]byte("holdfast.users")); err == nil && v != nil {
		json.Unmarshal(v, &ix.users)
	}
	return ix, nil
}

// Close closes the index and lets the next process use it.
func (ix *Index) Close() error {
	err := ix.b.Close()
	if ix.lock != nil {
		ix.lock.Close() // drops the flock
		ix.lock = nil
	}
	return err
}

// Next is the index of the first log record not yet indexed.
func (ix *Index) Next() uint64 { return ix.next }

// Rebuild deletes the index in dir and indexes the whole log again.
func Rebuild(ctx context.Context, dir string, lg Log, progress func(n uint64)) (*Index, error) {
	ix, err := open(dir, true)
	if err != nil {
		return nil, err
	}
	if _, err := ix.Update(ctx, lg, progress); err != nil {
		ix.Close()
		return nil, err
	}
	if err := ix.Compact(ctx); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// itemKey names an item across its versions.
func itemKey(workload, accountID, account, item string) string {
	if accountID == "" {
		accountID = account
	}
	return itemKeyPrefix + workload + "|" + accountID + "|" + item
}

// Update indexes the log records from where the index stopped. Each batch
// of documents is committed together with the position it reaches, so a
// crash leaves the index at a batch boundary and the next Update goes on
// from there: the index is never silently missing items.
func (ix *Index) Update(ctx context.Context, lg Log, progress func(n uint64)) (int, error) {
	const op = "update index"
	if ix.next == 0 {
		ix.fresh = true
	}
	batch := ix.b.NewBatch()
	pending := map[string]*Doc{} // docs in this batch, by id: superseded or tombstoned in it
	n, usersChanged := 0, false
	var last uint64
	compact := false // the batch re-indexes disposed versions: merge their old documents away
	commit := func() error {
		for id, d := range pending {
			if err := batch.Index(id, d.fields()); err != nil {
				return holdfast.E(op, err)
			}
		}
		batch.SetInternal([]byte(nextKey), []byte(strconv.FormatUint(last+1, 10)))
		if compact {
			batch.SetInternal([]byte(compactKey), []byte("1"))
		}
		if usersChanged {
			b, _ := json.Marshal(ix.users)
			batch.SetInternal([]byte("holdfast.users"), b)
		}
		if err := ix.b.Batch(batch); err != nil {
			return holdfast.E(op, holdfast.IO, err)
		}
		ix.next = last + 1
		batch.Reset()
		clear(pending)
		usersChanged = false
		if progress != nil {
			progress(ix.next)
		}
		return nil
	}
	docOf := func(idx uint64) (*Doc, error) {
		id := docID(idx)
		if d := pending[id]; d != nil {
			return d, nil
		}
		rec, _, err := lg.Record(ctx, idx)
		if err != nil {
			return nil, err
		}
		return ix.extract(ctx, lg, rec)
	}
	handle := func(j *extraction) error {
		r := j.r
		last = r.Index
		if j.users != nil {
			ix.users, usersChanged = j.users, true
		}
		if r.Type == record.TypeDisposalExecuted {
			if err := ix.disposed(ctx, lg, r, pending); err != nil {
				return err
			}
			compact = true
			if len(pending) >= ix.batch {
				return commit()
			}
			return nil
		}
		if r.Type != record.TypeItemVersion && r.Type != record.TypeTombstone {
			return nil
		}
		var key string
		if j.doc != nil {
			key = j.doc.key // the reader decoded the version already
		} else {
			var v record.ItemVersion
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return holdfast.E(op, holdfast.Integrity, err, fmt.Sprintf("record %d", r.Index))
			}
			key = itemKey(string(v.Workload), v.AccountID, v.Account, v.Item)
		}
		prev, hasPrev, err := ix.currentOf(key)
		if err != nil {
			return err
		}
		if r.Type == record.TypeTombstone {
			if !hasPrev {
				return nil
			}
			d, err := docOf(prev)
			if err != nil {
				return err
			}
			d.Deleted = true
			pending[docID(prev)] = d
			return nil
		}
		if hasPrev {
			d, err := docOf(prev)
			if err != nil {
				return err
			}
			d.current = false
			pending[docID(prev)] = d
		}
		pending[docID(r.Index)] = j.doc
		ix.current[key] = r.Index
		n++
		if len(pending) >= ix.batch {
			return commit()
		}
		return nil
	}
	// Records are read, and new versions' content extracted (read from
	// the store, decompressed, parsed), ahead of the loop below on every
	// core, while Bleve builds the previous batch.
	jobs, wait := ix.readAhead(ctx, lg)
	defer wait()
	err := func() error {
		for j := range jobs {
			<-j.done
			if j.err != nil {
				return j.err
			}
			if err := handle(j); err != nil {
				return err
			}
		}
		return nil
	}()
	if err == nil {
		err = wait()
	}
	if err != nil {
		return n, err
	}
	if last+1 > ix.next || len(pending) > 0 {
		if err := commit(); err != nil {
			return n, err
		}
	}
	// Segments still hold the old documents of disposed versions, their
	// text included, until merged: the flag is committed with the batch
	// that replaced them, so a crash before the merge leaves it set.
	if v, err := ix.b.GetInternal([]byte(compactKey)); err == nil && string(v) == "1" {
		if err := ix.Compact(ctx); err != nil {
			return n, err
		}
		if err := ix.b.DeleteInternal([]byte(compactKey)); err != nil {
			return n, holdfast.E(op, holdfast.IO, err)
		}
	}
	return n, nil
}

// extraction is one record read ahead by Update, with its new version's
// document once done is closed.
type extraction struct {
	r     store.Record
	users map[string]string // set when the record changed the id → UPN map
	doc   *Doc
	err   error
	done  chan struct{}
}

// readAhead reads the log from ix.next and extracts new versions'
// documents on every core, handing the records over in log order. wait
// stops it and returns the error that ended the reading, if any; it must
// be called before Update returns.
func (ix *Index) readAhead(parent context.Context, lg Log) (<-chan *extraction, func() error) {
	ctx, cancel := context.WithCancel(parent)
	out := make(chan *extraction, 256)
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var workers sync.WaitGroup
	errc := make(chan error, 1)
	from, users := ix.next, ix.users // users is never changed in place: copied on change
	if users == nil {
		users = map[string]string{}
	}
	go func() {
		err := lg.Records(ctx, from, func(_ []byte, r store.Record) error {
			j := &extraction{r: r, done: make(chan struct{})}
			switch r.Type {
			case record.TypeAccountState, record.TypeAccountDeparted:
				var a record.AccountState
				if json.Unmarshal(r.Data, &a) == nil && a.AccountID != "" && users[a.AccountID] != a.Account {
					users = maps.Clone(users)
					users[a.AccountID] = a.Account
					j.users = users
				}
				close(j.done)
			case record.TypeItemVersion:
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				workers.Add(1)
				go func(users map[string]string) {
					defer workers.Done()
					j.doc, j.err = extractDoc(ctx, lg, r, users)
					<-slots
					close(j.done)
				}(users)
			default:
				close(j.done)
			}
			select {
			case out <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		workers.Wait()
		close(out)
		errc <- err
	}()
	var once sync.Once
	var err error
	return out, func() error {
		once.Do(func() {
			cancel()
			for range out { // let the reader see the cancellation and finish
			}
			err = <-errc
			if errors.Is(err, context.Canceled) && parent.Err() == nil {
				err = nil // stopped by wait, not by a failure
			}
		})
		return err
	}
}

// currentOf returns the record of an item's current version: from this
// process's cache, or else from the index (key and current:true). While
// the index is filled from empty, an item missing from the cache has no
// version in the index, so there is nothing to ask. (Not one of Bleve's
// internal values per item: scorch copies every internal value into
// every snapshot it persists, which made each batch cost as much as the
// index had items, and kept 800 bytes of bolt file per item.)
func (ix *Index) currentOf(key string) (uint64, bool, error) {
	if idx, ok := ix.current[key]; ok {
		return idx, true, nil
	}
	if ix.fresh {
		return 0, false, nil
	}
	kq := bleve.NewTermQuery(key)
	kq.SetField("key")
	cur := bleve.NewBoolFieldQuery(true)
	cur.SetField("current")
	res, err := ix.b.Search(bleve.NewSearchRequestOptions(bleve.NewConjunctionQuery(kq, cur), 10, 0, false))
	if err != nil {
		return 0, false, holdfast.E("update index", holdfast.IO, err)
	}
	if len(res.Hits) == 0 {
		return 0, false, nil
	}
	var idx uint64
	for _, h := range res.Hits { // one; the newest if there were ever more
		v, err := strconv.ParseUint(h.ID, 10, 64)
		if err != nil {
			return 0, false, holdfast.E("update index", holdfast.Integrity, err)
		}
		idx = max(idx, v)
	}
	ix.current[key] = idx
	return idx, true, nil
}

// sortKey orders hits newest first (sorted descending): date, then version.
func sortKey(date time.Time, version uint64) string {
	const year1 = 62135596800 // seconds from year 1 to 1970
	return fmt.Sprintf("%012x%016x", max(date.Unix()+year1, 0), version)
}

func docID(idx uint64) string { return strconv.FormatUint(idx, 10) }

// kinds are Purview's kinds of item, by workload.
func kindOf(w holdfast.Workload, path string) string {
	switch w {
	case holdfast.Mail:
		return "email"
	case holdfast.Calendar:
		return "meetings"
	case holdfast.Contacts:
		return "contacts"
	case holdfast.OneDrive, holdfast.SharePoint:
		return "docs"
	case holdfast.Teams:
		if strings.HasPrefix(path, "chats/") {
			return "im"
		}
		return "microsoftteams"
	}
	return string(w)
}

// maxFileText is the largest file whose text is indexed.
const maxFileText = 16 << 20

// Document returns the fields the index extracts from an item.version
// record (addresses, subject, dates, custodians, text), reading its
// content from lg: what an export's load file says of the item.
func (ix *Index) Document(ctx context.Context, lg Log, r store.Record) (*Doc, error) {
	return ix.extract(ctx, lg, r)
}

// Extract builds the document of an item.version record, reading its
// content from the store.
func (ix *Index) extract(ctx context.Context, lg Log, r store.Record) (*Doc, error) {
	return extractDoc(ctx, lg, r, ix.users)
}

// extractDoc is extract with the id → UPN map to use (which Update hands
// to its extraction workers as it stood at the record).
func extractDoc(ctx context.Context, lg Log, r store.Record, users map[string]string) (*Doc, error) {
	var v record.ItemVersion
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return nil, holdfast.E("index", holdfast.Integrity, err, fmt.Sprintf("record %d", r.Index))
	}
	d := &Doc{Kind: kindOf(v.Workload, v.Path), Account: strings.ToLower(v.Account), Folder: strings.ToLower(v.Path), Item: v.Item,
		Version: r.Index, Captured: r.Time.UTC(), current: true, key: itemKey(string(v.Workload), v.AccountID, v.Account, v.Item)}
	if strings.Contains(v.Account, "@") && v.Workload != holdfast.Teams {
		// A mailbox's or a drive's owner. A Teams item's account is its
		// channel or chat (a chat id holds an @ too); its custodian is
		// the sender, from the message.
		d.Custodians = []string{d.Account}
	}
	content := func(i int, limit int64) ([]byte, error) {
		if i >= len(r.Refs) || r.Refs[i].Size > limit {
			return nil, nil
		}
		var buf bytes.Buffer
		if err := lg.ReadContent(ctx, r.Refs[i], &buf); err != nil {
			if contentDisposed(lg, r.Refs[i], err) {
				d.Disposed = true // indexed by what its record says
				return nil, nil
			}
			return nil, holdfast.E("index", err, fmt.Sprintf("record %d", r.Index))
		}
		return buf.Bytes(), nil
	}
	for _, ref := range r.Refs {
		d.Size += ref.Size
	}
	switch v.Workload {
	case holdfast.Mail:
		raw, err := content(0, 150<<20)
		if err != nil {
			return nil, err
		}
		mailDoc(d, raw)
		d.Title, d.Date = d.Subject, d.Received
	case holdfast.Calendar, holdfast.Contacts:
		js, err := content(0, 16<<20)
		if err != nil {
			return nil, err
		}
		if v.Workload == holdfast.Calendar {
			eventDoc(d, js)
			d.Date = d.Sent
		} else {
			contactDoc(d, js)
			d.Date = d.Modified
		}
		if v.PIM != nil {
			for i, a := range v.PIM.Attachments {
				d.AttachmentNames = append(d.AttachmentNames, a.Name)
				if textLike[strings.ToLower(path.Ext(a.Name))] {
					data, err := content(i+1, maxFileText)
					if err != nil {
						return nil, err
					}
					d.AttachmentText += fileText(a.Name, a.ContentType, data) + "\n"
				}
			}
		}
		d.HasAttachment = len(d.AttachmentNames) > 0
		d.Title = d.Subject
	case holdfast.OneDrive, holdfast.SharePoint:
		if f := v.File; f != nil {
			if f.Folder {
				// Captured (restore needs the tree) but not a document:
				// kind:docs finds files, as in Purview.
				d.Kind = "folder"
			}
			d.Filename, d.Title = f.Name, f.Name
			d.Ext = strings.TrimPrefix(strings.ToLower(path.Ext(f.Name)), ".")
			d.Author, d.ModifiedBy = f.CreatedBy, f.ModifiedBy
			d.Created, d.Modified, d.Date = f.Created.UTC(), f.Modified.UTC(), f.Modified.UTC()
			d.Subject = strings.TrimSuffix(f.Name, path.Ext(f.Name))
			if !f.Folder && textLike["."+d.Ext] {
				data, err := content(0, maxFileText)
				if err != nil {
					return nil, err
				}
				d.Body = fileText(f.Name, f.MimeType, data)
			}
		}
	case holdfast.Teams:
		js, err := content(0, 16<<20)
		if err != nil {
			return nil, err
		}
		chatDoc(d, js, func(id string) string { return users[id] })
		d.Title, d.Date = d.Subject, d.Sent
		if d.Title == "" {
			d.Title = firstWords(d.Body, 12)
		}
	}
	if d.Disposed {
		// Its content is gone: what the record says stays findable.
		d.Body, d.AttachmentText = "", ""
		switch {
		case v.Mail != nil:
			d.Subject, d.Title = v.Mail.Subject, v.Mail.Subject
			d.Received, d.Sent, d.Date = v.Mail.Received.UTC(), v.Mail.Sent.UTC(), v.Mail.Received.UTC()
		case v.PIM != nil:
			d.Subject, d.Title, d.Date = v.PIM.Title, v.PIM.Title, v.PIM.Modified.UTC()
		}
	}
	if d.Date.IsZero() {
		d.Date = d.Captured
	}
	d.text = analyzeText(d.positioned)
	return d, nil
}

// disposed re-indexes the versions a disposal.executed record names from
// their records alone (refuseContent), keeping whether each is its item's
// current version and whether the item was deleted: the index forgets
// their content (Compact merges it out of the segments).
func (ix *Index) disposed(ctx context.Context, lg Log, r store.Record, pending map[string]*Doc) error {
	var d record.DisposalExecuted
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return holdfast.E("update index", holdfast.Integrity, err, fmt.Sprintf("record %d", r.Index))
	}
	for _, v := range d.Versions {
		id := docID(v.Record)
		rec, _, err := lg.Record(ctx, v.Record)
		if err != nil {
			return err
		}
		if rec.Type != record.TypeItemVersion {
			return holdfast.Errorf("update index", holdfast.Integrity, "record %d disposes of record %d, which is %s, not an item version", r.Index, v.Record, rec.Type)
		}
		doc, err := extractDoc(ctx, refuseContent{lg}, rec, ix.users)
		if err != nil {
			return err
		}
		cur, ok, err := ix.currentOf(doc.key)
		if err != nil {
			return err
		}
		doc.current = ok && cur == v.Record
		if p := pending[id]; p != nil {
			doc.Deleted = p.Deleted
		} else if doc.Deleted, err = ix.storedBool(id, "deleted"); err != nil {
			return err
		}
		pending[id] = doc
	}
	return nil
}

// storedBool reads a stored boolean field of an indexed document (false
// if the document or the field is absent).
func (ix *Index) storedBool(id, field string) (bool, error) {
	doc, err := ix.b.Document(id)
	if err != nil {
		return false, holdfast.E("index", holdfast.IO, err)
	}
	var v bool
	if doc != nil {
		doc.VisitFields(func(f bleveindex.Field) {
			if bf, ok := f.(bleveindex.BooleanField); ok && f.Name() == field {
				v, _ = bf.Boolean()
			}
		})
	}
	return v, nil
}

// errDisposed is what refuseContent answers.
var errDisposed = errors.New("content disposed of")

// refuseContent is a log whose content is refused: a version a
// disposal.executed record names is indexed from its record alone, even
// if the same content was captured again for another version.
type refuseContent struct{ Log }

func (refuseContent) ReadContent(context.Context, store.Ref, io.Writer) error { return errDisposed }

// contentDisposed reports whether a read of ref failed because its
// content was disposed of.
func contentDisposed(lg Log, ref store.Ref, err error) bool {
	if errors.Is(err, errDisposed) {
		return true
	}
	dl, ok := lg.(interface{ Disposed(store.ID) (uint64, bool) })
	if !ok || !holdfast.Is(holdfast.NotFound, err) {
		return false
	}
	for _, id := range ref.Blobs() {
		if _, gone := dl.Disposed(id); gone {
			return true
		}
	}
	return false
}

// positionedList are the positioned fields indexed as lists of values.
var positionedList = map[string]bool{"attachmentnames": true, "filename": true}

// positioned gives the values of a positioned field as the index takes
// them, and whether they are a list.
func (d *Doc) positioned(field string) ([]string, bool) {
	var vs []string
	switch field {
	case "subject":
		vs = []string{d.Subject}
	case "body":
		vs = []string{d.Body}
	case "attachment":
		vs = []string{d.AttachmentText}
	case "attachmentnames":
		vs = nameTokens(d.AttachmentNames...)
	case "filename":
		vs = nameTokens(d.Filename)
	case "author":
		vs = []string{d.Author}
	case "modifiedby":
		vs = []string{d.ModifiedBy}
	default:
		panic("index: no positioned field " + field) // a bug
	}
	return vs, positionedList[field]
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = append(f[:n], "…")
	}
	return strings.Join(f, " ")
}

// nameTokens are file names as indexed: each whole, and with its dots as
// spaces, so that "report.csv" is found by report.csv, report and csv (the
// word tokenizer keeps "report.csv" as one word).
func nameTokens(names ...string) []string {
	var out []string
	for _, n := range names {
		if n == "" {
			continue
		}
		out = append(out, n)
		if strings.Contains(n, ".") {
			out = append(out, strings.ReplaceAll(n, ".", " "))
		}
	}
	return out
}

// fields is the document as Bleve indexes it.
func (d *Doc) fields() map[string]any {
	m := map[string]any{
		"kind": d.Kind, "account": d.Account, "item": d.Item, "title": d.Title, "folder": d.Folder,
		"ext":  d.Ext,
		"size": float64(d.Size), "version": float64(d.Version), "hasattachment": d.HasAttachment,
		"deleted": d.Deleted, "current": d.current, "date": d.Date, "key": d.key, "disposed": d.Disposed,
		"order": sortKey(d.Date, d.Version), "month": d.Date.UTC().Format("2006-01"),
	}
	for f, vs := range d.text.words {
		if positionedList[f] {
			m[f] = vs
		} else if len(vs) > 0 {
			m[f] = vs[0]
		}
	}
	for f, ps := range d.text.pairs {
		m[pairField(f)] = ps
	}
	for f, ns := range d.text.keys {
		m[numField(f)] = ns
	}
	if len(d.text.pos) > 0 {
		m[numPosField] = string(d.text.pos)
	}
	lists := map[string][]string{"custodian": d.Custodians, "from": d.From, "to": d.To, "cc": d.Cc, "bcc": d.Bcc}
	for k, v := range lists {
		if len(v) > 0 {
			m[k] = v
		}
	}
	for k, t := range map[string]time.Time{"created": d.Created, "modified": d.Modified, "sent": d.Sent, "received": d.Received} {
		if !t.IsZero() {
			m[k] = t
		}
	}
	return m
}

// DocCount is the number of indexed item versions.
func (ix *Index) DocCount() (uint64, error) { return ix.b.DocCount() }

// Compact merges the index's segments into one, as Bleve's background
// merger would over time; a rebuild ends with it.
func (ix *Index) Compact(ctx context.Context) error {
	adv, err := ix.b.Advanced()
	if err != nil {
		return holdfast.E("compact index", holdfast.IO, err)
	}
	sc, ok := adv.(*scorch.Scorch)
	if !ok {
		return nil
	}
	if err := sc.ForceMerge(ctx, nil); err != nil {
		return holdfast.E("compact index", holdfast.IO, err)
	}
	return nil
}
