package chat

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Limit is a rate a chat service documents: at most N requests in any
// window of Per ("1 message per second per channel", "20 messages per
// minute to a group"). The zero Limit is no limit.
//
// A sliding window is the reading of "N per minute" that no server can
// fault; a token bucket with a burst of N would allow 2N in the first
// minute.
type Limit struct {
	N   int
	Per time.Duration
}

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return l.N <= 0 || l.Per <= 0 }

// Or is l, or def when l is the zero Limit: provider configs take the
// documented limit by default and N < 0 to turn it off.
func (l Limit) Or(def Limit) Limit {
	if l == (Limit{}) {
		return def
	}
	return l
}

// Pacer keeps one provider's requests within what its service allows, so
// that a storm of messages waits here instead of being refused with 429:
//   - Wait: documented Limits per key (a channel, a method);
//   - Acquire: what the service announced about a bucket on its last
//     answer (Discord's X-RateLimit-Remaining and Reset-After);
//   - Block: a wait the service asked for with a 429, for every key, as a
//     429 does not always say which limit it was.
//
// No lock is held while waiting, and every wait ends with ctx: one that
// would outlast ctx's deadline returns at once a temporary *Error with the
// wait as RetryAfter, so the outbox retries the job then. The zero Pacer
// is ready to use and safe for concurrent use.
type Pacer struct {
	// Provider names the provider in errors.
	Provider string

	mu      sync.Mutex
	blocked time.Time
	windows map[string][]*slot
	buckets map[string]*bucket
}

// bucket is what a service last said about one rate-limit bucket.
type bucket struct {
	// known: the last answer carried the bucket's state; unlimited: it
	// carried none, so the service does not limit this bucket.
	known, unlimited bool
	remaining        int
	reset            time.Time
	busy             bool          // a request is in flight
	done             chan struct{} // closed when it ends
}

// Rule is a Limit under a key ("chat -100123", "method files.info").
type Rule struct {
	Key   string
	Limit Limit
}

// slot is one request counted in a window: when it was let go, and once
// it is done, when it ended. A server counts a request when it arrives,
// which is after it was let go and before it ended; counting from the end
// keeps the next request a full window after the arrival whatever the
// network and the upload took.
type slot struct {
	at   time.Time
	done bool
}

// Wait returns once a request keeps within every rule and any Block has
// passed, and counts it under each rule's key. The returned function must
// be called once the request is done (answered or failed).
func (p *Pacer) Wait(ctx context.Context, rules ...Rule) (done func(), err error) {
	for {
		p.mu.Lock()
		now := time.Now()
		wait := p.blocked.Sub(now)
		for _, r := range rules {
			if !r.Limit.Off() {
				wait = max(wait, p.free(r, now))
			}
		}
		if wait <= 0 {
			s := &slot{at: now}
			for _, r := range rules {
				if !r.Limit.Off() {
					p.windows[r.Key] = append(p.windows[r.Key], s)
				}
			}
			p.mu.Unlock()
			return func() {
				p.mu.Lock()
				s.at, s.done = time.Now(), true
				p.mu.Unlock()
			}, nil
		}
		p.mu.Unlock()
		if err := p.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// free says how long until the rule's window has room. p.mu is held.
func (p *Pacer) free(r Rule, now time.Time) time.Duration {
	if p.windows == nil {
		p.windows = map[string][]*slot{}
	}
	var active []time.Time
	var kept []*slot
	for _, s := range p.windows[r.Key] {
		switch {
		case !s.done:
			// In flight: it counts until a window after it ends.
			kept = append(kept, s)
			active = append(active, now)
		case now.Sub(s.at) < r.Limit.Per:
			kept = append(kept, s)
			active = append(active, s.at)
		}
	}
	p.windows[r.Key] = kept
	if len(active) < r.Limit.N {
		return 0
	}
	slices.SortFunc(active, time.Time.Compare)
	return active[len(active)-r.Limit.N].Add(r.Limit.Per).Sub(now)
}

// Announced is what one answer said about its bucket.
type Announced struct {
	// Known: the answer carried the bucket's state (Remaining, ResetAfter).
	// An answer without it marks the bucket unlimited.
	Known      bool
	Remaining  int
	ResetAfter time.Duration
}

// Acquire waits until the bucket key may take a request, by what the
// service announced: one request at a time while the bucket is limited
// (answers to requests in flight together may arrive out of order, and a
// stale Remaining would overrun it), any number once an answer showed no
// limit. The returned function must be called once the request is done,
// with what its answer announced, or nil when there was no answer (the
// bucket then stays as it was).
func (p *Pacer) Acquire(ctx context.Context, key string) (func(a *Announced), error) {
	for {
		p.mu.Lock()
		if p.buckets == nil {
			p.buckets = map[string]*bucket{}
		}
		b := p.buckets[key]
		if b == nil {
			b = &bucket{}
			p.buckets[key] = b
		}
		now := time.Now()
		var wait time.Duration
		var done chan struct{}
		switch {
		case p.blocked.After(now):
			wait = p.blocked.Sub(now)
		case b.unlimited:
		case b.busy:
			done = b.done
		case b.known && b.remaining <= 0 && b.reset.After(now):
			wait = b.reset.Sub(now)
		}
		if wait <= 0 && done == nil {
			if !b.unlimited {
				b.busy, b.done = true, make(chan struct{})
			}
			p.mu.Unlock()
			return func(a *Announced) { p.release(b, a) }, nil
		}
		p.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := p.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (p *Pacer) release(b *bucket, a *Announced) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a != nil {
		b.unlimited = !a.Known
		b.known, b.remaining = a.Known, a.Remaining
		b.reset = time.Now().Add(a.ResetAfter)
	}
	if b.busy {
		b.busy = false
		close(b.done)
	}
}

// Block makes every request wait d from now: the service answered 429
// with Retry-After d.
func (p *Pacer) Block(d time.Duration) {
	if d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.blocked) {
		p.blocked = until
	}
}

// sleep waits d, or returns at once with a temporary error when ctx
// would end first.
func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return &Error{Provider: p.Provider, Code: "paced", Temporary: true, RetryAfter: d,
			Hint: fmt.Sprintf("%s's rate limit leaves no room before this attempt times out: it is retried in %v.", title(p.Provider), d.Round(time.Millisecond))}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
