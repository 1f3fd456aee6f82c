package index

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// Counting a common word's hits through Bleve's collector costs about
// 40 ns a hit (3 ms for 80,000), more than the rest of the search. Most
// queries are terms combined with AND, OR and NOT, and for those the hits
// of each segment are the postings' bitmaps combined the same way: a
// hitSet. A phrase or NEAR (nearQuery) is bounded by the bitmap of the
// documents holding all its words; the documents its bounds leave in
// doubt are checked one by one by Bleve's searcher for the whole query,
// when the exact count is needed.
// A query holding anything else (ranges, for one) is counted by Bleve.

// hitSet is the hits of a query in each segment of one index snapshot:
// those sure, and the documents in doubt until exact decides them.
type hitSet struct {
	snap     *scorch.IndexSnapshot
	q        query.Query
	segs     []*scorch.SegmentSnapshot
	hits     []*roaring.Bitmap // per segment, deleted documents removed
	doubt    []*roaring.Bitmap // per segment, the documents that may match besides (nil: none)
	prefixes map[[2]string][]string
	exactRun int // see bounds.exactRun
}

// errNoBitmap says a query holds a kind of query hits cannot compute.
var errNoBitmap = fmt.Errorf("query not computable on bitmaps")

// hits computes the bounds of q's hits in the snapshot r; errNoBitmap if
// it cannot.
func hits(r index.IndexReader, q query.Query) (*hitSet, error) {
	is, ok := r.(*scorch.IndexSnapshot)
	if !ok || !bitmapable(q) {
		return nil, errNoBitmap
	}
	hs := &hitSet{snap: is, q: q, segs: is.Segments(), prefixes: map[[2]string][]string{}}
	hs.doubt = make([]*roaring.Bitmap, len(hs.segs))
	for i, seg := range hs.segs {
		b := bounds{seg: seg, snap: is, prefixes: hs.prefixes}
		lo, hi, err := b.eval(q)
		if err != nil {
			return nil, err
		}
		lo, hi = hs.live(i, lo, hi)
		if lo != hi && !lo.Equals(hi) {
			hs.doubt[i] = roaring.AndNot(hi, lo)
		}
		hs.hits = append(hs.hits, lo)
	}
	return hs, nil
}

// live takes segment i's deleted documents out of lo and hi.
func (hs *hitSet) live(i int, lo, hi *roaring.Bitmap) (*roaring.Bitmap, *roaring.Bitmap) {
	del := hs.segs[i].Deleted()
	switch {
	case del == nil || del.IsEmpty():
		return lo, hi
	case lo == hi:
		lo = roaring.AndNot(lo, del)
		return lo, lo
	}
	return roaring.AndNot(lo, del), roaring.AndNot(hi, del)
}

// exact decides the documents in doubt: each phrase or NEAR of the query
// is checked, straight from the segment's postings and their positions,
// in those of its possible documents that are in doubt, and the query is
// evaluated again with those. Many documents in doubt (a phrase of words
// in nearly every item) are cut into runs checked side by side.
func (hs *hitSet) exact(ctx context.Context) error {
	nqs := nearQueries(hs.q, nil)
	for i, doubt := range hs.doubt {
		if doubt == nil {
			continue
		}
		b := bounds{seg: hs.segs[i], snap: hs.snap, prefixes: hs.prefixes, decided: map[*nearQuery]*roaring.Bitmap{}, exactRun: hs.exactRun}
		for _, nq := range nqs {
			if _, done := b.decided[nq]; done {
				continue
			}
			_, hi, err := b.eval(nq)
			if err != nil {
				return err
			}
			if b.decided[nq], err = b.checkNear(ctx, nq, roaring.And(hi, doubt)); err != nil {
				return err
			}
		}
		lo, hi, err := b.eval(hs.q)
		if err != nil {
			return err
		}
		if lo, hi = hs.live(i, lo, hi); !lo.Equals(hi) {
			return fmt.Errorf("index: %d documents still in doubt once every phrase was checked", roaring.AndNot(hi, lo).GetCardinality())
		}
		hs.hits[i], hs.doubt[i] = lo, nil
	}
	return nil
}

// nearQueries appends the nearQueries in q to qs.
func nearQueries(q query.Query, qs []*nearQuery) []*nearQuery {
	switch q := q.(type) {
	case *nearQuery:
		return append(qs, q)
	case *query.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			qs = nearQueries(c, qs)
		}
	case *query.DisjunctionQuery:
		for _, c := range q.Disjuncts {
			qs = nearQueries(c, qs)
		}
	case *query.BooleanQuery:
		for _, c := range []query.Query{q.Must, q.Should, q.MustNot} {
			if c != nil {
				qs = nearQueries(c, qs)
			}
		}
	}
	return qs
}

