package hold

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/kql"
	"github.com/holdfast/holdfast/record"
)

// fakeIndex answers each query by its canonical KQL.
type fakeIndex map[string][]uint64

func (f fakeIndex) Versions(_ context.Context, n kql.Node) ([]uint64, error) {
	return f[n.String()], nil
}

func TestCheckDisposal(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	holds := map[string]*Hold{
		"a": {HoldPlaced: record.HoldPlaced{Case: "Harbour", Custodians: []string{"alice@x.example"}}},
		"b": {HoldPlaced: record.HoldPlaced{Case: "Bluebell", Custodians: []string{"ben@x.example", "dev@x.example"}, Query: "invoice", From: &from}},
		"c": {HoldPlaced: record.HoldPlaced{Case: "Old", Custodians: []string{"chloe@x.example"}}, Released: &from},
	}
	na, _ := holds["a"].Node()
	nb, _ := holds["b"].Node()
	nc, _ := holds["c"].Node()
	if got := nb.String(); !strings.Contains(got, `custodian:"ben@x.example"`) || !strings.Contains(got, "invoice") || !strings.Contains(got, "date>=2025-01-01") {
		t.Errorf("hold query %s: want custodians, query and date", got)
	}
	ix := fakeIndex{na.String(): {3, 5}, nb.String(): {5, 9}, nc.String(): {11}}
	for _, tc := range []struct {
		versions []uint64
		held     bool
		cases    string
	}{
		{[]uint64{1, 2}, false, ""},
		{[]uint64{1, 3}, true, "Harbour"},
		{[]uint64{5}, true, "Bluebell, Harbour"},
		{[]uint64{11}, false, ""}, // released
	} {
		err := CheckDisposal(context.Background(), ix, holds, tc.versions)
		if tc.held != (err != nil) || tc.held && (!holdfast.Is(holdfast.Locked, err) || !strings.Contains(err.Error(), tc.cases)) {
			t.Errorf("dispose %v: %v, want held=%v by %q", tc.versions, err, tc.held, tc.cases)
		}
	}
	// A hold whose query cannot be evaluated refuses everything.
	bad := map[string]*Hold{"x": {HoldPlaced: record.HoldPlaced{Case: "Broken", Custodians: []string{"a@x"}, Query: "budget AND"}}}
	if err := CheckDisposal(context.Background(), ix, bad, []uint64{1}); !holdfast.Is(holdfast.Locked, err) {
		t.Errorf("unevaluable hold: %v, want Locked", err)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []record.HoldPlaced{
		{Custodians: []string{"a"}, Reason: "r"},
		{Case: "c", Reason: "r"},
		{Case: "c", Custodians: []string{"a"}},
		{Case: "c", Custodians: []string{"a"}, Reason: "r", Query: "colour:red"},
	} {
		if err := Validate(p); !holdfast.Is(holdfast.Invalid, err) {
			t.Errorf("%+v: %v, want Invalid", p, err)
		}
	}
}
