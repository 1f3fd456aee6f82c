package disposal

import (
	"testing"
	"time"

	"github.com/holdfast/holdfast/record"
)

// The ledger reads whatever the log holds: any sequence of disposal
// records, well-formed or not, is taken or refused with an error, never a
// panic, and the checks on it never panic either.
func FuzzLedger(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, []byte(`{"tenant":"t","versions":[{"record":2,"rule":"r"}],"person":"a"}`), []byte(`{"proposal":5,"decision":"approved","reason":"x","person":"b","role":"legal"}`))
	f.Add([]byte{2, 2}, []byte(`{"proposal":0}`), []byte(`{"execution":0,"retired":["zz"]}`))
	types := []string{record.TypeDisposalProposed, record.TypeDisposalReviewed, record.TypeDisposalExecuted, record.TypeDisposalDone, record.TypeItemVersion}
	f.Fuzz(func(t *testing.T, order, a, b []byte) {
		l := NewLedger()
		at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		for i, o := range order {
			data := a
			if i%2 == 1 {
				data = b
			}
			l.Note(uint64(5+i), types[int(o)%len(types)], at, data)
		}
		for _, p := range l.Sorted() {
			p.State()
			l.CheckReview(p.Record, "z", ReviewerRole, Approved, "r")
			l.CheckExecute(p.Record)
		}
		for _, d := range l.Disposed {
			_ = d.String()
		}
	})
}
