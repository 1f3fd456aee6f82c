package index

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/kql"
)

// Options shape a search.
type Options struct {
	Limit       int  // hits returned (default 50); Total counts them all
	Offset      int  // hits skipped
	AllVersions bool // every matching version, not only each item's newest
	NoSnippets  bool
}

// Hit is one matching item version.
type Hit struct {
	Item    string    `json:"item"`
	Account string    `json:"account"`
	Kind    string    `json:"kind"`
	Title   string    `json:"title"`
	Date    time.Time `json:"date"`
	Version uint64    `json:"version"` // the item.version record
	Deleted bool      `json:"deleted"`
	// Disposed: the version's content was disposed of ("disposed of"; the
	// caller says when and under which rule: app.DisposedVersions).
	Disposed string `json:"disposed,omitempty"`
	Snippet  string `json:"snippet"`
}

// Result is a search's outcome.
type Result struct {
	Total int   `json:"total"`
	Hits  []Hit `json:"hits"`
}

// Search runs a KQL query. A malformed query is an error of kind Invalid
// wrapping a *SyntaxError that says where and what was expected.
func (ix *Index) Search(ctx context.Context, lg Log, q string, o Options) (*Result, error) {
	const op = "search"
	n, err := kql.Parse(q)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	return ix.SearchNode(ctx, lg, n, o)
}

