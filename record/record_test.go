package record

import (
	"encoding/json"
	"testing"
	"time"
)

func TestEncodeIsCanonical(t *testing.T) {
	ref := Ref{SHA256: ID{1, 2}, Size: 10}
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"minimal", Record{Index: 0, Type: "audit.event", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
			`{"index":0,"time":"2026-01-02T03:04:05.000000006Z","type":"audit.event"}`},
		{"data keys sorted, html kept", Record{Index: 7, Type: "item.version", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
			Data: json.RawMessage(`{ "z": 1, "a": "<b>&</b>", "m": [3, 1.50] }`), Refs: []Ref{ref}},
			`{"data":{"a":"<b>&</b>","m":[3,1.5],"z":1},"index":7,"refs":[{"sha256":"0102000000000000000000000000000000000000000000000000000000000000","size":10}],"time":"2026-01-02T02:04:05Z","type":"item.version"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Encode =\n%s\nwant\n%s", got, tt.want)
			}
			c, err := Canonical(got)
			if err != nil || string(c) != string(got) {
				t.Errorf("Canonical(Encode) = %s, %v; want it unchanged", c, err)
			}
			back, err := Decode(got)
			if err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			if back.Index != tt.rec.Index || back.Type != tt.rec.Type || !back.Time.Equal(tt.rec.Time) {
				t.Errorf("round trip = %+v, want %+v", back, tt.rec)
			}
		})
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not canonical":   `{"type":"audit.event","index":0,"time":"2026-01-02T03:04:05Z"}`,
		"white space":     `{"index":0, "time":"2026-01-02T03:04:05Z","type":"audit.event"}`,
		"unknown field":   `{"extra":1,"index":0,"time":"2026-01-02T03:04:05Z","type":"audit.event"}`,
		"bad type":        `{"index":0,"time":"2026-01-02T03:04:05Z","type":"Audit Event"}`,
		"duplicate key":   `{"index":0,"index":0,"time":"2026-01-02T03:04:05Z","type":"audit.event"}`,
		"trailing":        `{"index":0,"time":"2026-01-02T03:04:05Z","type":"audit.event"} {}`,
		"negative size":   `{"index":0,"refs":[{"sha256":"0102000000000000000000000000000000000000000000000000000000000000","size":-1}],"time":"2026-01-02T03:04:05Z","type":"audit.event"}`,
		"not json":        `garbage`,
		"truncated":       `{"index":0,"time":"2026-01-02T03:0`,
		"upper-case hash": `{"index":0,"refs":[{"sha256":"0A02000000000000000000000000000000000000000000000000000000000000","size":1}],"time":"2026-01-02T03:04:05Z","type":"audit.event"}`,
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%s: Decode(%s) succeeded, want an error", name, in)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"index":0,"time":"2026-01-02T03:04:05Z","type":"audit.event"}`))
	f.Add([]byte(`{"data":{"a":[1,2,{"b":null}]},"index":3,"refs":[{"chunks":["0102000000000000000000000000000000000000000000000000000000000000"],"sha256":"0102000000000000000000000000000000000000000000000000000000000000","size":10}],"time":"2026-01-02T03:04:05Z","type":"item.version"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, v, err := DecodeVersion(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode, in its version, to the same bytes.
		encode := Encode
		if v == 1 {
			encode = encodeV1
		}
		again, err := encode(r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if string(again) != string(b) {
			t.Fatalf("re-encoded record differs:\n%s\n%s", b, again)
		}
	})
}
