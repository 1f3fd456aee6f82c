package app

import (
	"context"
	"encoding/hex"
	"strconv"
	"sync"
)

// TenantStatus is one tenant's status in StatusAll.
type TenantStatus struct {
	Tenant string `json:"tenant"`
	*Status
	Error string `json:"error,omitempty"` // the tenant's status could not be read
}

// statusCache keeps each tenant's status with the log mark it was read at.
type statusCache struct {
	mu sync.Mutex
	m  map[string]cachedStatus
}

type cachedStatus struct {
	mark string
	st   *Status
}

// logMark names how far a tenant's log has grown ("": unknown): what is
// read from a log is kept until its mark changes.
func (a *App) logMark(tenant string) string {
	size, root, ok, err := a.data.LogMark(tenant)
	if err != nil || !ok {
		return ""
	}
	return strconv.FormatUint(size, 10) + "/" + hex.EncodeToString(root)
}

// StatusAll returns the status of each tenant named, in order. A status is
// read from the tenant's log once and kept until the log grows (its
// high-water mark, one small file, says so), so a dashboard of hundreds of
// tenants answers at once.
func (a *App) StatusAll(ctx context.Context, tenants []string) []TenantStatus {
	a.cacheOnce.Do(func() { a.statuses = &statusCache{m: map[string]cachedStatus{}} })
	c := a.statuses
	out := make([]TenantStatus, len(tenants))
	for i, t := range tenants {
		out[i].Tenant = t
		mark := a.logMark(t)
		c.mu.Lock()
		hit, found := c.m[t]
		c.mu.Unlock()
		if found && mark != "" && hit.mark == mark {
			out[i].Status = hit.st
			continue
		}
		st, err := a.Status(ctx, t)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		out[i].Status = st
		if mark != "" {
			c.mu.Lock()
			c.m[t] = cachedStatus{mark, st}
			c.mu.Unlock()
		}
	}
	return out
}
