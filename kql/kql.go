// Package kql parses the subset of Microsoft Purview's Keyword Query
// Language that Holdfast searches, holds and exports take, into a syntax
// tree that the index evaluates and holds store. It has no dependency on
// the index.
package kql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The KQL subset of Microsoft Purview eDiscovery searches:
//
//	query   = or
//	or      = and { "OR" and }
//	and     = unary { ["AND"] unary }        (implicit AND)
//	unary   = ("NOT" | "-" | "+") unary | near
//	near    = primary { "NEAR" ["(" n ")"] primary }
//	primary = "(" or ")" | prop op value | word | "phrase"
//	op      = ":" | "=" | "<" | ">" | "<=" | ">=" | "<>"
//	value   = word | "phrase" | word ".." word
//
// Operators are upper case, as in Purview (lower-case "and" is a word);
// a word ending in "*" is a prefix.

// Node is a parsed KQL query.
type Node interface {
	String() string // the canonical KQL of the node; it parses back to an equal node
}

// And matches what every one of its terms matches.
type And struct{ Terms []Node }

// Or matches what any of its terms matches.
type Or struct{ Terms []Node }

// Not matches what X does not.
type Not struct{ X Node }

// Near matches items where Left and Right (words or phrases) occur within
// N words of each other in the same text.
type Near struct {
	Left, Right *Term
	N           int
}

// Term is a free-text word or phrase, or a property restriction.
type Term struct {
	Prop   string // lower case; "" for free text
	Op     string // ":", "=", "<", ">", "<=", ">=", "<>"
	Value  string
	To     string // the end of a range a..b
	Phrase bool   // Value was quoted
	Prefix bool   // Value ended in "*" (which is not part of Value)
	Pos    int    // where the term starts in the query (byte offset), for errors
}

func (a *And) String() string { return join(a.Terms, " AND ") }
func (o *Or) String() string  { return join(o.Terms, " OR ") }
func (n *Not) String() string { return "NOT " + wrap(n.X) }
func (n *Near) String() string {
	return fmt.Sprintf("%s NEAR(%d) %s", n.Left, n.N, n.Right)
}

func (t *Term) String() string {
	var b strings.Builder
	if t.Prop != "" {
		b.WriteString(t.Prop)
		b.WriteString(t.Op)
	}
	b.WriteString(quoteIfNeeded(t.Value, t.Phrase))
	if t.Prefix {
		b.WriteByte('*')
	}
	if t.To != "" {
		b.WriteString("..")
		b.WriteString(quoteIfNeeded(t.To, false))
	}
	return b.String()
}

func quoteIfNeeded(v string, phrase bool) string {
	if phrase {
		return `"` + v + `"`
	}
	return v
}

func join(ns []Node, sep string) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = wrap(n)
	}
	return "(" + strings.Join(parts, sep) + ")"
}

func wrap(n Node) string {
	if _, ok := n.(*Near); ok {
		return "(" + n.String() + ")"
	}
	return n.String()
}

func isOperator(w string) bool {
	return w == "AND" || w == "OR" || w == "NOT" || w == "NEAR" || strings.HasPrefix(w, "NEAR(")
}

// knownProps are the searchable properties.
var knownProps = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "participants": true, "recipients": true,
	"subject": true, "sent": true, "received": true, "hasattachment": true, "attachmentnames": true,
	"filename": true, "fileextension": true, "filetype": true, "author": true, "kind": true, "size": true,
	"title": true, "created": true, "lastmodifiedtime": true, "custodian": true, "folder": true, "date": true, "deleted": true,
}

// SyntaxError is a malformed query: where, and what was expected.
type SyntaxError struct {
	Pos int // byte offset, from 0
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query position %d: %s", e.Pos+1, e.Msg)
}

