package record

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The examples of RFC 8785 §3.2.2 (values) and §3.2.3 (sorting), and the
// structures and Unicode examples published with it.
func TestCanonicalRFC8785Examples(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"values",
			`{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{"sorting",
			`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\u000a": "Newline",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
}`,
			"{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u0080\":\"Control\u007f\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😂\":\"Smiley\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{"structures",
			`{
  "1": {"f": {"f": "hi","F": 5} ,"\n": 56.0},
  "10": { },
  "": "empty",
  "a": { },
  "111": [ {"e": "yes","E": "no" } ],
  "A": { }
}`,
			`{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{},"a":{}}`},
		{"unnormalized unicode stays as it is", `{"Unnormalized Unicode":"A\u030a"}`, "{\"Unnormalized Unicode\":\"A\u030a\"}"},
		// Where Go's encoding/json (Holdfast's version 1) differs.
		{"line and paragraph separators are not escaped", `{"s":"a\u2028b\u2029c"}`, "{\"s\":\"a\u2028b\u2029c\"}"},
		{"HTML characters are not escaped", `{"s":"<a&b>"}`, `{"s":"<a&b>"}`},
		{"controls", `{"s":"\u0000\u0008\u000c\u001f\u007f"}`, "{\"s\":\"\\u0000\\b\\f\\u001f\u007f\"}"},
		{"high surrogate before U+E000 in UTF-16 order", `{"\ufb33":1,"\ud83d\ude02":2}`, "{\"😂\":2,\"\ufb33\":1}"},
		{"negative zero", `[-0, -0.0, 0e5]`, `[0,0,0]`},
		{"largest exact integers", `[9007199254740991, -9007199254740991]`, `[9007199254740991,-9007199254740991]`},
		// Found by FuzzCanonical: 1E20's form must canonicalise again.
		{"an exact integer beyond 2^53, as ECMAScript writes it", `[1E20, 100000000000000000000]`, `[100000000000000000000,100000000000000000000]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			again, err := Canonical(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("canonical form is not a fixed point: %s, %v", again, err)
			}
		})
	}
}

// Number samples of RFC 8785 Appendix B, by their IEEE 754 bits.
func TestES6NumberSerialisation(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		f := math.Float64frombits(tt.bits)
		if got := string(appendES6(nil, f)); got != tt.want {
			t.Errorf("%016x: got %s, want %s", tt.bits, got, tt.want)
		}
	}
}

func TestCanonicalRefuses(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"integer beyond 2^53", `{"n":9007199254740993}`, "outside ±(2^53-1)"},
		{"duplicate member", `{"a":1,"a":2}`, "duplicate member"},
		{"invalid UTF-8", "{\"s\":\"\xff\"}", "not valid UTF-8"},
		{"trailing data", `{} {}`, "trailing data"},
		{"infinite", `[1e400]`, "outside the range"},
		{"deep nesting", strings.Repeat("[", 300) + strings.Repeat("]", 300), "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Canonical([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeAcceptsOneFormPerVersion(t *testing.T) {
	r := Record{Index: 7, Type: TypeAudit, Time: time.Date(2026, 12, 6, 10, 0, 0, 500, time.UTC),
		Data: json.RawMessage(`{"action":"search","query":"line\u2028sep <b>"}`)}
	jcs, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(jcs, []byte("line\u2028sep <b>")) {
		t.Fatalf("RFC 8785 form escapes what it must not: %s", jcs)
	}
	if _, v, err := DecodeVersion(jcs); err != nil || v != 2 {
		t.Errorf("RFC 8785 form: version %d, %v; want 2, nil", v, err)
	}
	// Holdfast's first records were Go's encoding, which escapes U+2028.
	v1 := bytes.ReplaceAll(jcs, []byte("\u2028"), []byte(`\u2028`))
	if _, v, err := DecodeVersion(v1); err != nil || v != 1 {
		t.Errorf("version 1 form: version %d, %v; want 1, nil", v, err)
	}
	for name, b := range map[string][]byte{
		"white space":      bytes.Replace(jcs, []byte(`"index":7`), []byte(`"index": 7`), 1),
		"other key order":  []byte(`{"index":7,` + strings.Replace(string(jcs[1:]), `"index":7,`, "", 1)),
		"non-UTC time":     bytes.Replace(jcs, []byte(`10:00:00.0000005Z`), []byte(`11:00:00.0000005+01:00`), 1),
		"escaped solidus":  bytes.Replace(jcs, []byte(`<b>`), []byte(`<b\/>`), 1),
		"duplicate member": bytes.Replace(jcs, []byte(`"index":7`), []byte(`"index":7,"index":7`), 1),
		"unknown member":   bytes.Replace(jcs, []byte(`"index":7`), []byte(`"index":7,"x":1`), 1),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: %s decoded; want an error", name, b)
		}
	}
}

// FuzzCanonical: whatever Canonical accepts, it writes as a fixed point
// (canonicalising the output changes nothing) that means the same JSON.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"b":[1.50,true],"a":"€"}`, `{"\ud83d\ude02":1,"\ufb33":2}`, `[1e400]`, `"a\u2028"`, `{"a":{"a":{}}}`, `-0.0`, `9007199254740993`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Canonical(b)
		if err != nil {
			return
		}
		again, err := Canonical(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: %q → %q → %q, %v", b, out, again, err)
		}
		var x, y any
		if err := json.Unmarshal(b, &x); err != nil {
			t.Fatalf("Canonical accepted invalid JSON %q", b)
		}
		if err := json.Unmarshal(out, &y); err != nil {
			t.Fatalf("Canonical wrote invalid JSON %q", out)
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("meaning changed: %q → %q", b, out)
		}
	})
}
