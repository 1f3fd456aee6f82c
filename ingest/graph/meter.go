package graph

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/holdfast/holdfast/graphlimit"
)

// meter keeps a tenant's requests within Microsoft's published limits
// (graphlimit): a sliding window per limit (per mailbox for Exchange, per
// tenant for SharePoint, Teams and the directory), counted when a request
// is sent and kept one slot longer than the window so that a request still
// on its way is never counted early; and at most 4 requests in flight per
// mailbox. A request waits for its turn rather than being refused, and
// requests for one mailbox never wait on another's.
type meter struct {
	given   graphlimit.Limits // as configured: zero fields take Microsoft's figures
	lim     graphlimit.Limits // in force, for the tenant's size once known
	mu      sync.Mutex
	windows map[string]*graphlimit.Window
	slots   map[string]chan struct{} // per mailbox: its concurrent requests
}

// newMeter meters within l, taking Microsoft's figures for a small tenant
// until sized tells it the tenant's size.
func newMeter(l graphlimit.Limits) *meter {
	return &meter{given: l, lim: l.WithDefaults(0, 0), windows: map[string]*graphlimit.Window{}, slots: map[string]chan struct{}{}}
}

// sized sets the tenant-wide limits that depend on the tenant's size
// (SharePoint's units by licences, the directory's by users), so that a
// large tenant is not metered at a small one's limits.
func (m *meter) sized(licences, users int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lim = m.given.WithDefaults(licences, users)
	for key, w := range m.windows {
		if !strings.HasPrefix(key, "mailbox/") {
			limit, _, _ := m.lim.Window(key)
			w.SetLimit(limit)
		}
	}
}

// charges names the limits a request counts against. A request to another
// host than Graph's is a file download from a pre-authenticated URL:
// SharePoint prices it at one resource unit.
func charges(r *http.Request, graphHost string) []graphlimit.Charge {
	if graphHost != "" && r.URL.Host != graphHost {
		return []graphlimit.Charge{{Service: graphlimit.SharePoint, Key: "sharepoint", Cost: 1}}
	}
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(p) > 0 && p[0] == "v1.0" {
		p = p[1:]
	}
	return graphlimit.Classify(r.Method, p, r.URL.Query())
}

// acquire waits until the request may go: a free slot of its mailbox, then
// its turn in each window. release ends the request's hold on the
// mailbox's slot (when its answer has been read).
func (m *meter) acquire(ctx context.Context, cs []graphlimit.Charge) (release func(), err error) {
	release = func() {}
	if m == nil {
		return release, nil
	}
	for _, c := range cs {
		if !c.Mailbox() {
			continue
		}
		m.mu.Lock()
		slot := m.slots[c.Key]
		if slot == nil {
			slot = make(chan struct{}, m.lim.MailboxConcurrency)
			m.slots[c.Key] = slot
		}
		m.mu.Unlock()
		select {
		case slot <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var once sync.Once
		release = func() { once.Do(func() { <-slot }) }
	}
	var wait time.Duration
	now := time.Now()
	m.mu.Lock()
	for _, c := range cs {
		w := m.windows[c.Key]
		if w == nil {
			limit, span, slots := m.lim.Window(c.Key)
			w = graphlimit.NewWindow(limit, span, slots, 1)
			m.windows[c.Key] = w
		}
		wait = max(wait, w.Reserve(now, c.Cost))
	}
	m.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// releasingBody ends a request's hold on its mailbox when its answer has
// been read to the end or closed.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
