package graphlimit

import (
	"time"
)

// Window meters units (requests, or resource units) over a sliding window:
// at most Limit units in any Span. Time is cut into slots of Span/N, and a
// unit counts from its slot until N slots later (plus lag slots: a client
// that counts when it sends keeps a margin for the time its request takes
// to arrive). A Window is not safe for concurrent use.
type Window struct {
	limit float64
	slot  time.Duration
	n     int64 // slots per span, lag included
	slots []count
	last  int64 // the latest slot a reservation was made in
}

type count struct {
	i int64
	n float64
}

// NewWindow meters limit units per span, counting in slots of span/slots,
// each unit kept lag slots longer than the span.
func NewWindow(limit float64, span time.Duration, slots, lag int) *Window {
	if slots < 1 {
		slots = 1
	}
	slot := span / time.Duration(slots)
	if slot <= 0 {
		slot = 1
	}
	return &Window{limit: limit, slot: slot, n: int64(slots + lag)}
}

// Limit is the window's limit in units.
func (w *Window) Limit() float64 { return w.limit }

// SetLimit changes the limit, keeping what was counted.
func (w *Window) SetLimit(limit float64) { w.limit = limit }

func (w *Window) slotOf(t time.Time) int64 { return t.UnixNano() / int64(w.slot) }

func (w *Window) start(i int64) time.Time { return time.Unix(0, i*int64(w.slot)) }

// prune drops slots that no longer count at slot j.
func (w *Window) prune(j int64) {
	k := 0
	for k < len(w.slots) && w.slots[k].i <= j-w.n {
		k++
	}
	w.slots = w.slots[k:]
}

// used is what counts at slot j (slots after j included: reservations).
func (w *Window) used() float64 {
	var s float64
	for _, c := range w.slots {
		s += c.n
	}
	return s
}

// fit returns the first slot at or after j at which cost fits, given what
// is recorded (nothing recorded after j).
func (w *Window) fit(j int64, cost float64) int64 {
	cost = min(cost, w.limit)
	s := w.used()
	if s+cost <= w.limit {
		return j
	}
	for _, c := range w.slots {
		s -= c.n
		if s+cost <= w.limit {
			return max(j, c.i+w.n)
		}
	}
	return j
}

func (w *Window) add(j int64, cost float64) {
	if n := len(w.slots); n > 0 && w.slots[n-1].i == j {
		w.slots[n-1].n += cost
		return
	}
	w.slots = append(w.slots, count{j, cost})
}

// Fits reports whether cost units fit at now, and if not how long until
// they would; it records nothing.
func (w *Window) Fits(now time.Time, cost float64) (bool, time.Duration) {
	j := w.slotOf(now)
	w.prune(j)
	if at := w.fit(j, cost); at != j {
		return false, w.start(at).Sub(now)
	}
	return true, 0
}

// Allow admits cost units at now if they fit, as a server enforcing the
// limit does; otherwise it records nothing and says how long until they
// would fit.
func (w *Window) Allow(now time.Time, cost float64) (bool, time.Duration) {
	ok, d := w.Fits(now, cost)
	if ok {
		w.add(w.slotOf(now), cost)
	}
	return ok, d
}

// Charge records cost units at now whether or not they fit (a request the
// server refused still counts against some limits).
func (w *Window) Charge(now time.Time, cost float64) {
	j := w.slotOf(now)
	w.prune(j)
	w.add(max(j, w.last), cost)
}

// Reserve books cost units at the earliest time they fit, in the order
// reservations are made, as a client metering itself does, and returns how
// long the caller must wait before sending.
func (w *Window) Reserve(now time.Time, cost float64) time.Duration {
	j := max(w.slotOf(now), w.last)
	w.prune(j)
	at := w.fit(j, cost)
	w.add(at, cost)
	w.last = at
	if d := w.start(at).Sub(now); d > 0 && at > w.slotOf(now) {
		return d
	}
	return 0
}
