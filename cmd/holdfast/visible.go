package main

import (
	"reflect"

	"github.com/holdfast/holdfast"
)

// Captured content is hostile: a mail subject holding ESC[31m, a file name
// holding ESC]0;…BEL, a right-to-left override that reverses what a
// technician reads. Human output never passes it to the terminal raw:
// print and say pass every string argument through visible, which writes
// control characters (C0, DEL, C1), bidirectional controls and invalid
// UTF-8 as escapes a person can read. --json output is exact JSON and does
// not pass through here.

// visibleArgs makes the string-like arguments of a human message visible;
// numbers, times and other values are left to their verbs.
func visibleArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = holdfast.Visible(v, false)
		case error:
			out[i] = holdfast.Visible(v.Error(), false)
		case []string:
			vs := make([]string, len(v))
			for j := range v {
				vs[j] = holdfast.Visible(v[j], false)
			}
			out[i] = vs
		default:
			if rv := reflect.ValueOf(a); rv.IsValid() && rv.Kind() == reflect.String {
				out[i] = holdfast.Visible(rv.String(), false) // named string types: a workload, a kind
			} else {
				out[i] = a
			}
		}
	}
	return out
}
