package app

import (
	"context"
	"encoding/hex"
	"strconv"
	"sync"

	"github.com/holdfast/holdfast/policy"
	"github.com/holdfast/holdfast/record"
)

// TenantStatus is one tenant's status in StatusAll.
type TenantStatus struct {
	Tenant string `json:"tenant"`
	*Status
	Error string `json:"error,omitempty"` // the tenant's status could not be read
}

// byMark keeps what was read from each tenant's log with the log's mark
// (see logMark) at the time, and gives it again until the log grows: a
// service asking about hundreds of tenants every few minutes reads one
// small file per tenant, not its log. The one mechanism for everything the
// service reads again and again (status, retention settings, schedules).
type byMark[T any] struct {
	mu sync.Mutex
	m  map[string]marked[T]
}

type marked[T any] struct {
	mark string
	v    T
}

// get returns what read returns for tenant, from the cache while the
// tenant's log has not grown. The mark is taken before reading, so a log
// that grows during the read is read again next time.
func (c *byMark[T]) get(a *App, tenant string, read func() (T, error)) (T, error) {
	mark := a.logMark(tenant)
	c.mu.Lock()
	hit, ok := c.m[tenant]
	c.mu.Unlock()
	if ok && mark != "" && hit.mark == mark {
		return hit.v, nil
	}
	v, err := read()
	if err != nil || mark == "" {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]marked[T]{}
	}
	c.m[tenant] = marked[T]{mark, v}
	c.mu.Unlock()
	return v, nil
}

// logMark names how far a tenant's log has grown ("": unknown, never
// cached).
func (a *App) logMark(tenant string) string {
	size, root, ok, err := a.data.LogMark(tenant)
	if err != nil || !ok {
		return ""
	}
	return strconv.FormatUint(size, 10) + "/" + hex.EncodeToString(root)
}

// caches are the App's byMark caches; callers must not change what they
// return.
type caches struct {
	status   byMark[*Status]
	settings byMark[policy.Settings]
	health   byMark[*Health]
	runs     byMark[[]record.RunFinished]
}

// KeptStatus is Status, kept until the tenant's log grows: for pages and
// checks that ask again and again. Callers must not change it.
func (a *App) KeptStatus(ctx context.Context, tenant string) (*Status, error) {
	return a.cache.status.get(a, tenant, func() (*Status, error) { return a.Status(ctx, tenant) })
}

// StatusAll returns the status of each tenant named, in order. A status is
// read from the tenant's log once and kept until the log grows (its
// high-water mark, one small file, says so), so a dashboard of hundreds of
// tenants answers at once.
func (a *App) StatusAll(ctx context.Context, tenants []string) []TenantStatus {
	out := make([]TenantStatus, len(tenants))
	for i, t := range tenants {
		out[i].Tenant = t
		st, err := a.KeptStatus(ctx, t)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		out[i].Status = st
	}
	return out
}
