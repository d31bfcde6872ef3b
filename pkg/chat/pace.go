package chat

import (
	"context"
	"fmt"
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

// Pacer keeps one provider's requests within what its service allows, so
// that a storm of messages waits here instead of being refused with 429:
//   - Wait: a documented Limit per key (a channel, a method);
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
	windows map[string][]time.Time
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

// margin pads a window against requests arriving closer together than
// they left: the server counts arrivals.
func margin(per time.Duration) time.Duration { return per/100 + 2*time.Millisecond }

// Wait returns once a request under key keeps within l and any Block has
// passed, and counts the request.
func (p *Pacer) Wait(ctx context.Context, key string, l Limit) error {
	for {
		p.mu.Lock()
		now := time.Now()
		wait := p.blocked.Sub(now)
		if wait <= 0 && !l.Off() {
			wait = p.reserve(key, l, now)
		}
		p.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		if err := p.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// reserve counts a request under key now, or says how long until one
// fits. p.mu is held.
func (p *Pacer) reserve(key string, l Limit, now time.Time) time.Duration {
	if p.windows == nil {
		p.windows = map[string][]time.Time{}
	}
	per := l.Per + margin(l.Per)
	times := p.windows[key]
	for len(times) > 0 && now.Sub(times[0]) >= per {
		times = times[1:]
	}
	if len(times) >= l.N {
		p.windows[key] = times
		return times[len(times)-l.N].Add(per).Sub(now)
	}
	p.windows[key] = append(times, now)
	return 0
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
