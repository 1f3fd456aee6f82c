package ingest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/holdfast/holdfast/record"
)

// members maps a struct's JSON member names to their Go types.
func members(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			for k, v := range members(f.Type) {
				out[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// TestStateFieldsAreRecordMembers: every member loadState reads is a
// member of at least one record type it scans, with the same Go type (or,
// for objects, members of that object's type).
func TestStateFieldsAreRecordMembers(t *testing.T) {
	var recs []map[string]reflect.Type
	for _, typ := range stateTypes {
		v, err := record.DataOf(record.Record{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, members(reflect.TypeOf(v)))
	}
	var check func(path string, proj reflect.Type, in []map[string]reflect.Type)
	check = func(path string, proj reflect.Type, in []map[string]reflect.Type) {
		for name, ft := range members(proj) {
			var found []map[string]reflect.Type
			ok := false
			for _, m := range in {
				rt, has := m[name]
				if !has {
					continue
				}
				if ft.Kind() == reflect.Struct {
					found = append(found, members(rt))
					ok = true
				} else if rt == ft {
					ok = true
				}
			}
			if !ok {
				t.Errorf("stateFields member %s%s (%v) is no member of %v", path, name, ft, stateTypes)
			}
			if len(found) > 0 {
				check(path+name+".", ft, found)
			}
		}
	}
	check("", reflect.TypeOf(stateFields{}), recs)
}
