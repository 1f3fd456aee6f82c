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
	return encodeEnvelope(r, data)
}

// EncodeCanonicalData is Encode for a record whose data is already the
// output of Canonical (the store's hot path: it canonicalised the data when
// the record was appended).
func EncodeCanonicalData(r Record) ([]byte, error) { return encodeEnvelope(r, r.Data) }

func encodeEnvelope(r Record, data []byte) ([]byte, error) {
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
	b := make([]byte, 0, len(data)+128+len(r.Refs)*96)
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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	out := make([]byte, 0, len(b))
	out, err := canonicalValue(out, dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return out, nil
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 200

func canonicalValue(out []byte, dec *json.Decoder, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			out = append(out, '[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out = append(out, ',')
				}
				if out, err = canonicalValue(out, dec, depth+1); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return append(out, ']'), nil
		case '{':
			// Members are written to scratch in the order they come and
			// copied out in sorted order.
			type member struct {
				name       string
				start, end int
			}
			var ms []member
			var scratch []byte
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				name, _ := k.(string)
				start := len(scratch)
				if scratch, err = canonicalValue(scratch, dec, depth+1); err != nil {
					return nil, err
				}
				ms = append(ms, member{name, start, len(scratch)})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
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
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return appendString(out, t), nil
	case json.Number:
		return appendNumber(out, t)
	case bool:
		if t {
			return append(out, "true"...), nil
		}
		return append(out, "false"...), nil
	case nil:
		return append(out, "null"...), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
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
