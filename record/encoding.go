package record

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
)

// ID is the SHA-256 of a blob's plaintext.
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first 12 hex digits, for messages.
func (id ID) Short() string { return id.String()[:12] }

func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses 64 lower-case hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("blob id %q: want 64 hex digits", s)
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id, fmt.Errorf("blob id %q: want lower-case hex digits", s)
		}
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// Ref names stored content: the SHA-256 and size of the whole plaintext, and
// when the content was split, the blobs it was split into in order. Content
// of at most one chunk is the single blob SHA256.
type Ref struct {
	Chunks []ID  `json:"chunks,omitempty"`
	SHA256 ID    `json:"sha256"`
	Size   int64 `json:"size"`
}

// Blobs returns the blob ids that hold r's content, in order.
func (r Ref) Blobs() []ID {
	if len(r.Chunks) > 0 {
		return r.Chunks
	}
	if r.Size == 0 {
		return nil
	}
	return []ID{r.SHA256}
}

// Record is one entry of a tenant's log. Its canonical encoding (Encode) is
// the Merkle tree leaf.
type Record struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Index uint64          `json:"index"`
	Refs  []Ref           `json:"refs,omitempty"`
	Time  time.Time       `json:"time"`
	Type  string          `json:"type"`
}

// ValidType reports whether t is a usable record type: dotted lower-case words.
func ValidType(t string) bool {
	if t == "" || len(t) > 64 || t[0] == '.' || t[len(t)-1] == '.' {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// Encode returns the canonical bytes of r: RFC 8785 (JCS) applied to the
// record as an object with the members data (omitted when empty), index,
// refs (omitted when empty), time (RFC 3339 in UTC, fractional seconds
// without trailing zeros) and type. See docs/STORE.md, "Records".
func Encode(r Record) ([]byte, error) {
	const op = "encode record"
	data := r.Data
	if len(data) > 0 {
		c, err := Canonical(data)
		if err != nil {
			return nil, holdfast.E(op, holdfast.Invalid, err, "data")
		}
		data = c
	}
	return appendEnvelope(make([]byte, 0, len(data)+128+len(r.Refs)*96), r, data)
}

// AppendCanonicalData is Encode for a record whose data is already the
// output of Canonical (the store's hot path: it canonicalised the data when
// the record was appended), appending the record to dst. On error dst is
// returned as it was.
func AppendCanonicalData(dst []byte, r Record) ([]byte, error) {
	b, err := appendEnvelope(dst, r, r.Data)
	if err != nil {
		return dst, err
	}
	return b, nil
}

func appendEnvelope(b []byte, r Record, data []byte) ([]byte, error) {
	const op = "encode record"
	if !ValidType(r.Type) {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "invalid record type %q", r.Type)
	}
	t := r.Time.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "record time %v is outside years 0–9999", t)
	}
	if r.Index > maxExact {
		return nil, holdfast.Errorf(op, holdfast.Invalid, "record index %d exceeds 2^53-1", r.Index)
	}
	// The members in the order RFC 8785 sorts them; every string here is
	// ASCII that needs no escaping (hex, a type name, a time).
	b = append(b, '{')
	if len(data) > 0 {
		b = append(b, `"data":`...)
		b = append(b, data...)
		b = append(b, ',')
	}
	b = append(b, `"index":`...)
	b = strconv.AppendUint(b, r.Index, 10)
	if len(r.Refs) > 0 {
		b = append(b, `,"refs":[`...)
		for i, ref := range r.Refs {
			if ref.Size < 0 || ref.Size > maxExact {
				return nil, holdfast.Errorf(op, holdfast.Invalid, "ref %d has size %d, outside 0…2^53-1", i, ref.Size)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if len(ref.Chunks) > 0 {
				b = append(b, `"chunks":[`...)
				for j, c := range ref.Chunks {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, '"')
					b = hex.AppendEncode(b, c[:])
					b = append(b, '"')
				}
				b = append(b, "],"...)
			}
			b = append(b, `"sha256":"`...)
			b = hex.AppendEncode(b, ref.SHA256[:])
			b = append(b, `","size":`...)
			b = strconv.AppendInt(b, ref.Size, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":"`...)
	b = append(b, r.Type...)
	b = append(b, `"}`...)
	return b, nil
}

// Decode parses one record and checks that the bytes are exactly the
// record's canonical encoding, so that one record has one leaf hash.
// Records written before the encoding became RFC 8785 (version 1, Go's
// encoding/json with sorted keys) are accepted in that form too; see
// docs/STORE.md for the one way the two differ.
func Decode(b []byte) (Record, error) {
	r, _, err := decode(b)
	return r, err
}

// DecodeVersion is Decode that also says which encoding the bytes are in:
// 2 for RFC 8785, 1 for the form of Holdfast's first records.
func DecodeVersion(b []byte) (Record, int, error) { return decode(b) }

func decode(b []byte) (Record, int, error) {
	const op = "decode record"
	var r Record
	if !utf8.Valid(b) {
		return r, 0, holdfast.Errorf(op, holdfast.Integrity, "record is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, 0, holdfast.E(op, holdfast.Integrity, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, 0, holdfast.Errorf(op, holdfast.Integrity, "trailing data after the record")
	}
	if !ValidType(r.Type) {
		return r, 0, holdfast.Errorf(op, holdfast.Integrity, "invalid record type %q", r.Type)
	}
	for i, ref := range r.Refs {
		if ref.Size < 0 {
			return r, 0, holdfast.Errorf(op, holdfast.Integrity, "ref %d has negative size", i)
		}
	}
	// The bytes must be exactly the record's own encoding: this rejects
	// other key orders, white space, case-folded, duplicate or missing keys
	// and non-UTC times.
	c, err := Encode(r)
	if err == nil && bytes.Equal(c, b) {
		return r, 2, nil
	}
	if v1, err1 := encodeV1(r); err1 == nil && bytes.Equal(v1, b) {
		return r, 1, nil
	}
	if err != nil {
		return r, 0, holdfast.E(op, holdfast.Integrity, err)
	}
	return r, 0, holdfast.Errorf(op, holdfast.Integrity, "record is not in canonical form")
}

// maxExact is the largest integer every IEEE 754 double holds exactly.
const maxExact = 1<<53 - 1

// Canonical returns the RFC 8785 (JSON Canonicalization Scheme) form of
// one JSON value: object members sorted by the UTF-16 code units of their
// names, no insignificant white space, strings with only the escapes JCS
// prescribes, numbers as ECMAScript writes them. It refuses what JCS cannot
// express exactly: invalid UTF-8, duplicate member names, an integer whose
// magnitude exceeds 2^53-1 (it would be rounded), and numbers out of range.
func Canonical(b []byte) ([]byte, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("JSON text is not valid UTF-8")
	}
	p := jcsParser{b: b}
	out, err := p.value(make([]byte, 0, len(b)), 0)
	if err != nil {
		return nil, err
	}
	if p.space(); p.i < len(b) {
		return nil, errors.New("trailing data after JSON value")
	}
	return out, nil
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 200

// jcsParser reads one JSON text (RFC 8259, as strictly as encoding/json)
// and writes its canonical form as it goes. It is a scanner of its own
// rather than encoding/json's Decoder because every record is
// canonicalised when it is appended and again when it is read: the
// Decoder's tokens cost an allocation or three each, this costs about one
// per object. encoding_test.go holds the Decoder-based version it must
// agree with byte for byte (FuzzCanonicalAgreesWithDecoder).
type jcsParser struct {
	b []byte
	i int
}

func (p *jcsParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jcsParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON syntax error at offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jcsParser) value(out []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxDepth)
	}
	p.space()
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of JSON input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		p.i++
		out = append(out, '[')
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return append(out, ']'), nil
		}
		for {
			var err error
			if out, err = p.value(out, depth+1); err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.b) {
				return nil, p.errorf("unexpected end of JSON input")
			}
			switch p.b[p.i] {
			case ',':
				p.i++
				out = append(out, ',')
			case ']':
				p.i++
				return append(out, ']'), nil
			default:
				return nil, p.errorf("invalid character %q after array element", p.b[p.i])
			}
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return appendString(out, s), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number(out)
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
				p.i += len(lit)
				return append(out, lit...), nil
			}
		}
		return nil, p.errorf("invalid character %q looking for beginning of value", c)
	}
}

