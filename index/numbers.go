package index

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/registry"
)

// Numbers — amounts, invoice and phone numbers — are most of the distinct
// words of business mail, and nearly each is in one or two documents. In
// Bleve's index a word with positions costs about 35 bytes a document
// (postings with positions are never inlined in the dictionary), and a
// distinct term without them about 30 (the dictionary of random digits
// shares little): a quarter of the index at 20,000 messages. So numbers
// are kept apart:
//
//   - A text field F keeps its other words at their own positions, so the
//     gaps where numbers stand remain and phrases still count them.
//   - F_n indexes each number by its key: its first numKeyLen characters.
//     A shorter number is its own key, so a query for it, or for any
//     prefix up to numKeyLen characters, is answered by F_n alone.
//   - numpos, a stored field, holds every number with its field and
//     position. A query for a longer number (or prefix), and a phrase or
//     NEAR holding a number, read it for the documents F_n and the other
//     words leave.
//
// Which tokens are numbers is the word tokenizer's decision (Unicode word
// boundaries: "12,345.67" is one number token, "v2" and "2024q1" are
// words), made the same way when indexing and when querying.

const (
	noNumbers   = "hf_no_numbers"
	numPosField = "numpos"
	numKeyLen   = 6 // characters (part of the mapping version)
)

// numKey is the key a number is indexed by in F_n, and whether it is the
// whole number.
func numKey(n string) (string, bool) {
	i := 0
	for k := range n {
		if i == numKeyLen {
			return n[:k], false
		}
		i++
	}
	return n, i < numKeyLen
}

// positioned are the fields indexed with word positions, in the order
// numpos numbers them (part of the mapping version).
var positioned = append(textFields[:len(textFields):len(textFields)], "author", "modifiedby")

func numField(field string) string { return field + "_n" }

type noNumbersFilter struct{}

func (noNumbersFilter) Filter(in analysis.TokenStream) analysis.TokenStream {
	out := in[:0]
	for _, t := range in {
		if t.Type != analysis.Numeric {
			out = append(out, t)
		}
	}
	return out
}

func init() {
	registry.RegisterTokenFilter(noNumbers, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return noNumbersFilter{}, nil
	})
}

// The word tokenizer and lower-casing of the text analyzer (newMapping),
// without its filters: what numbers and qwords see. Both are stateless.
var (
	wordTokenizer = unicode.NewUnicodeTokenizer()
	lowerFilter   = lowercase.NewLowerCaseFilter()
)

// qword is a word of a query, as the text analyzer makes it.
type qword struct {
	w   string
	num bool // a number token: indexed in F_n, its positions in numpos
}

// qwords analyzes query text as the text analyzer analyzes a field,
// numbers kept and marked.
func qwords(s string) []qword {
	ts := lowerFilter.Filter(wordTokenizer.Tokenize([]byte(s)))
	out := make([]qword, len(ts))
	for i, t := range ts {
		out[i] = qword{string(t.Term), t.Type == analysis.Numeric}
	}
	return out
}

// numbers are a document's number tokens: per positioned field the keys
// (for F_n), and all the numbers with their positions, encoded for numpos.
type numbers struct {
	keys map[string][]string
	pos  []byte
}

// numbersOf finds the number tokens of a document's positioned fields.
// values gives each field's values as fields() indexes them: a field of
// one string, or of a list (whose words Bleve numbers per value, with the
// value's array position).
func numbersOf(values func(field string) (vs []string, list bool)) numbers {
	var n numbers
	for fi, f := range positioned {
		vs, list := values(f)
		for ap, v := range vs {
			for _, t := range lowerFilter.Filter(wordTokenizer.Tokenize([]byte(v))) {
				if t.Type != analysis.Numeric {
					continue
				}
				if n.keys == nil {
					n.keys = map[string][]string{}
				}
				if k, _ := numKey(string(t.Term)); !slices.Contains(n.keys[f], k) {
					n.keys[f] = append(n.keys[f], k)
				}
				p := uint64(t.Position)
				if list {
					p |= uint64(ap+1) << 32
				}
				n.pos = binary.AppendUvarint(n.pos, uint64(fi))
				n.pos = binary.AppendUvarint(n.pos, p)
				n.pos = binary.AppendUvarint(n.pos, uint64(len(t.Term)))
				n.pos = append(n.pos, t.Term...)
			}
		}
	}
	return n
}

// numPositions calls fn for each number token numpos holds.
func numPositions(raw []byte, fn func(field, term string, pos uint64)) error {
	for len(raw) > 0 {
		var v [3]uint64
		for i := range v {
			x, k := binary.Uvarint(raw)
			if k <= 0 {
				return fmt.Errorf("numpos: malformed")
			}
			v[i], raw = x, raw[k:]
		}
		if v[0] >= uint64(len(positioned)) || v[2] > uint64(len(raw)) {
			return fmt.Errorf("numpos: malformed")
		}
		fn(positioned[v[0]], string(raw[:v[2]]), v[1])
		raw = raw[v[2]:]
	}
	return nil
}
