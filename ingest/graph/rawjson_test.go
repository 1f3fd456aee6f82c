package graph

import (
	"encoding/json"
	"testing"
)

func TestWithoutMembers(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id":"1","replies":[{"id":"2"}],"x":1.50}`, `{"id":"1","x":1.50}`},
		{`{"replies":[],"replies@odata.context":"c","id":"1","t":"2024-03-02T09:00:00.114Z"}`, `{"id":"1","t":"2024-03-02T09:00:00.114Z"}`},
		{`{"id":"1","replies@odata.context":"c","replies":[]}`, `{"id":"1"}`},
		{`{ "a" : 1 , "replies" : [ ] , "b" : {"replies":[1]} }`, `{ "a" : 1 , "b" : {"replies":[1]} }`},
		{`{"replies":[]}`, `{}`},
		{`{"a":"\u00e9\"x"}`, `{"a":"\u00e9\"x"}`},
	}
	for _, tt := range tests {
		got, err := withoutMembers([]byte(tt.in), expansion...)
		if err != nil || string(got) != tt.want {
			t.Errorf("withoutMembers(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if err == nil && !json.Valid(got) {
			t.Errorf("withoutMembers(%s) = %s: not valid JSON", tt.in, got)
		}
	}
	for _, bad := range []string{`[1]`, `{"a":`, `"x"`} {
		if _, err := withoutMembers([]byte(bad), "a"); err == nil {
			t.Errorf("withoutMembers(%s) accepted it", bad)
		}
	}
}

func FuzzWithoutMembers(f *testing.F) {
	f.Add([]byte(`{"id":"1","replies":[{"id":"2"}],"x":1}`))
	f.Add([]byte(`{ "replies" : 1 }`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := withoutMembers(raw, expansion...)
		if err != nil {
			return
		}
		var in, got map[string]json.RawMessage
		if json.Unmarshal(raw, &in) != nil {
			return // the decoder streamed past something Unmarshal rejects: fine, nothing kept
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s → %s: not an object: %v", raw, out, err)
		}
		for k := range in {
			_, dropped := map[string]bool{"replies": true, "replies@odata.context": true, "replies@odata.nextLink": true, "replies@odata.count": true}[k]
			if _, ok := got[k]; ok == dropped {
				t.Fatalf("%s → %s: member %q kept=%v", raw, out, k, ok)
			}
		}
	})
}
