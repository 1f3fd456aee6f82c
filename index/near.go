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

func (q *nearQuery) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, o search.SearcherOptions) (search.Searcher, error) {
	o.IncludeTermVectors = true
	var words []string // the distinct words of both sides, one term searcher each
	for _, w := range append(append([]string{}, q.left...), q.right...) {
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	ts := make([]search.Searcher, 0, len(words))
	closeAll := func() {
		for _, s := range ts {
			s.Close()
		}
	}
	for _, w := range words {
		field := q.field
		if q.nums[w] {
			// Numbers are found by their key in F_n, their positions in
			// numpos (analysis.go).
			field = numField(q.field)
			w, _ = numKey(w)
		}
		s, err := searcher.NewTermSearcher(ctx, r, w, field, 1, o)
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
	ns := &nearSearcher{q: q, must: must, words: words, pos: make([][]uint64, len(words))}
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
	q       *nearQuery
	segs    []*scorch.SegmentSnapshot // with offsets, the segments of the reader's documents (for numbers)
	offsets []uint64
	raw     []byte
	must    search.Searcher
	words   []string   // the distinct words of both sides
	pos     [][]uint64 // their positions in the document at hand
}

// keep reports whether a document holding every word has the two sides
// near each other; a document that does not is returned to the pool. It
// reads the term locations as the term searchers left them, without
// building maps: a common word's NEAR looks at most documents.
func (s *nearSearcher) keep(ctx *search.SearchContext, dm *search.DocumentMatch) (bool, error) {
	for i := range s.pos {
		s.pos[i] = s.pos[i][:0]
	}
	if len(s.q.nums) > 0 {
		raw, err := s.numpos(dm)
		if err != nil {
			return false, err
		}
		err = numPositions(raw, func(field, term string, p uint64) {
			if field != s.q.field {
				return
			}
			for i, w := range s.words {
				if s.q.nums[w] && (term == w || s.q.prefix && strings.HasPrefix(term, w)) {
					s.pos[i] = append(s.pos[i], p)
				}
			}
		})
		if err != nil {
			return false, err
		}
	}
	for _, l := range dm.FieldTermLocations {
		if l.Field != s.q.field {
			continue
		}
		var value uint64
		if ap := l.Location.ArrayPositions; len(ap) > 0 {
			value = ap[0] + 1
		}
		p := valuePos(l.Location.Pos, value)
		for i, w := range s.words {
			if w == l.Term {
				s.pos[i] = append(s.pos[i], p)
			}
		}
	}
	for _, p := range s.pos {
		slices.Sort(p)
	}
	ls := s.starts(s.q.left)
	ok := len(s.q.right) == 0 && len(ls) > 0
	rs := s.starts(s.q.right)
	nl, nr := uint64(len(s.q.left)), uint64(len(s.q.right))
	for _, a := range ls {
		for _, b := range rs {
			// words between the end of one side and the start of the other
			if (b > a+nl-1 && b-(a+nl-1)-1 <= uint64(s.q.n)) || (a > b+nr-1 && a-(b+nr-1)-1 <= uint64(s.q.n)) {
				ok = true
				break
			}
		}
		if ok {
			break
		}
	}
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
	s.raw = s.raw[:0]
	err := s.segs[i].VisitDocument(n-s.offsets[i], func(name string, _ byte, v []byte, _ []uint64) bool {
		if name == numPosField {
			s.raw = append(s.raw, v...)
			return false
		}
		return true
	})
	return s.raw, err
}

// starts returns the positions where the words of a side begin in
// sequence.
func (s *nearSearcher) starts(side []string) []uint64 {
	if len(side) == 0 {
		return nil
	}
	at := func(w string) []uint64 { return s.pos[slices.Index(s.words, w)] }
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
