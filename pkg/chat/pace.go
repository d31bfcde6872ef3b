package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// Pacer keeps one bot's requests within what its service allows, so that
// a storm of messages waits here instead of being refused with 429:
//   - Wait: documented Limits per key (a channel, a method);
//   - Acquire: what the service announced about a bucket on its last
//     answer (Discord's X-RateLimit-Remaining and Reset-After);
//   - Block: a wait the service asked for with a 429, for every key, as a
//     429 does not always say which limit it was.
//
// The counts live in State: the Pacer's own memory by default, or a store
// that every replica posting as the same bot shares, since the services
// limit the bot and not the process. No lock is held while waiting, and
// every wait ends with ctx: one that would outlast ctx's deadline returns
// at once a temporary *Error with the wait as RetryAfter, so the outbox
// retries the job then. The zero Pacer is ready to use and safe for
// concurrent use; it must not be copied once used.
type Pacer struct {
	// Provider names the provider in errors and in the keys of State.
	Provider string
	// Bot tells this bot's limits from another's in a shared State: BotID
	// of its token.
	Bot string
	// State holds the counts; nil is the Pacer's own, in memory.
	State PaceState

	once sync.Once
	own  PaceState
}

// PaceState is where Pacers count requests. Every method is given the bot
// whose limits they are ("slack/<BotID>"), so bots sharing a State never
// share limits. Implementations: MemoryPace for one process, and the
// PostgreSQL outbox's for a fleet.
type PaceState interface {
	// Take counts one request under the key of every rule (none is Off)
	// if each window has room and no Block is in force, and returns the
	// function to call once the request is done. Otherwise it counts
	// nothing and says how long to wait before trying again.
	Take(ctx context.Context, bot string, rules []Rule) (end func(), wait time.Duration, err error)
	// TakeBucket takes the announced bucket key as Acquire documents, or
	// says to try again after wait or once changed is closed (either may
	// be set).
	TakeBucket(ctx context.Context, bot, key string) (release func(*Announced), wait time.Duration, changed <-chan struct{}, err error)
	// Block makes every request of bot wait d from now.
	Block(ctx context.Context, bot string, d time.Duration)
}

// BotID names a bot by its credentials without revealing them: a hash of
// parts (the token, and where the service lives when that varies).
func BotID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Rule is a Limit under a key ("chat -100123", "method files.info").
type Rule struct {
	Key   string
	Limit Limit
}

func (p *Pacer) state() PaceState {
	if p.State != nil {
		return p.State
	}
	p.once.Do(func() { p.own = &MemoryPace{} })
	return p.own
}

func (p *Pacer) bot() string { return p.Provider + "/" + p.Bot }

// Wait returns once a request keeps within every rule and any Block has
// passed, and counts it under each rule's key. The returned function must
// be called once the request is done (answered or failed).
func (p *Pacer) Wait(ctx context.Context, rules ...Rule) (done func(), err error) {
	on := make([]Rule, 0, len(rules))
	for _, r := range rules {
		if !r.Limit.Off() {
			on = append(on, r)
		}
	}
	for {
		end, wait, err := p.state().Take(ctx, p.bot(), on)
		if err != nil {
			return nil, fmt.Errorf("%s: pacing: %w", p.Provider, err)
		}
		if end != nil {
			return end, nil
		}
		if err := p.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
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
		release, wait, changed, err := p.state().TakeBucket(ctx, p.bot(), key)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: pacing: %w", p.Provider, err)
		case release != nil:
			return release, nil
		case changed != nil && wait <= 0:
			select {
			case <-changed:
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

// Block makes every request wait d from now: the service answered 429
// with Retry-After d.
func (p *Pacer) Block(ctx context.Context, d time.Duration) {
	if d > 0 {
		p.state().Block(ctx, p.bot(), d)
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

// MemoryPace is a PaceState in this process's memory: the limits of a bot
// that no other process posts as. The zero MemoryPace is ready to use and
// safe for concurrent use.
type MemoryPace struct {
	mu      sync.Mutex
	blocked map[string]time.Time
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

// slot is one request counted in a window: when it was let go, and once
// it is done, when it ended. A server counts a request when it arrives,
// which is after it was let go and before it ended; counting from the end
// keeps the next request a full window after the arrival whatever the
// network and the upload took.
type slot struct {
	at   time.Time
	done bool
}

// Take is PaceState.Take.
func (m *MemoryPace) Take(_ context.Context, bot string, rules []Rule) (func(), time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	wait := m.blocked[bot].Sub(now)
	for _, r := range rules {
		wait = max(wait, m.free(bot+" "+r.Key, r.Limit, now))
	}
	if wait > 0 {
		return nil, wait, nil
	}
	s := &slot{at: now}
	for _, r := range rules {
		m.windows[bot+" "+r.Key] = append(m.windows[bot+" "+r.Key], s)
	}
	return func() {
		m.mu.Lock()
		s.at, s.done = time.Now(), true
		m.mu.Unlock()
	}, 0, nil
}

// free says how long until key's window under lim has room. m.mu is held.
func (m *MemoryPace) free(key string, lim Limit, now time.Time) time.Duration {
	if m.windows == nil {
		m.windows = map[string][]*slot{}
	}
	var active []time.Time
	var kept []*slot
	for _, s := range m.windows[key] {
		switch {
		case !s.done:
			// In flight: it counts until a window after it ends.
			kept = append(kept, s)
			active = append(active, now)
		case now.Sub(s.at) < lim.Per:
			kept = append(kept, s)
			active = append(active, s.at)
		}
	}
	m.windows[key] = kept
	if len(active) < lim.N {
		return 0
	}
	slices.SortFunc(active, time.Time.Compare)
	return active[len(active)-lim.N].Add(lim.Per).Sub(now)
}

// TakeBucket is PaceState.TakeBucket.
func (m *MemoryPace) TakeBucket(_ context.Context, bot, key string) (func(*Announced), time.Duration, <-chan struct{}, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets == nil {
		m.buckets = map[string]*bucket{}
	}
	b := m.buckets[bot+" "+key]
	if b == nil {
		b = &bucket{}
		m.buckets[bot+" "+key] = b
	}
	now := time.Now()
	switch {
	case m.blocked[bot].After(now):
		return nil, m.blocked[bot].Sub(now), nil, nil
	case b.unlimited:
	case b.busy:
		return nil, 0, b.done, nil
	case b.known && b.remaining <= 0 && b.reset.After(now):
		return nil, b.reset.Sub(now), nil, nil
	}
	if !b.unlimited {
		b.busy, b.done = true, make(chan struct{})
	}
	return func(a *Announced) { m.release(b, a) }, 0, nil, nil
}

func (m *MemoryPace) release(b *bucket, a *Announced) {
	m.mu.Lock()
	defer m.mu.Unlock()
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

// Block is PaceState.Block.
func (m *MemoryPace) Block(_ context.Context, bot string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.blocked == nil {
		m.blocked = map[string]time.Time{}
	}
	if until := time.Now().Add(d); until.After(m.blocked[bot]) {
		m.blocked[bot] = until
	}
}