// object reads an object and writes its members sorted by their names'
// UTF-16 code units; members are written to scratch in the order they
// come and copied out in sorted order.
func (p *jcsParser) object(out []byte, depth int) ([]byte, error) {
	type member struct {
		name       string
		start, end int
	}
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return append(out, '{', '}'), nil
	}
	var ms []member
	var scratch []byte
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errorf("looking for the beginning of an object member's name")
		}
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf("looking for ':' after an object member's name")
		}
		p.i++
		start := len(scratch)
		if scratch, err = p.value(scratch, depth+1); err != nil {
			return nil, err
		}
		ms = append(ms, member{name, start, len(scratch)})
		p.space()
		if p.i >= len(p.b) {
			return nil, p.errorf("unexpected end of JSON input")
		}
		if p.b[p.i] == '}' {
			p.i++
			break
		}
		if p.b[p.i] != ',' {
			return nil, p.errorf("invalid character %q after object member", p.b[p.i])
		}
		p.i++
	}
	slices.SortFunc(ms, func(a, b member) int { return compareUTF16(a.name, b.name) })
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			if ms[i-1].name == m.name {
				return nil, fmt.Errorf("duplicate member name %q", m.name)
			}
			out = append(out, ',')
		}
		out = appendString(out, m.name)
		out = append(out, ':')
		out = append(out, scratch[m.start:m.end]...)
	}
	return append(out, '}'), nil
}

