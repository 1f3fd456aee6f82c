package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// withoutMembers returns the JSON object raw without the named top-level
// members, every other byte as it was: the message as Graph serialised
// it, without what $expand added.
func withoutMembers(raw []byte, names ...string) ([]byte, error) {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	open := dec.InputOffset() // just after '{'
	out := append([]byte(nil), raw[:open]...)
	prev := open // where the member being read starts (its comma included)
	kept := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("not a JSON object")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		end := dec.InputOffset()
		member := raw[prev:end]
		prev = end
		if drop[key] {
			continue
		}
		if kept == 0 {
			// The first member kept must not start with the comma that
			// separated it from a dropped one.
			trimmed := bytes.TrimLeft(member, " \t\r\n")
			if len(trimmed) > 0 && trimmed[0] == ',' {
				member = trimmed[1:]
			}
		}
		out = append(out, member...)
		kept++
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, fmt.Errorf("not a JSON object")
	}
	// The closing brace and what follows it, as they were (white space
	// before the brace included).
	return append(out, raw[prev:]...), nil
}
