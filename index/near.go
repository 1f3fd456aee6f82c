package index

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
)

// nearQuery matches documents whose field holds the words of Left and of
// Right (each a word or a phrase, in sequence) with at most N other words
// between them, in either order; with no Right, the phrase Left. It is a
// Bleve query like any other, so NEAR of any width combines with anything
// (OR, NOT, counts, month windows): its searcher walks the documents that
// hold every word, with their positions, and keeps those where the
// phrase is, or the two sides are near enough. (Bleve's own phrase
// searcher builds maps of every location of every candidate: twice the
// time.)
type nearQuery struct {
	field       string
	left, right []string
	n           int
	nums        map[string]bool // the words that are numbers (analysis.go)
	prefix      bool            // left is a number prefix: numbers beginning with it
}

func newNearQuery(field string, left, right []qword, n int) *nearQuery {
	q := &nearQuery{field: field, n: n}
	for _, w := range left {
		q.left = append(q.left, w.w)
	}
	for _, w := range right {
		q.right = append(q.right, w.w)
	}
	for _, w := range append(left[:len(left):len(left)], right...) {
		if w.num {
			if q.nums == nil {
				q.nums = map[string]bool{}
			}
			q.nums[w.w] = true
		}
	}
	return q
}

// words are the distinct words of both sides.
func (q *nearQuery) words() []string {
	var words []string
	for _, w := range append(append([]string{}, q.left...), q.right...) {
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// termOf is the field and term a word is found by: a number by its key
// in F_n, its positions in numpos (analysis.go).
func (q *nearQuery) termOf(w string) (field, term string) {
	if q.nums[w] {
		k, _ := numKey(w)
		return numField(q.field), k
	}
	return q.field, w
}

func (q *nearQuery) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, o search.SearcherOptions) (search.Searcher, error) {
	o.IncludeTermVectors = true
	check := newNearCheck(q)
	words := check.words // one term searcher each
	ts := make([]search.Searcher, 0, len(words))
	closeAll := func() {
		for _, s := range ts {
			s.Close()
		}
	}
	for _, w := range words {
		field, term := q.termOf(w)
		s, err := searcher.NewTermSearcher(ctx, r, term, field, 1, o)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("NEAR: %w", err)
		}
		if s.Count() == 0 {
			// A word the field does not hold: nothing matches. The empty
			// term searcher stands for the whole, so that a disjunction
			// of term searchers (a phrase over every text field, where
			// most do not hold its words) keeps Bleve's optimization
			// that ORs their postings (a fifth of the time).
			closeAll()
			return s, nil
		}
		ts = append(ts, s)
	}
	must, err := searcher.NewConjunctionSearcher(ctx, r, ts, o)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("NEAR: %w", err)
	}
	ns := &nearSearcher{nearCheck: check, must: must}
	if len(q.nums) > 0 {
		// numpos is read straight from the document's segment: through
		// Document, each read also looked the document's id up twice.
		is, ok := r.(*scorch.IndexSnapshot)
		if !ok {
			must.Close()
			return nil, fmt.Errorf("NEAR: index reader %T: numbers cannot be read", r)
		}
		var at uint64
		for _, seg := range is.Segments() {
			ns.segs, ns.offsets = append(ns.segs, seg), append(ns.offsets, at)
			at += seg.Segment().Count()
		}
	}
	return ns, nil
}

type nearSearcher struct {
	nearCheck
	segs    []*scorch.SegmentSnapshot // with offsets, the segments of the reader's documents (for numbers)
	offsets []uint64
	raw     []byte
	must    search.Searcher
}

// keep reports whether a document holding every word has the two sides
// near each other; a document that does not is returned to the pool. It
// reads the term locations as the term searchers left them, without
// building maps: a common word's NEAR looks at most documents.
func (s *nearSearcher) keep(ctx *search.SearchContext, dm *search.DocumentMatch) (bool, error) {
	s.reset()
	if len(s.q.nums) > 0 {
		raw, err := s.numpos(dm)
		if err != nil {
			return false, err
		}
		if err := s.addNumbers(raw); err != nil {
			return false, err
		}
	}
	for _, l := range dm.FieldTermLocations {
		if l.Field != s.q.field {
			continue
		}
		if i := slices.Index(s.words, l.Term); i >= 0 {
			s.add(i, l.Location.Pos, l.Location.ArrayPositions)
		}
	}
	ok := s.near()
	dm.Locations, dm.FieldTermLocations = nil, dm.FieldTermLocations[:0]
	if !ok {
		ctx.DocumentMatchPool.Put(dm)
	}
	return ok, nil
}