// str reads a string and returns its value, decoding escapes as
// encoding/json does: a surrogate escape that is not half of a pair
// becomes U+FFFD.
func (p *jcsParser) str() (string, error) {
	p.i++ // "
	start := p.i
	// The common case: no escapes, so the value is the bytes as they are.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("invalid character %q in string literal", c)
		}
		p.i++
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("invalid character %q in string literal", c)
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := u4(p.b, p.i-2)
			if r < 0 {
				return "", p.errorf("invalid \\u escape in string literal")
			}
			p.i += 4
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one
				// character; anything else is U+FFFD, and an escape
				// that follows is read on its own.
				if d := utf16.DecodeRune(r, u4(p.b, p.i)); d != utf8.RuneError {
					p.i += 6
					buf = utf8.AppendRune(buf, d)
					continue
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errorf("invalid escape %q in string literal", e)
		}
	}
	return "", p.errorf("unexpected end of JSON input in string literal")
}

// u4 returns the character of the \uXXXX escape at b[i:], or -1 if there
// is none.
func u4(b []byte, i int) rune {
	if i < 0 || i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number reads a number as RFC 8259 writes it and writes it as RFC 8785
// does.
func (p *jcsParser) number(out []byte) ([]byte, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errorf("invalid character in numeric literal")
	}
	integer := true
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		integer = false
		if digits() == 0 {
			return nil, p.errorf("invalid character after decimal point in numeric literal")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		integer = false
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid character in exponent of numeric literal")
		}
	}
	lit := p.b[start:p.i]
	// An integer of at most 15 digits, other than -0, is written as it
	// came: a double holds it exactly and ECMAScript writes its digits.
	if d := bytes.TrimPrefix(lit, []byte("-")); integer && len(d) <= 15 && (d[0] != '0' || len(lit) == 1) {
		return append(out, lit...), nil
	}
	return appendNumber(out, json.Number(lit))
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names. It differs from byte order only between a character
// above U+FFFF and one in U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return cmpUnit(ra, rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// cmpUnit compares the first UTF-16 code units of two different runes.
func cmpUnit(a, b rune) int {
	ua, ub := a, b
	if a > 0xFFFF {
		ua, _ = utf16.EncodeRune(a)
	}
	if b > 0xFFFF {
		ub, _ = utf16.EncodeRune(b)
	}
	if ua != ub {
		return int(ua) - int(ub)
	}
	// The same high surrogate: the runes' order is their low surrogates'.
	return int(a) - int(b)
}

// appendString writes s as RFC 8785 does: \" \\ \b \f \n \r \t, \u00xx
// (lower-case hex) for the other controls, every other character as
// itself in UTF-8.
func appendString(out []byte, s string) []byte {
	const hexdigits = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			out = append(out, '\\', '"')
		case c == '\\':
			out = append(out, '\\', '\\')
		case c >= 0x20:
			out = append(out, c)
		case c == '\b':
			out = append(out, '\\', 'b')
		case c == '\f':
			out = append(out, '\\', 'f')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0xF])
		}
	}
	return append(out, '"')
}

// appendNumber writes n as ECMAScript's Number.prototype.toString writes
// the double nearest to it (RFC 8785 §3.2.2.3), refusing integers JCS
// would round.
func appendNumber(out []byte, n json.Number) ([]byte, error) {
	s := string(n)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("number %s is outside the range of an IEEE 754 double", s)
	}
	es6 := appendES6(nil, f)
	if !strings.ContainsAny(s, ".eE") && string(es6) != s {
		// An integer RFC 8785 would write with other digits: refuse it
		// rather than round it. (Beyond ±(2^53-1) only integers a double
		// holds exactly, as ECMAScript writes them, such as 1e20's
		// 100000000000000000000, keep their digits.)
		if i, err := strconv.ParseInt(s, 10, 64); err != nil || i > maxExact || i < -maxExact {
			return nil, fmt.Errorf("integer %s is outside ±(2^53-1): RFC 8785 would round it; store it as a string", s)
		}
	}
	return append(out, es6...), nil
}

// appendES6 formats a finite double as ECMAScript does: the shortest
// digits that round-trip, in plain notation for 1e-6 ≤ |f| < 1e21 and in
// exponent notation (e-7, e+21) outside it; negative zero is "0".
func appendES6(out []byte, f float64) []byte {
	if f == 0 {
		return append(out, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	start := len(out)
	out = strconv.AppendFloat(out, f, format, -1, 64)
	if format == 'e' {
		// strconv writes e-07 and e+07; ECMAScript writes e-7 and e+7.
		tail := out[start:]
		if n := len(tail); n >= 4 && tail[n-4] == 'e' && tail[n-2] == '0' {
			out = append(out[:len(out)-2], tail[n-1])
		}
	}
	return out
}

// encodeV1 is the record encoding of Holdfast's first records: Go's
// encoding/json over the decoded data, with sorted keys and HTML escaping
// off. It differs from RFC 8785 in escaping U+2028 and U+2029 as \u2028
// and \u2029, in writing invalid UTF-8 as \ufffd, in sorting member names
// by UTF-8 bytes rather than UTF-16 code units, and in keeping a number's
// text. Only Decode uses it: nothing is written in it any more.
func encodeV1(r Record) ([]byte, error) {
	if len(r.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.Data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		d, err := marshalV1(v)
		if err != nil {
			return nil, err
		}
		r.Data = d
	}
	r.Time = r.Time.UTC()
	return marshalV1(r)
}

func marshalV1(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
