package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

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
// Short fields — subjects and file names — also index each pair of
// adjacent words as one term, without positions, in F_2. A phrase is
// counted by reading the positions of every item holding all its words,
// about a microsecond each: a phrase of words common in subjects
// ("bank reconciliation" in 8 % of a million items) took 60 ms or more.
// A two-word phrase is now one term, and a longer one is checked only
// where all its pairs are. A subject is a few words, so the pairs cost
// under 1 % of the index; bodies would cost half the text again.
//
// Which tokens are numbers is the word tokenizer's decision (Unicode word
// boundaries: "12,345.67" is one number token, "v2" and "2024q1" are
// words), made the same way when indexing and when querying.

const (
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

// pairFields index their adjacent words as pairs in F_2 (not pairs with
// numbers: those are mostly unique).
var pairFields = map[string]bool{"subject": true, "attachmentnames": true, "filename": true}

func pairField(field string) string { return field + "_2" }

func pair(a, b string) string { return a + " " + b } // words never hold spaces

// Text is tokenized once, when a document is extracted (on every core,
// ahead of indexing): its words, lower case, are handed to Bleve joined by
// wordSep, with an empty word where a number stands, and the words
// tokenizer only splits them again, numbering positions as it goes. The
// tokens carry no byte offsets: phrases and NEAR need only positions,
// snippets are cut from the store's content, and zeros take a byte where
// offsets took four or more.
const (
	wordSep        = "\x1f" // never part of a word: word characters are letters, digits and joiners
	wordsTokenizer = "hf_words"
)

type splitWords struct{}

func (splitWords) Tokenize(in []byte) analysis.TokenStream {
	var out analysis.TokenStream
	pos := 0
	for len(in) > 0 || pos == 0 {
		w := in
		if i := bytes.IndexByte(in, wordSep[0]); i >= 0 {
			w, in = in[:i], in[i+1:]
		} else {
			in = nil
		}
		pos++
		if len(w) > 0 {
			out = append(out, &analysis.Token{Term: w, Position: pos, Type: analysis.AlphaNumeric})
		}
	}
	return out
}

func init() {
	registry.RegisterTokenizer(wordsTokenizer, func(map[string]any, *registry.Cache) (analysis.Tokenizer, error) {
		return splitWords{}, nil
	})
}

// The word tokenizer and lower-casing tokenize uses. Both are stateless.
var (
	wordTokenizer = unicode.NewUnicodeTokenizer()
	lowerFilter   = lowercase.NewLowerCaseFilter()
)

// qword is a word of a query, as the text analyzer makes it.
type qword struct {
	w   string
	num bool // a number token: indexed in F_n, its positions in numpos
}

// tokenize splits text into lower-case words and numbers, for the index
// (analyzeText) and for queries (qwords) alike. Invalid UTF-8 is replaced
// first: the tokenizer would join its bytes with the word separator.
func tokenize(s string) analysis.TokenStream {
	ts := lowerFilter.Filter(wordTokenizer.Tokenize([]byte(strings.ToValidUTF8(s, "\uFFFD"))))
	for _, t := range ts {
		if bytes.Contains(t.Term, []byte(wordSep)) { // never seen; a position off would break phrases
			t.Term = bytes.ReplaceAll(t.Term, []byte(wordSep), []byte("\uFFFD"))
		}
	}
	return ts
}

// qwords analyzes query text as the text analyzer analyzes a field,
// numbers kept and marked.
func qwords(s string) []qword {
	ts := tokenize(s)
	out := make([]qword, len(ts))
	for i, t := range ts {
		out[i] = qword{string(t.Term), t.Type == analysis.Numeric}
	}
	return out
}

// analyzedText is a document's positioned fields as the index takes
// them: each value's words (for the words tokenizer), the numbers' keys
// (for F_n) and all the numbers with their positions, encoded for numpos.
type analyzedText struct {
	words map[string][]string
	keys  map[string][]string
	pos   []byte
	pairs map[string][]string // for F_2
}

// analyzeText tokenizes a document's positioned fields. values gives each
// field's values as fields() indexes them: a field of one string, or of a
// list (whose words Bleve numbers per value, with the value's array
// position).
func analyzeText(values func(field string) (vs []string, list bool)) analyzedText {
	a := analyzedText{words: map[string][]string{}}
	var b strings.Builder
	for fi, f := range positioned {
		vs, list := values(f)
		for ap, v := range vs {
			b.Reset()
			var prev []byte // the word before, if not a number
			for i, t := range tokenize(v) {
				if i > 0 {
					b.WriteString(wordSep)
				}
				if t.Type != analysis.Numeric {
					b.Write(t.Term)
					if prev != nil && pairFields[f] {
						if a.pairs == nil {
							a.pairs = map[string][]string{}
						}
						if p := pair(string(prev), string(t.Term)); !slices.Contains(a.pairs[f], p) {
							a.pairs[f] = append(a.pairs[f], p)
						}
					}
					prev = t.Term
					continue
				}
				prev = nil
				if a.keys == nil {
					a.keys = map[string][]string{}
				}
				if k, _ := numKey(string(t.Term)); !slices.Contains(a.keys[f], k) {
					a.keys[f] = append(a.keys[f], k)
				}
				var value uint64
				if list {
					value = uint64(ap + 1)
				}
				p := valuePos(uint64(t.Position), value)
				a.pos = binary.AppendUvarint(a.pos, uint64(fi))
				a.pos = binary.AppendUvarint(a.pos, p)
				a.pos = binary.AppendUvarint(a.pos, uint64(len(t.Term)))
				a.pos = append(a.pos, t.Term...)
			}
			a.words[f] = append(a.words[f], b.String())
		}
	}
	return a
}

// valuePos is a word's position as phrases compare them. A field of
// several values (a file's name whole and split) numbers the words of
// each value from 1: the value (1 for the first of a list, 0 for a field
// of one value) goes in the high bits, so that words of two values are
// never next to each other.
func valuePos(pos, value uint64) uint64 { return pos | value<<32 }

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
