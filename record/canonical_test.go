package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"unicode/utf8"
)

// canonicalByDecoder is Canonical as it was first written, on
// encoding/json's Decoder: slower, but with the Decoder's reading of JSON.
// Canonical must agree with it byte for byte, on what it accepts and on
// what it refuses, or records written by one would not verify under the
// other.
func canonicalByDecoder(b []byte) ([]byte, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("JSON text is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	out := make([]byte, 0, len(b))
	out, err := decoderValue(out, dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return out, nil
}

func decoderValue(out []byte, dec *json.Decoder, depth int) ([]byte, error) {
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
				if out, err = decoderValue(out, dec, depth+1); err != nil {
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
				if scratch, err = decoderValue(scratch, dec, depth+1); err != nil {
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

// FuzzCanonicalAgreesWithDecoder: the hand-written scanner and the
// Decoder-based version accept the same texts and write the same bytes.
func FuzzCanonicalAgreesWithDecoder(f *testing.F) {
	for _, s := range []string{
		`{"b":[1.50,true],"a":"€"}`, `{"\ud83d\ude02":1,"\ufb33":2}`, `[1e400]`, `"a\u2028"`, `{"a":{"a":{}}}`,
		`-0.0`, `-0`, `0`, `9007199254740993`, `123456789012345`, `1234567890123456`, `-00`, `01`, `1.`, `.5`, `1e`, `1E+2`,
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud83d\ude02\ud83d"`, `"\ud800\ud800\udc00"`, `"\uD83D\uDE02"`,
		`"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", `"\/\b\f\n\r\t\"\\"`, ` [ 1 , 2 ] `, `[1,]`, `{"a":1,}`, `{"a" 1}`,
		`{"a":1 "b":2}`, `{"a":1,"a":2}`, `tru`, `nul`, `true false`, `{}`, `[]`, `{ }`, `[ ]`, ``, ` `, `"`, `{"a":`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := Canonical(b)
		want, wantErr := canonicalByDecoder(b)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("Canonical(%q): error %v; the Decoder's version: %v", b, gotErr, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%q) = %q; the Decoder's version wrote %q", b, got, want)
		}
	})
}