type token struct {
	pos  int
	text string
	kind byte // 'w' word, 'p' phrase, '(' , ')'
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	// space reports whether a white-space character starts s[j:]: decoded
	// as UTF-8, so that the bytes of "à" (C3 A0) or "Å" (C3 85) are never
	// taken for U+00A0 or U+0085.
	space := func(j int) (bool, int) {
		r, n := utf8.DecodeRuneInString(s[j:])
		return unicode.IsSpace(r), n
	}
	for i < len(s) {
		c := s[i]
		if sp, n := space(i); sp {
			i += n
			continue
		}
		switch {
		case c == '(' || c == ')':
			out = append(out, token{i, string(c), c})
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, &SyntaxError{i, `a closing " for this phrase`}
			}
			out = append(out, token{i, s[i+1 : i+1+j], 'p'})
			i += j + 2
		default:
			j := i
			for j < len(s) && s[j] != '(' && s[j] != ')' {
				if sp, _ := space(j); sp {
					break
				}
				if s[j] == '"' {
					// A phrase right after a property: subject:"a b".
					k := strings.IndexByte(s[j+1:], '"')
					if k < 0 {
						return nil, &SyntaxError{j, `a closing " for this phrase`}
					}
					j += k + 2
					continue
				}
				_, n := utf8.DecodeRuneInString(s[j:])
				j += n
			}
			out = append(out, token{i, s[i:j], 'w'})
			i = j
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	i    int
	end  int
}

// Parse parses a KQL query.
func Parse(q string) (Node, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, &SyntaxError{0, "a search term; the query is empty"}
	}
	p := &parser{toks: toks, end: len(q)}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		return nil, &SyntaxError{t.pos, fmt.Sprintf("an operator or the end of the query, not %q", t.text)}
	}
	return n, nil
}

