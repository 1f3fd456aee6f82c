package main

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/holdfast/holdfast"
)

// Captured content is hostile: a mail subject holding ESC[31m, a file name
// holding ESC]0;…BEL, a right-to-left override that reverses what a
// technician reads. Human output never passes it to the terminal raw:
// print and say pass every string argument through visible, which writes
// control characters (C0, DEL, C1), bidirectional controls and invalid
// UTF-8 as escapes a person can read. --json output is exact JSON and does
// not pass through here.

// visible returns s with every character that could drive a terminal or
// reorder text written as an escape: \x1b, \u202e, \xff for an invalid
// byte. keepNewlines keeps "\n" (for our own multi-line messages).
func visible(s string, keepNewlines bool) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || (holdfast.IsControl(r) && !(keepNewlines && r == '\n')) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepNewlines && r == '\n':
			b.WriteByte('\n')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && holdfast.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case holdfast.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// visibleArgs makes the string-like arguments of a human message visible;
// numbers, times and other values are left to their verbs.
func visibleArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = visible(v, false)
		case error:
			out[i] = visible(v.Error(), false)
		case []string:
			vs := make([]string, len(v))
			for j := range v {
				vs[j] = visible(v[j], false)
			}
			out[i] = vs
		default:
			if rv := reflect.ValueOf(a); rv.IsValid() && rv.Kind() == reflect.String {
				out[i] = visible(rv.String(), false) // named string types: a workload, a kind
			} else {
				out[i] = a
			}
		}
	}
	return out
}
