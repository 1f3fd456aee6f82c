package graph

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

// throttle is the transport under the SDK's middleware. It meters requests
// within Microsoft's limits (meter), and retries requests Graph throttled
// (429), could not serve (503, 504) or whose connection dropped, waiting
// as Retry-After says or with exponential backoff and jitter. A throttling
// answer pauses the scope Graph throttles: one mailbox for Exchange (a
// 429 for one mailbox says nothing of another), the tenant's SharePoint,
// Teams or directory requests for those services.
type throttle struct {
	base       http.RoundTripper
	meter      *meter // nil: unmetered
	graphHost  string // Graph's host; requests elsewhere are file downloads
	maxRetries int
	baseDelay  time.Duration
	maxDelay   time.Duration

	mu      sync.Mutex
	fences  map[string]time.Time // scope → no request of it goes out before this
	waited  time.Duration        // total time requests spent waiting on throttling answers
	retries int
}

func newThrottle(base http.RoundTripper) *throttle {
	return &throttle{base: base, maxRetries: 20, baseDelay: 200 * time.Millisecond, maxDelay: 60 * time.Second, fences: map[string]time.Time{}}
}

// Throttled returns the total time requests waited on throttling answers.
func (t *throttle) Throttled() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waited
}

// scope is what a throttling answer to a request pauses.
func scope(cs []graphlimit.Charge) string {
	for _, c := range cs {
		if c.Mailbox() {
			return c.Key
		}
	}
	if len(cs) > 0 {
		return string(cs[0].Service)
	}
	return ""
}

func (t *throttle) wait(ctx context.Context, until time.Time) error {
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	t.mu.Lock()
	t.waited += d
	t.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func retryable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && ne.Timeout())
}

func (t *throttle) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cs := charges(req, t.graphHost)
	sc := scope(cs)
	for attempt := 0; ; attempt++ {
		t.mu.Lock()
		fence := t.fences[sc]
		t.mu.Unlock()
		if err := t.wait(ctx, fence); err != nil {
			return nil, err
		}
		release, err := t.meter.acquire(ctx, cs)
		if err != nil {
			return nil, err
		}
		r := req
		if attempt > 0 && req.Body != nil {
			if req.GetBody == nil {
				release()
				return nil, errors.New("graph: cannot retry a request whose body cannot be replayed")
			}
			body, err := req.GetBody()
			if err != nil {
				release()
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.base.RoundTrip(r)
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		again := retryable(err) || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
		if !again || attempt >= t.maxRetries || ctx.Err() != nil {
			if resp != nil && resp.Body != nil {
				resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
			} else {
				release()
			}
			return resp, err
		}
		delay := t.backoff(attempt)
		if resp != nil {
			if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
				delay = ra
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		release()
		t.mu.Lock()
		t.retries++
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			// Pause what Graph throttles: this mailbox, or the service.
			if f := time.Now().Add(delay); f.After(t.fences[sc]) {
				t.fences[sc] = f
			}
		}
		t.mu.Unlock()
		if err := t.wait(ctx, time.Now().Add(delay)); err != nil {
			return nil, err
		}
	}
}

// backoff is exponential with full jitter, capped.
func (t *throttle) backoff(attempt int) time.Duration {
	d := t.baseDelay << min(attempt, 16)
	if d > t.maxDelay || d <= 0 {
		d = t.maxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryAfter parses delay-seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0), true
	}
	return 0, false
}