func (p *parser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

func (p *parser) pos() int {
	if t := p.peek(); t != nil {
		return t.pos
	}
	return p.end
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t != nil && t.kind == 'w' && t.text == w
}

func (p *parser) or() (Node, error) {
	first, err := p.and()
	if err != nil {
		return nil, err
	}
	terms := []Node{first}
	for p.isWord("OR") {
		p.i++
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return &Or{terms}, nil
}

func (p *parser) startsUnary() bool {
	t := p.peek()
	if t == nil || t.kind == ')' {
		return false
	}
	return !(t.kind == 'w' && (t.text == "OR" || t.text == "AND" || t.text == "NEAR" || strings.HasPrefix(t.text, "NEAR(")))
}

func (p *parser) and() (Node, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	terms := []Node{first}
	for {
		if p.isWord("AND") {
			p.i++
		} else if !p.startsUnary() {
			break
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return &And{terms}, nil
}

func (p *parser) unary() (Node, error) {
	t := p.peek()
	if t == nil {
		return nil, &SyntaxError{p.end, "a search term after the operator"}
	}
	if t.kind == 'w' && t.text == "NOT" {
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Not{x}, nil
	}
	if t.kind == 'w' && len(t.text) > 1 && (t.text[0] == '-' || t.text[0] == '+') {
		neg := t.text[0] == '-'
		t.text, t.pos = t.text[1:], t.pos+1
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if neg {
			return &Not{x}, nil
		}
		return x, nil
	}
	return p.near()
}

func (p *parser) near() (Node, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t == nil || t.kind != 'w' || !(t.text == "NEAR" || strings.HasPrefix(t.text, "NEAR(")) {
			return left, nil
		}
		npos := t.pos
		p.i++
		n := 8 // Purview's default distance
		if t.text != "NEAR" {
			return nil, &SyntaxError{npos, "NEAR(n) with the number in parentheses, e.g. budget NEAR(5) approval"}
		}
		if nt := p.peek(); nt != nil && nt.kind == '(' {
			p.i++
			num := p.peek()
			if num == nil || num.kind != 'w' {
				return nil, &SyntaxError{p.pos(), "a number of words in NEAR(n)"}
			}
			v, err := strconv.Atoi(num.text)
			if err != nil || v < 0 || v > 1000 {
				return nil, &SyntaxError{num.pos, "a number of words from 0 to 1000 in NEAR(n)"}
			}
			p.i++
			if c := p.peek(); c == nil || c.kind != ')' {
				return nil, &SyntaxError{p.pos(), "a ) closing NEAR(n"}
			}
			p.i++
			n = v
		}
		right, err := p.primary()
		if err != nil {
			return nil, err
		}
		lt, lok := left.(*Term)
		rt, rok := right.(*Term)
		if !lok || !rok || lt.Prop != "" || rt.Prop != "" || lt.Prefix || rt.Prefix {
			return nil, &SyntaxError{npos, "NEAR between two words or phrases of free text"}
		}
		left = &Near{Left: lt, Right: rt, N: n}
	}
}

func (p *parser) primary() (Node, error) {
	t := p.peek()
	if t == nil {
		return nil, &SyntaxError{p.end, "a search term"}
	}
	switch t.kind {
	case '(':
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c == nil || c.kind != ')' {
			return nil, &SyntaxError{p.pos(), "a ) closing the ( at position " + strconv.Itoa(t.pos+1)}
		}
		p.i++
		return n, nil
	case ')':
		return nil, &SyntaxError{t.pos, "a search term before )"}
	case 'p':
		p.i++
		if strings.TrimSpace(t.text) == "" {
			return nil, &SyntaxError{t.pos, "words inside the quotes"}
		}
		return &Term{Value: t.text, Phrase: true, Pos: t.pos}, nil
	}
	if isOperator(t.text) {
		return nil, &SyntaxError{t.pos, fmt.Sprintf("a search term before %s", t.text)}
	}
	p.i++
	name, op, rest, ok := splitProp(t.text)
	if !ok {
		return word(t.text, t.pos)
	}
	if !knownProps[name] {
		return nil, &SyntaxError{t.pos, fmt.Sprintf("a known property, not %q (one of %s)", name, propList())}
	}
	vpos := t.pos + len(t.text) - len(rest)
	if rest == "" {
		// subject: "phrase" with a space, or an empty value.
		if nt := p.peek(); nt != nil && nt.kind == 'p' {
			p.i++
			return &Term{Prop: name, Op: op, Value: nt.text, Phrase: true, Pos: t.pos}, nil
		}
		return nil, &SyntaxError{vpos, fmt.Sprintf("a value after %s%s", name, op)}
	}
	term := &Term{Prop: name, Op: op, Pos: t.pos}
	if strings.HasPrefix(rest, `"`) {
		end := strings.IndexByte(rest[1:], '"')
		term.Value, term.Phrase = rest[1:1+end], true
		rest = rest[2+end:]
		if rest != "" && !strings.HasPrefix(rest, "..") {
			return nil, &SyntaxError{vpos, "a space after the closing quote"}
		}
	} else {
		v, r, _ := strings.Cut(rest, "..")
		term.Value = v
		if strings.Contains(rest, "..") {
			rest = ".." + r
		} else {
			rest = ""
		}
	}
	if strings.HasPrefix(rest, "..") {
		if op != ":" {
			return nil, &SyntaxError{vpos, "a range a..b only after a colon, e.g. sent:2025-01-01..2025-03-31"}
		}
		term.To = strings.Trim(rest[2:], `"`)
		if term.To == "" || term.Value == "" {
			return nil, &SyntaxError{vpos, "both ends of the range a..b"}
		}
		// A range's end is a date, a size or a number: white space or
		// parentheses in it (inside quotes) mean nothing, and would not
		// print back.
		if strings.ContainsFunc(term.To, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == ')' }) {
			return nil, &SyntaxError{vpos, "a range end without spaces, e.g. sent:2025-01-01..2025-03-31"}
		}
	}
	if !term.Phrase && strings.HasSuffix(term.Value, "*") && term.To == "" {
		term.Value, term.Prefix = strings.TrimSuffix(term.Value, "*"), true
	}
	if term.Value == "" && !term.Phrase || strings.Contains(term.Value, "*") && !term.Phrase || strings.ContainsAny(term.Value+term.To, `"`) || strings.Contains(term.To, "*") {
		return nil, &SyntaxError{vpos, "a value; * is only allowed at the end of a word, as a prefix, and quotes only around a whole value"}
	}
	return term, nil
}

func word(w string, pos int) (Node, error) {
	t := &Term{Value: w, Pos: pos}
	if strings.HasSuffix(w, "*") {
		t.Value, t.Prefix = strings.TrimSuffix(w, "*"), true
	}
	switch {
	case t.Value == "" || strings.Contains(t.Value, "*"):
		return nil, &SyntaxError{pos, "a word; * is only allowed at the end of a word, as a prefix (budg*)"}
	case strings.Contains(w, `"`):
		return nil, &SyntaxError{pos, "a space before the quoted phrase"}
	case strings.Contains(w, ".."):
		return nil, &SyntaxError{pos, "a property before the range a..b, e.g. sent:2025-01-01..2025-03-31"}
	}
	return t, nil
}

// splitProp splits "name<op>rest" where name is letters.
func splitProp(w string) (name, op, rest string, ok bool) {
	i := 0
	for i < len(w) && (w[i] >= 'a' && w[i] <= 'z' || w[i] >= 'A' && w[i] <= 'Z') {
		i++
	}
	if i == 0 || i == len(w) {
		return "", "", "", false
	}
	for _, o := range []string{"<=", ">=", "<>", ":", "=", "<", ">"} {
		if strings.HasPrefix(w[i:], o) {
			return strings.ToLower(w[:i]), o, w[i+len(o):], true
		}
	}
	return "", "", "", false
}

func propList() string {
	return "from to cc bcc participants recipients subject title sent received created lastmodifiedtime " +
		"hasattachment attachmentnames filename fileextension filetype author kind size custodian folder date deleted"
}
