package faketenant

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

// limiter enforces Microsoft's published limits on the fake tenant's one
// app, as Graph answers them: per mailbox (10,000 requests in any 10
// minutes, 4 at a time), SharePoint resource units per minute for the
// tenant's size, Teams requests per second (and 4 per second on one team
// or channel), directory resource units per 10 seconds.
type limiter struct {
	lim      graphlimit.Limits
	mu       sync.Mutex
	windows  map[string]*graphlimit.Window
	inflight map[string]int
	blocked  map[string]time.Time // mailboxes throttled by a test until then
	served   map[string]float64   // units admitted, by key
}

func newLimiter(l graphlimit.Limits) *limiter {
	return &limiter{lim: l, windows: map[string]*graphlimit.Window{}, inflight: map[string]int{}, blocked: map[string]time.Time{}, served: map[string]float64{}}
}

func (l *limiter) window(key string) *graphlimit.Window {
	w := l.windows[key]
	if w == nil {
		limit, span, slots := l.lim.Window(key)
		w = graphlimit.NewWindow(limit, span, slots, 0)
		l.windows[key] = w
	}
	return w
}

// refusal is why a request was throttled.
type refusal struct {
	charge      graphlimit.Charge
	concurrency bool
	after       time.Duration
}

// admit charges a request against its limits. It returns a release
// function to call when the answer is complete, or the refusal.
func (l *limiter) admit(charges []graphlimit.Charge) (func(), *refusal) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range charges {
		if !c.Mailbox() {
			continue
		}
		if until, ok := l.blocked[c.Key]; ok && now.Before(until) {
			return nil, &refusal{charge: c, after: until.Sub(now)}
		}
		if l.inflight[c.Key] >= l.lim.MailboxConcurrency {
			return nil, &refusal{charge: c, concurrency: true, after: time.Second}
		}
	}
	// Every window is checked before any is charged, so that a request
	// one limit refuses is not counted by another.
	for _, c := range charges {
		if ok, d := l.window(c.Key).Fits(now, c.Cost); !ok {
			if c.Service == graphlimit.SharePoint {
				// SharePoint: "throttled requests also count against the limits".
				l.window(c.Key).Charge(now, c.Cost)
			}
			return nil, &refusal{charge: c, after: d}
		}
	}
	mailbox := ""
	for _, c := range charges {
		l.window(c.Key).Allow(now, c.Cost)
		l.served[c.Key] += c.Cost
		if c.Mailbox() {
			mailbox = c.Key
			l.inflight[mailbox]++
		}
	}
	return func() {
		if mailbox == "" {
			return
		}
		l.mu.Lock()
		if l.inflight[mailbox]--; l.inflight[mailbox] <= 0 {
			delete(l.inflight, mailbox)
		}
		l.mu.Unlock()
	}, nil
}

// block throttles a mailbox for d, as Exchange does to an app that
// overused it (a test's lever).
func (l *limiter) block(userID string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocked["mailbox/"+userID] = time.Now().Add(d)
}

// throttled writes Graph's answer to a refused request: 429 with
// Retry-After in whole seconds (never 0), and the service's error code.
func throttled(w http.ResponseWriter, f *refusal) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(f.after.Seconds())))))
	switch {
	case f.concurrency:
		graphError(w, http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
	case f.charge.Service == graphlimit.Exchange:
		graphError(w, http.StatusTooManyRequests, "ApplicationThrottled", "Application is over its request limit for this mailbox.")
	case f.charge.Service == graphlimit.SharePoint:
		graphError(w, http.StatusTooManyRequests, "activityLimitReached", "The request has been throttled")
	case f.charge.Service == graphlimit.Teams:
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
	default:
		w.Header().Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
		graphError(w, http.StatusTooManyRequests, "Request_ThrottledTemporarily", "Your request is throttled temporarily. Please try after "+strconv.Itoa(max(1, int(math.Ceil(f.after.Seconds()))))+" seconds.")
	}
}