// numpos reads the numbers of a document (analysis.go).
func (s *nearSearcher) numpos(dm *search.DocumentMatch) ([]byte, error) {
	n := dm.IndexInternalID.Value()
	i := sort.Search(len(s.offsets), func(i int) bool { return s.offsets[i] > n }) - 1
	if i < 0 {
		return nil, fmt.Errorf("document %d in no segment", n)
	}
	var err error
	s.raw, err = readNumpos(s.segs[i], n-s.offsets[i], s.raw[:0])
	return s.raw, err
}

// readNumpos appends the numpos of document doc of seg to raw.
func readNumpos(seg *scorch.SegmentSnapshot, doc uint64, raw []byte) ([]byte, error) {
	err := seg.VisitDocument(doc, func(name string, _ byte, v []byte, _ []uint64) bool {
		if name == numPosField {
			raw = append(raw, v...)
			return false
		}
		return true
	})
	return raw, err
}

// nearCheck decides a nearQuery for one document at a time from the
// positions of its words there, however they were read.
type nearCheck struct {
	q     *nearQuery
	words []string   // the distinct words of both sides
	pos   [][]uint64 // their positions in the document at hand (valuePos)
}

func newNearCheck(q *nearQuery) nearCheck {
	words := q.words()
	return nearCheck{q: q, words: words, pos: make([][]uint64, len(words))}
}

// reset forgets the document before.
func (c *nearCheck) reset() {
	for i := range c.pos {
		c.pos[i] = c.pos[i][:0]
	}
}

// add records that word i is at pos in value ap[0] of the field.
func (c *nearCheck) add(i int, pos uint64, ap []uint64) {
	var value uint64
	if len(ap) > 0 {
		value = ap[0] + 1
	}
	c.pos[i] = append(c.pos[i], valuePos(pos, value))
}

// addNumbers records the positions of the query's numbers in the field
// from the document's numpos.
func (c *nearCheck) addNumbers(raw []byte) error {
	return numPositions(raw, func(field, term string, p uint64) {
		if field != c.q.field {
			return
		}
		for i, w := range c.words {
			if c.q.nums[w] && (term == w || c.q.prefix && strings.HasPrefix(term, w)) {
				c.pos[i] = append(c.pos[i], p)
			}
		}
	})
}

// near reports whether the document's positions hold the phrase, or the
// two sides near enough.
func (c *nearCheck) near() bool {
	for _, p := range c.pos {
		slices.Sort(p)
	}
	ls := c.starts(c.q.left)
	if len(c.q.right) == 0 {
		return len(ls) > 0
	}
	rs := c.starts(c.q.right)
	nl, nr := uint64(len(c.q.left)), uint64(len(c.q.right))
	for _, a := range ls {
		for _, b := range rs {
			// words between the end of one side and the start of the other
			if (b > a+nl-1 && b-(a+nl-1)-1 <= uint64(c.q.n)) || (a > b+nr-1 && a-(b+nr-1)-1 <= uint64(c.q.n)) {
				return true
			}
		}
	}
	return false
}

// starts returns the positions where the words of a side begin in
// sequence.
func (c *nearCheck) starts(side []string) []uint64 {
	if len(side) == 0 {
		return nil
	}
	at := func(w string) []uint64 { return c.pos[slices.Index(c.words, w)] }
	var out []uint64
	for _, p := range at(side[0]) {
		in := true
		for k, w := range side[1:] {
			if _, found := slices.BinarySearch(at(w), p+uint64(k)+1); !found {
				in = false
				break
			}
		}
		if in {
			out = append(out, p)
		}
	}
	return out
}

func (s *nearSearcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	for {
		dm, err := s.must.Next(ctx)
		if err != nil || dm == nil {
			return nil, err
		}
		if ok, err := s.keep(ctx, dm); err != nil || ok {
			return keptOrNil(dm, ok), err
		}
	}
}

func keptOrNil(dm *search.DocumentMatch, ok bool) *search.DocumentMatch {
	if !ok {
		return nil
	}
	return dm
}

func (s *nearSearcher) Advance(ctx *search.SearchContext, id index.IndexInternalID) (*search.DocumentMatch, error) {
	dm, err := s.must.Advance(ctx, id)
	if err != nil || dm == nil {
		return nil, err
	}
	if ok, err := s.keep(ctx, dm); err != nil || ok {
		return keptOrNil(dm, ok), err
	}
	return s.Next(ctx)
}

func (s *nearSearcher) Close() error               { return s.must.Close() }
func (s *nearSearcher) Weight() float64            { return s.must.Weight() }
func (s *nearSearcher) SetQueryNorm(n float64)     { s.must.SetQueryNorm(n) }
func (s *nearSearcher) Count() uint64              { return s.must.Count() } // at most
func (s *nearSearcher) Min() int                   { return 0 }
func (s *nearSearcher) Size() int                  { return s.must.Size() }
func (s *nearSearcher) DocumentMatchPoolSize() int { return s.must.DocumentMatchPoolSize() + 1 }
