package grafana

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DashboardCache keeps Client.Dashboard answers for a while, so an alert
// storm on one dashboard asks Grafana once: concurrent asks for a UID share
// one request, and answers (and failures that are not temporary) are kept
// for the TTL. Temporary failures are not kept.
type DashboardCache struct {
	client *Client
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	ready   chan struct{} // closed when d and err are set
	d       Dashboard
	err     error
	expires time.Time
}

// maxCacheEntries is where expired entries start to be swept.
const maxCacheEntries = 256

// NewDashboardCache caches c's dashboards for ttl (a minute suits alerts).
func NewDashboardCache(c *Client, ttl time.Duration) *DashboardCache {
	return &DashboardCache{client: c, ttl: ttl, now: time.Now, entries: map[string]*cacheEntry{}}
}

// Dashboard is Client.Dashboard, answered from the cache when it can be.
func (c *DashboardCache) Dashboard(ctx context.Context, uid string) (Dashboard, error) {
	c.mu.Lock()
	e, ok := c.entries[uid]
	if ok {
		select {
		case <-e.ready:
			if c.now().After(e.expires) {
				ok = false
			}
		default: // in flight: wait for it below
		}
	}
	if !ok {
		e = &cacheEntry{ready: make(chan struct{})}
		c.sweep()
		c.entries[uid] = e
		c.mu.Unlock()
		e.d, e.err = c.client.Dashboard(ctx, uid)
		var apiErr *APIError
		c.mu.Lock()
		e.expires = c.now().Add(c.ttl)
		if e.err != nil && (!errors.As(e.err, &apiErr) || apiErr.Temporary()) && c.entries[uid] == e {
			delete(c.entries, uid)
		}
		c.mu.Unlock()
		close(e.ready)
		return e.d, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.d, e.err
	case <-ctx.Done():
		return Dashboard{}, &APIError{msg: "gave up waiting for Grafana's dashboard " + uid + ": " + ctx.Err().Error(), temporary: true, err: ctx.Err()}
	}
}

// sweep drops expired entries once there are many; c.mu is held.
func (c *DashboardCache) sweep() {
	if len(c.entries) < maxCacheEntries {
		return
	}
	now := c.now()
	for uid, e := range c.entries {
		select {
		case <-e.ready:
			if now.After(e.expires) {
				delete(c.entries, uid)
			}
		default:
		}
	}
}