// SearchNode runs a parsed query.
func (ix *Index) SearchNode(ctx context.Context, lg Log, n Node, o Options) (*Result, error) {
	const op = "search"
	bq, err := compile(n)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	if !o.AllVersions {
		bq = currentOnly(bq)
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	fields := []string{"item", "account", "kind", "title", "date", "version", "deleted", "disposed"}
	hits, total, err := ix.newest(ctx, bq, o.Limit, o.Offset, fields)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	out := &Result{Total: total, Hits: []Hit{}}
	words := queryWords(n)
	for _, h := range hits {
		hit := Hit{Item: str(h.Fields["item"]), Account: str(h.Fields["account"]), Kind: str(h.Fields["kind"]), Title: str(h.Fields["title"])}
		if v, ok := h.Fields["version"].(float64); ok {
			hit.Version = uint64(v)
		}
		hit.Deleted, _ = h.Fields["deleted"].(bool)
		if d, _ := h.Fields["disposed"].(bool); d {
			hit.Disposed = "disposed of"
		}
		if s, ok := h.Fields["date"].(string); ok {
			hit.Date, _ = time.Parse(time.RFC3339Nano, s)
		}
		if !o.NoSnippets && lg != nil && hit.Disposed == "" {
			hit.Snippet = ix.snippet(ctx, lg, hit.Version, words)
		}
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

func str(v any) string { s, _ := v.(string); return s }

// currentOnly keeps the current versions of q's hits. A query of terms
// only is ANDed with current:true, which Bleve does on the postings'
// bitmaps. A query holding a phrase, NEAR or number (nearQuery) is walked
// hit by hit, and there current:true, in nearly every document, would be
// advanced to each hit through every document before it (zap does so
// when the segment has a deletion bitmap, which it has after any merge,
// even empty): about 5 ns a document, 10 ms at a million. So those are
// filtered with NOT current:false, the few superseded versions.
func currentOnly(q query.Query) query.Query {
	if !holdsNear(q) {
		cur := bleve.NewBoolFieldQuery(true)
		cur.SetField("current")
		return bleve.NewConjunctionQuery(q, cur)
	}
	old := bleve.NewBoolFieldQuery(false)
	old.SetField("current")
	b := bleve.NewBooleanQuery()
	b.AddMust(q)
	b.AddMustNot(old)
	return b
}

// holdsNear reports whether q holds a nearQuery.
func holdsNear(q query.Query) bool { return len(nearQueries(q, nil)) > 0 }

// newest returns the hits of q from offset on, newest first (by date, then
// version), and how many there are in all. Sorting visits every hit's
// sort key, which made a common word's search cost a microsecond and a
// half per hit; counting costs a twentieth of that. So newest counts, and
// when there are many hits sorts only those of the newest months that
// hold enough of them: every hit of those months comes before every hit
// of an older one, so the page is the same.
func (ix *Index) newest(ctx context.Context, q query.Query, limit, offset int, fields []string) (search.DocumentMatchCollection, int, error) {
	// With the hits as bitmaps, a month's count is one AND away. With at
	// most ix.directSort of them, every hit is sorted and the search counts
	// them itself (total stays -1), deciding any in doubt on the way.
	monthCount := func(m string) (int, error) { return ix.count(ctx, bleve.NewConjunctionQuery(q, monthQuery(m))) }
	total := -1
	hs, release, err := ix.bitmapHits(ctx, q)
	switch {
	case err == nil:
		defer release()
		if most := hs.most(); most > ix.directSort && most > offset+limit {
			if err := hs.exact(ctx); err != nil {
				return nil, 0, err
			}
			total = hs.sure()
			monthCount = func(m string) (int, error) { return hs.countTerm("month", m) }
		}
	case errors.Is(err, errNoBitmap):
		if total, err = ix.count(ctx, q); err != nil {
			return nil, 0, err
		}
	default:
		return nil, 0, err
	}
	want := offset + limit
	if total > ix.directSort && total > want {
		months, err := ix.months()
		if err != nil {
			return nil, 0, err
		}
		var picked []query.Query
		for n, i := 0, 0; i < len(months) && n < want; i++ {
			c, err := monthCount(months[i])
			if err != nil {
				return nil, 0, err
			}
			if c > 0 {
				picked, n = append(picked, monthQuery(months[i])), n+c
			}
		}
		q = bleve.NewConjunctionQuery(q, bleve.NewDisjunctionQuery(picked...))
	}
	req := bleve.NewSearchRequestOptions(q, limit, offset, false)
	req.Fields = fields
	req.SortBy([]string{"-order"})
	req.Score = bleve.ScoreNone // hits are sorted by date, never scored
	res, err := ix.b.SearchInContext(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	if total < 0 {
		total = int(res.Total)
	}
	return res.Hits, total, nil
}

// bitmapHits computes the bounds of q's hits as bitmaps (bitmap.go) on a
// snapshot of the index, which release lets go; errNoBitmap if it cannot.
func (ix *Index) bitmapHits(ctx context.Context, q query.Query) (*hitSet, func(), error) {
	if !bitmapable(q) {
		return nil, nil, errNoBitmap
	}
	adv, err := ix.b.Advanced()
	if err != nil {
		return nil, nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, nil, err
	}
	hs, err := hits(r, q)
	if err == nil {
		hs.exactRun = ix.exactRun
	}
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return hs, func() { r.Close() }, nil
}

// decidedHits is bitmapHits with every document decided: no hit set (and
// no error) where q cannot be computed on bitmaps.
func (ix *Index) decidedHits(ctx context.Context, q query.Query) (*hitSet, func(), error) {
	hs, release, err := ix.bitmapHits(ctx, q)
	switch {
	case errors.Is(err, errNoBitmap):
		return nil, func() {}, nil
	case err != nil:
		return nil, nil, err
	}
	if err := hs.exact(ctx); err != nil {
		release()
		return nil, nil, err
	}
	return hs, release, nil
}

// count counts the hits of q without sorting or loading them: on bitmaps
// where it can, else through Bleve's collector.
func (ix *Index) count(ctx context.Context, q query.Query) (int, error) {
	hs, release, err := ix.decidedHits(ctx, q)
	if err != nil {
		return 0, err
	}
	defer release()
	if hs != nil {
		return hs.sure(), nil
	}
	return ix.collectorCount(ctx, q)
}

// collectorCount counts the hits of q through Bleve's collector.
func (ix *Index) collectorCount(ctx context.Context, q query.Query) (int, error) {
	req := bleve.NewSearchRequestOptions(q, 0, 0, false)
	req.Score = bleve.ScoreNone
	res, err := ix.b.SearchInContext(ctx, req)
	if err != nil {
		return 0, err
	}
	return int(res.Total), nil
}

// months are the months (UTC, 2006-01) the index's documents are dated
// in, newest first.
func (ix *Index) months() ([]string, error) {
	out, err := dictTerms(ix.b.FieldDict("month"))
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out, nil
}

// dictTerms reads the terms of a field dictionary (as opened, with its
// error), in order, and closes it.
func dictTerms(d index.FieldDict, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out []string
	for {
		e, err := d.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		out = append(out, e.Term)
	}
}

// monthQuery matches the documents dated in month m (2006-01).
func monthQuery(m string) query.Query {
	q := bleve.NewTermQuery(m)
	q.SetField("month")
	return q
}

// Count returns how many item versions match (every version).
func (ix *Index) Count(ctx context.Context, n Node) (int, error) {
	bq, err := compile(n)
	if err != nil {
		return 0, holdfast.E("search", holdfast.Invalid, err)
	}
	c, err := ix.count(ctx, bq)
	if err != nil {
		return 0, holdfast.E("search", holdfast.IO, err)
	}
	return c, nil
}

// Versions returns the record index of every item version n matches, in
// order: unsorted and a month at a time, so that a hold or an export over
// a million versions neither sorts them nor holds a search hit for each
// at once.
func (ix *Index) Versions(ctx context.Context, n Node) ([]uint64, error) {
	const op = "search"
	bq, err := compile(n)
	if err != nil {
		return nil, holdfast.E(op, holdfast.Invalid, err)
	}
	months, err := ix.months()
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	// The hits once, then a month's count is one AND on them.
	hs, release, err := ix.decidedHits(ctx, bq)
	if err != nil {
		return nil, holdfast.E(op, holdfast.IO, err)
	}
	defer release()
	var out []uint64
	for _, m := range months {
		q := bleve.NewConjunctionQuery(bq, monthQuery(m))
		var c int
		if hs != nil {
			c, err = hs.countTerm("month", m)
		} else {
			c, err = ix.collectorCount(ctx, q)
		}
		if err != nil {
			return nil, holdfast.E(op, holdfast.IO, err)
		}
		if c == 0 {
			continue
		}
		// Unscored and unsorted, Bleve stops after as many hits as asked
		// for: ask for more than were counted, and again for more if all
		// came back (had the index grown in between, a held version must
		// still not go missing).
		var res *bleve.SearchResult
		for size := c + c/4 + 16; ; size *= 2 {
			req := bleve.NewSearchRequestOptions(q, size, 0, false)
			req.Score = bleve.ScoreNone
			if res, err = ix.b.SearchInContext(ctx, req); err != nil {
				return nil, holdfast.E(op, holdfast.IO, err)
			}
			if len(res.Hits) < size {
				break
			}
		}
		for _, h := range res.Hits {
			v, err := strconv.ParseUint(h.ID, 10, 64)
			if err != nil {
				return nil, holdfast.E(op, holdfast.Integrity, err)
			}
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// snippet reads the version's text back from the store and cuts a window
// around the first query word in it, marked with ** **.
func (ix *Index) snippet(ctx context.Context, lg Log, version uint64, words []string) string {
	rec, _, err := lg.Record(ctx, version)
	if err != nil {
		return ""
	}
	d, err := ix.extract(ctx, lg, rec)
	if err != nil {
		return ""
	}
	text := strings.Join(strings.Fields(d.Body+" "+d.AttachmentText), " ")
	if text == "" {
		text = d.Subject
	}
	lower := strings.ToLower(text)
	at, wlen := -1, 0
	for _, w := range words {
		if i := strings.Index(lower, w); i >= 0 && (at < 0 || i < at) {
			at, wlen = i, len(w)
		}
	}
	const span = 80
	if at < 0 {
		return cut(text, 0, 2*span)
	}
	start := max(0, at-span)
	for start > 0 && start < len(text) && !isBoundary(text, start) {
		start--
	}
	end := min(len(text), at+wlen+span)
	for end < len(text) && !isBoundary(text, end) {
		end++
	}
	s := text[start:at] + "**" + text[at:at+wlen] + "**" + text[at+wlen:end]
	if start > 0 {
		s = "…" + s
	}
	if end < len(text) {
		s += "…"
	}
	return s
}

func isBoundary(s string, i int) bool { return s[i] == ' ' }

func cut(s string, from, n int) string {
	if len(s) <= from+n {
		return s[from:]
	}
	end := from + n
	for end > from && end < len(s) && s[end] != ' ' {
		end--
	}
	return s[from:end] + "…"
}

// queryWords are the lower-case words and phrases of a query's positive
// text terms, for snippets.
func queryWords(n Node) []string {
	var out []string
	var walk func(Node, bool)
	walk = func(n Node, neg bool) {
		switch n := n.(type) {
		case *And:
			for _, t := range n.Terms {
				walk(t, neg)
			}
		case *Or:
			for _, t := range n.Terms {
				walk(t, neg)
			}
		case *Not:
			walk(n.X, !neg)
		case *Near:
			walk(n.Left, neg)
			walk(n.Right, neg)
		case *Term:
			if !neg && (n.Prop == "" || n.Prop == "subject" || n.Prop == "title") && n.To == "" {
				out = append(out, strings.ToLower(n.Value))
			}
		}
	}
	walk(n, false)
	return out
}

// compile turns a query into Bleve's.
func compile(n Node) (query.Query, error) {
	switch n := n.(type) {
	case *And:
		b := bleve.NewBooleanQuery()
		pos := 0
		for _, t := range n.Terms {
			if not, ok := t.(*Not); ok {
				q, err := compile(not.X)
				if err != nil {
					return nil, err
				}
				b.AddMustNot(q)
				continue
			}
			q, err := compile(t)
			if err != nil {
				return nil, err
			}
			b.AddMust(q)
			pos++
		}
		if pos == 0 {
			b.AddMust(bleve.NewMatchAllQuery())
		}
		return b, nil
	case *Or:
		qs := make([]query.Query, len(n.Terms))
		for i, t := range n.Terms {
			q, err := compile(t)
			if err != nil {
				return nil, err
			}
			qs[i] = q
		}
		return bleve.NewDisjunctionQuery(qs...), nil
	case *Not:
		q, err := compile(n.X)
		if err != nil {
			return nil, err
		}
		b := bleve.NewBooleanQuery()
		b.AddMust(bleve.NewMatchAllQuery())
		b.AddMustNot(q)
		return b, nil
	case *Near:
		l, r := qwords(n.Left.Value), qwords(n.Right.Value)
		if len(l) == 0 || len(r) == 0 {
			return bleve.NewMatchNoneQuery(), nil
		}
		qs := make([]query.Query, len(textFields))
		for i, f := range textFields {
			qs[i] = newNearQuery(f, l, r, n.N)
		}
		return bleve.NewDisjunctionQuery(qs...), nil
	case *Term:
		return compileTerm(n)
	}
	return nil, fmt.Errorf("unknown query node %T", n)
}

func text(field string, t *Term) query.Query {
	v := strings.ToLower(t.Value)
	if t.Prefix {
		// The words of field and the numbers of its F_n (analysis.go).
		q := bleve.NewPrefixQuery(v)
		q.SetField(field)
		return bleve.NewDisjunctionQuery(q, numberPrefix(field, v))
	}
	ws := qwords(v)
	if t.Phrase || len(tokens(v)) > 1 {
		switch len(ws) {
		case 0:
			return bleve.NewMatchNoneQuery()
		case 1:
			return textWord(field, ws[0])
		default:
			return phrase(field, ws)
		}
	}
	// One word as a match query takes it: any of its tokens.
	qs := make([]query.Query, len(ws))
	for i, w := range ws {
		qs[i] = textWord(field, w)
	}
	switch len(qs) {
	case 0:
		return bleve.NewMatchNoneQuery()
	case 1:
		return qs[0]
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// phrase matches words in sequence in a text field. In a field with
// pairs (analysis.go), a phrase of two words is a term, and a longer one
// is checked where all its pairs are.
func phrase(field string, ws []qword) query.Query {
	near := newNearQuery(field, ws, nil, 0)
	if !pairFields[field] || len(near.nums) > 0 {
		return near
	}
	qs := make([]query.Query, 0, len(ws)-1)
	for i := 1; i < len(ws); i++ {
		q := bleve.NewTermQuery(pair(ws[i-1].w, ws[i].w))
		q.SetField(pairField(field))
		qs = append(qs, q)
	}
	if len(qs) == 1 {
		return qs[0]
	}
	return bleve.NewConjunctionQuery(append(qs, near)...)
}

// textWord matches one analyzed word in a text field: a number through its
// key in F_n, checked against numpos unless the key is the whole number.
func textWord(field string, w qword) query.Query {
	if !w.num {
		q := bleve.NewTermQuery(w.w)
		q.SetField(field)
		return q
	}
	if k, whole := numKey(w.w); whole {
		q := bleve.NewTermQuery(k)
		q.SetField(numField(field))
		return q
	}
	return newNearQuery(field, []qword{w}, nil, 0)
}

// numberPrefix matches the numbers of a text field that begin with p:
// those whose keys begin with it if p is no longer than a key, else those
// of p's key that numpos shows begin with it.
func numberPrefix(field, p string) query.Query {
	if k, _ := numKey(p); k == p {
		q := bleve.NewPrefixQuery(p)
		q.SetField(numField(field))
		return q
	}
	q := newNearQuery(field, []qword{{p, true}}, nil, 0)
	q.prefix = true
	return q
}

func keyword(field string, t *Term) query.Query {
	v := strings.ToLower(strings.TrimSpace(t.Value))
	if t.Prefix {
		q := bleve.NewPrefixQuery(v)
		q.SetField(field)
		return q
	}
	q := bleve.NewTermQuery(v)
	q.SetField(field)
	return q
}

func anyOf(qs ...query.Query) query.Query {
	if len(qs) == 1 {
		return qs[0]
	}
	return bleve.NewDisjunctionQuery(qs...)
}

var kinds = map[string]bool{"email": true, "meetings": true, "contacts": true, "docs": true, "im": true, "microsoftteams": true}

func compileTerm(t *Term) (query.Query, error) {
	if t.Op == "<>" {
		eq := *t
		eq.Op = ":"
		q, err := compileTerm(&eq)
		if err != nil {
			return nil, err
		}
		b := bleve.NewBooleanQuery()
		b.AddMust(bleve.NewMatchAllQuery())
		b.AddMustNot(q)
		return b, nil
	}
	cmp := t.Prop != "" && t.Op != ":" && t.Op != "="
	switch t.Prop {
	case "sent", "received", "created", "lastmodifiedtime", "date":
		field := map[string]string{"lastmodifiedtime": "modified"}[t.Prop]
		if field == "" {
			field = t.Prop
		}
		return dateQuery(field, t)
	case "size":
		return sizeQuery(t)
	}
	if cmp || t.To != "" {
		return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("%s takes %s; comparisons and ranges are for sent, received, created, lastmodifiedtime and size", t.Prop, "a value after a colon")}
	}
	switch t.Prop {
	case "":
		qs := make([]query.Query, len(textFields))
		for i, f := range textFields {
			qs[i] = text(f, t)
		}
		return anyOf(qs...), nil
	case "subject", "title":
		return text("subject", t), nil
	case "attachmentnames":
		return text("attachmentnames", t), nil
	case "filename":
		return text("filename", t), nil
	case "author":
		return text("author", t), nil
	case "fileextension", "filetype":
		e := *t
		e.Value = strings.TrimPrefix(t.Value, ".")
		return keyword("ext", &e), nil
	case "kind":
		if !kinds[strings.ToLower(t.Value)] {
			return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("a kind (email, meetings, contacts, docs, im, microsoftteams), not %q", t.Value)}
		}
		return keyword("kind", t), nil
	case "from", "to", "cc", "bcc", "custodian":
		return keyword(t.Prop, t), nil
	case "participants":
		return anyOf(keyword("from", t), keyword("to", t), keyword("cc", t), keyword("bcc", t)), nil
	case "recipients":
		return anyOf(keyword("to", t), keyword("cc", t), keyword("bcc", t)), nil
	case "folder":
		f := *t
		f.Prefix = true
		f.Value = strings.Trim(t.Value, "/")
		return keyword("folder", &f), nil
	case "hasattachment", "deleted":
		var v bool
		switch strings.ToLower(t.Value) {
		case "true", "yes", "1":
			v = true
		case "false", "no", "0":
		default:
			return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("%s:true or %s:false, not %q", t.Prop, t.Prop, t.Value)}
		}
		q := bleve.NewBoolFieldQuery(v)
		q.SetField(t.Prop)
		return q, nil
	}
	return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("a known property, not %q", t.Prop)}
}

// parseMoment reads a date (a whole UTC day) or an RFC 3339 time (one
// second); it returns the span's start and end.
func parseMoment(s string) (time.Time, time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			switch layout {
			case "2006-01-02":
				return t, t.AddDate(0, 0, 1), true
			case "2006-01":
				return t, t.AddDate(0, 1, 0), true
			default:
				return t, t.AddDate(1, 0, 0), true
			}
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return t, t.Add(time.Second), true
		}
	}
	return time.Time{}, time.Time{}, false
}

func dateQuery(field string, t *Term) (query.Query, error) {
	if t.Prefix {
		return nil, &SyntaxError{Pos: t.Pos, Msg: "a date, not a prefix"}
	}
	start, end, ok := parseMoment(t.Value)
	if !ok {
		return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("a date such as 2025-01-31 or 2025-01-31T09:00:00Z after %s%s, not %q", t.Prop, t.Op, t.Value)}
	}
	if t.To != "" {
		_, e2, ok := parseMoment(t.To)
		if !ok {
			return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("a date at the end of the range, not %q", t.To)}
		}
		end = e2
	}
	var lo, hi time.Time
	switch t.Op {
	case ":", "=":
		lo, hi = start, end
	case ">":
		lo = end
	case ">=":
		lo = start
	case "<":
		hi = start
	case "<=":
		hi = end
	}
	yes, no := true, false
	q := bleve.NewDateRangeInclusiveQuery(lo, hi, &yes, &no)
	q.SetField(field)
	return q, nil
}

func sizeQuery(t *Term) (query.Query, error) {
	num := func(s string) (float64, bool) {
		mult := 1.0
		u := strings.ToUpper(s)
		for suf, m := range map[string]float64{"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30} {
			if strings.HasSuffix(u, suf) {
				u, mult = strings.TrimSuffix(u, suf), m
			}
		}
		f, err := strconv.ParseFloat(u, 64)
		return f * mult, err == nil && f >= 0
	}
	v, ok := num(t.Value)
	if !ok || t.Prefix {
		return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("a size in bytes (or with KB, MB, GB) after size%s, not %q", t.Op, t.Value)}
	}
	var lo, hi *float64
	yes, no := true, false
	loIncl, hiIncl := &yes, &yes
	switch t.Op {
	case ":", "=":
		lo, hi = &v, &v
		if t.To != "" {
			w, ok := num(t.To)
			if !ok {
				return nil, &SyntaxError{Pos: t.Pos, Msg: fmt.Sprintf("a size at the end of the range, not %q", t.To)}
			}
			hi = &w
		}
	case ">":
		lo, loIncl = &v, &no
	case ">=":
		lo = &v
	case "<":
		hi, hiIncl = &v, &no
	case "<=":
		hi = &v
	}
	q := bleve.NewNumericRangeInclusiveQuery(lo, hi, loIncl, hiIncl)
	q.SetField("size")
	return q, nil
}

// tokens splits text as the text analyzer does (near enough: letters and
// digits, lower case).
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}