// checkNear returns those of docs where the words of q stand as q asks,
// read from the segment's postings: in runs side by side when there are
// many.
func (b *bounds) checkNear(ctx context.Context, q *nearQuery, docs *roaring.Bitmap) (*roaring.Bitmap, error) {
	all := docs.ToArray()
	runs := 1
	if b.exactRun > 1 && len(all) >= b.exactRun {
		runs = min(runtime.GOMAXPROCS(0), len(all)/(b.exactRun/2))
	}
	kept := make([][]uint32, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		lo, hi := len(all)*i/runs, len(all)*(i+1)/runs
		wg.Go(func() { kept[i], errs[i] = b.checkNearRun(ctx, q, all[lo:hi]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := roaring.New()
	for _, k := range kept {
		out.AddMany(k)
	}
	return out, nil
}

// checkNearRun is checkNear over docs, ascending.
func (b *bounds) checkNearRun(ctx context.Context, q *nearQuery, docs []uint32) ([]uint32, error) {
	c := newNearCheck(q)
	// Each word's postings with positions, and the posting they stand at
	// (a posting past the document at hand stays for the next).
	type word struct {
		it   segment.PostingsIterator // nil for numbers: their positions are in numpos
		at   segment.Posting
		done bool
	}
	ws := make([]word, len(c.words))
	d, err := b.seg.Segment().Dictionary(q.field)
	if err != nil {
		return nil, err
	}
	for i, w := range c.words {
		if q.nums[w] {
			continue
		}
		pl, err := d.PostingsList([]byte(w), nil, nil)
		if err != nil {
			return nil, err
		}
		ws[i].it = pl.Iterator(true, false, true, nil)
	}
	var out []uint32
	var raw []byte
	for n, doc := range docs {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c.reset()
		for i := range ws {
			w := &ws[i]
			if w.it == nil || w.done {
				continue
			}
			if w.at == nil || w.at.Number() < uint64(doc) {
				p, err := w.it.Advance(uint64(doc))
				if err != nil {
					return nil, err
				}
				w.at, w.done = p, p == nil
			}
			if w.at == nil || w.at.Number() != uint64(doc) {
				continue // not in this document: no positions
			}
			for _, l := range w.at.Locations() {
				c.add(i, l.Pos(), l.ArrayPositions())
			}
		}
		if len(q.nums) > 0 {
			var err error
			if raw, err = readNumpos(b.seg, uint64(doc), raw[:0]); err == nil {
				err = c.addNumbers(raw)
			}
			if err != nil {
				return nil, err
			}
		}
		if c.near() {
			out = append(out, doc)
		}
	}
	return out, nil
}

// sure is how many hits there are at least, most how many at most; once
// exact has run they are equal.
func (hs *hitSet) sure() int {
	var n uint64
	for _, b := range hs.hits {
		n += b.GetCardinality()
	}
	return int(n)
}

func (hs *hitSet) most() int {
	n := hs.sure()
	for _, d := range hs.doubt {
		if d != nil {
			n += int(d.GetCardinality())
		}
	}
	return n
}

// countTerm is how many of the sure hits hold term in field.
func (hs *hitSet) countTerm(field, term string) (int, error) {
	var n uint64
	for i, seg := range hs.segs {
		if hs.hits[i].IsEmpty() {
			continue
		}
		b, err := (&bounds{seg: seg}).term(field, term)
		if err != nil {
			return 0, err
		}
		n += hs.hits[i].AndCardinality(b)
	}
	return int(n), nil
}

// bitmapable reports whether hits can compute q: terms, prefixes, AND, OR, NOT,
// everything and nothing, and nearQuery; nothing Bleve treats otherwise
// than as sets (a disjunction needing two of its parts, a boolean with
// optional or filtering clauses).
func bitmapable(q query.Query) bool {
	switch q := q.(type) {
	case *query.TermQuery:
		return q.FieldVal != ""
	case *query.PrefixQuery:
		return q.FieldVal != ""
	case *query.BoolFieldQuery:
		return q.FieldVal != ""
	case *query.MatchAllQuery, *query.MatchNoneQuery, *nearQuery:
		return true
	case *query.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			if !bitmapable(c) {
				return false
			}
		}
		return true
	case *query.DisjunctionQuery:
		if q.Min > 1 {
			return false
		}
		for _, c := range q.Disjuncts {
			if !bitmapable(c) {
				return false
			}
		}
		return true
	case *query.BooleanQuery:
		if q.Should != nil || q.Filter != nil {
			return false
		}
		for _, c := range []query.Query{q.Must, q.MustNot} {
			if c != nil && !bitmapable(c) {
				return false
			}
		}
		return true
	}
	return false
}

// none reports whether Bleve's searcher for q is its match-none searcher,
// which a boolean query takes for an absent clause.
func none(q query.Query) bool {
	switch q := q.(type) {
	case *query.MatchNoneQuery:
		return true
	case *query.ConjunctionQuery:
		return len(q.Conjuncts) == 0
	case *query.DisjunctionQuery:
		return len(q.Disjuncts) == 0
	}
	return false
}

// bounds evaluates a query in one segment to the documents sure to match
// (lo) and those that may (hi), deleted ones included; they differ only
// by nearQuery, whose sure documents are none and possible ones those
// holding all its words. The bitmaps may be the segment's own: never
// modified.
type bounds struct {
	seg      *scorch.SegmentSnapshot
	snap     *scorch.IndexSnapshot
	prefixes map[[2]string][]string
	decided  map[*nearQuery]*roaring.Bitmap // nearQueries checked (exact): their documents
	empty    *roaring.Bitmap
	exactRun int // the fewest documents in doubt worth a run of their own (0: one run)
}

// prefixTerms are the terms of field that begin with prefix, as Bleve's
// prefix searcher finds them: in the whole snapshot, once for all its
// segments.
func (b *bounds) prefixTerms(field, prefix string) ([]string, error) {
	k := [2]string{field, prefix}
	if ts, ok := b.prefixes[k]; ok {
		return ts, nil
	}
	ts, err := dictTerms(b.snap.FieldDictPrefix(field, []byte(prefix)))
	if err != nil {
		return nil, err
	}
	b.prefixes[k] = ts
	return ts, nil
}

func (b *bounds) none() *roaring.Bitmap {
	if b.empty == nil {
		b.empty = roaring.New()
	}
	return b.empty
}

func (b *bounds) eval(q query.Query) (lo, hi *roaring.Bitmap, err error) {
	switch q := q.(type) {
	case *query.TermQuery:
		t, err := b.term(q.FieldVal, q.Term)
		return t, t, err
	case *query.BoolFieldQuery:
		v := "F"
		if q.Bool {
			v = "T"
		}
		t, err := b.term(q.FieldVal, v)
		return t, t, err
	case *query.PrefixQuery:
		ts, err := b.prefixTerms(q.FieldVal, q.Prefix)
		if err != nil {
			return nil, nil, err
		}
		bms := make([]*roaring.Bitmap, 0, len(ts))
		for _, t := range ts {
			bm, err := b.term(q.FieldVal, t)
			if err != nil {
				return nil, nil, err
			}
			bms = append(bms, bm)
		}
		u := roaring.FastOr(bms...)
		return u, u, nil
	case *query.MatchAllQuery:
		all := roaring.New()
		all.AddRange(0, b.seg.Segment().Count())
		return all, all, nil
	case *query.MatchNoneQuery:
		return b.none(), b.none(), nil
	case *nearQuery:
		if d, ok := b.decided[q]; ok {
			return d, d, nil
		}
		hi := b.none()
		for i, w := range q.words() {
			t, err := b.term(q.termOf(w))
			if err != nil {
				return nil, nil, err
			}
			if i == 0 {
				hi = t
			} else {
				hi = roaring.And(hi, t)
			}
		}
		return b.none(), hi, nil
	case *query.ConjunctionQuery:
		return b.combine(q.Conjuncts, roaring.And)
	case *query.DisjunctionQuery:
		return b.combine(q.Disjuncts, roaring.Or)
	case *query.BooleanQuery:
		var must, mustNot query.Query
		if q.Must != nil && !none(q.Must) {
			must = q.Must
		}
		if q.MustNot != nil && !none(q.MustNot) {
			mustNot = q.MustNot
		}
		switch {
		case must == nil && mustNot == nil:
			return b.none(), b.none(), nil
		case must == nil:
			must = query.NewMatchAllQuery()
		}
		lo, hi, err := b.eval(must)
		if err != nil || mustNot == nil {
			return lo, hi, err
		}
		nlo, nhi, err := b.eval(mustNot)
		if err != nil {
			return nil, nil, err
		}
		if lo == hi && nlo == nhi {
			d := roaring.AndNot(lo, nlo)
			return d, d, nil
		}
		return roaring.AndNot(lo, nhi), roaring.AndNot(hi, nlo), nil
	}
	return nil, nil, errNoBitmap
}

// combine evaluates qs and joins their bounds with op.
func (b *bounds) combine(qs []query.Query, op func(x, y *roaring.Bitmap) *roaring.Bitmap) (lo, hi *roaring.Bitmap, err error) {
	if len(qs) == 0 {
		return b.none(), b.none(), nil
	}
	for i, c := range qs {
		clo, chi, err := b.eval(c)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			lo, hi = clo, chi
			continue
		}
		same := lo == hi && clo == chi
		lo = op(lo, clo)
		if same {
			hi = lo
		} else {
			hi = op(hi, chi)
		}
	}
	return lo, hi, nil
}

// term is the postings of term in field, as a bitmap of the segment's
// document numbers (deleted ones included).
func (b *bounds) term(field, term string) (*roaring.Bitmap, error) {
	d, err := b.seg.Segment().Dictionary(field)
	if err != nil {
		return nil, err
	}
	pl, err := d.PostingsList([]byte(term), nil, nil)
	if err != nil {
		return nil, err
	}
	it, ok := pl.Iterator(false, false, false, nil).(segment.OptimizablePostingsIterator)
	if !ok {
		return nil, errNoBitmap
	}
	if n, ok := it.DocNum1Hit(); ok {
		return roaring.BitmapOf(uint32(n)), nil
	}
	if bm := it.ActualBitmap(); bm != nil {
		return bm, nil
	}
	return b.none(), nil
}
