package faults

import (
	"sync"
	"time"
)

// Limit is a rate limit a service documents: at most N requests in any
// window of Per. The zero Limit is no limit.
type Limit struct {
	N   int
	Per time.Duration
}

func (l Limit) off() bool { return l.N <= 0 || l.Per <= 0 }

// Rule is one Limit a request counts against, under a key such as
// "post C0123" or "method files.info".
type Rule struct {
	Key   string
	Limit Limit
}

// Violation is a request that arrived while its caller had been told to
// wait: after a 429 with Retry-After, or after an answer that announced
// no requests left in a bucket.
type Violation struct {
	Key string
	// Early is how much sooner than allowed it came.
	Early time.Duration
}

// Limiter applies Rules as a service does and remembers when it told each
// key to wait. The zero value is ready; it is safe for concurrent use.
type Limiter struct {
	mu         sync.Mutex
	hits       map[string][]time.Time
	told       map[string]time.Time
	violations []Violation
}

// Take counts one request arriving now against rules. If any rule's
// window is full nothing is counted, every full key is told to wait until
// a slot frees, and Take returns the longest of those waits; else it
// returns 0. A request to a key that was told to wait and came early is a
// Violation (rules with a zero Limit only check that).
func (l *Limiter) Take(rules ...Rule) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ready()
	now := time.Now()
	for _, r := range rules {
		if until, ok := l.told[r.Key]; ok && now.Before(until) {
			l.violations = append(l.violations, Violation{Key: r.Key, Early: until.Sub(now)})
			break
		}
	}
	var longest time.Duration
	for _, r := range rules {
		if r.Limit.off() {
			continue
		}
		times := l.prune(r.Key, r.Limit, now)
		if len(times) >= r.Limit.N {
			wait := times[len(times)-r.Limit.N].Add(r.Limit.Per).Sub(now)
			l.tell(r.Key, now.Add(wait))
			longest = max(longest, wait)
		}
	}
	if longest > 0 {
		return longest
	}
	for _, r := range rules {
		if !r.Limit.off() {
			l.hits[r.Key] = append(l.hits[r.Key], now)
		}
	}
	return 0
}

// ready makes the maps. l.mu is held.
func (l *Limiter) ready() {
	if l.hits == nil {
		l.hits, l.told = map[string][]time.Time{}, map[string]time.Time{}
	}
}

// prune drops key's requests that left the window. l.mu is held.
func (l *Limiter) prune(key string, lim Limit, now time.Time) []time.Time {
	times := l.hits[key]
	for len(times) > 0 && now.Sub(times[0]) >= lim.Per {
		times = times[1:]
	}
	l.hits[key] = times
	return times
}

func (l *Limiter) tell(key string, until time.Time) {
	if until.After(l.told[key]) {
		l.told[key] = until
	}
}

// Tell records that key was told to wait d from now (an injected 429, or
// an answer announcing no requests left).
func (l *Limiter) Tell(key string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ready()
	l.tell(key, time.Now().Add(d))
}

// State says how many requests key has left in its window under lim, and
// when that changes: when the next slot frees if none is left, else when
// the window is empty again.
func (l *Limiter) State(key string, lim Limit) (remaining int, resetAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim.off() {
		return 0, 0
	}
	l.ready()
	now := time.Now()
	times := l.prune(key, lim, now)
	remaining = max(lim.N-len(times), 0)
	switch {
	case len(times) == 0:
		return remaining, 0
	case remaining == 0:
		return 0, times[len(times)-lim.N].Add(lim.Per).Sub(now)
	}
	return remaining, times[len(times)-1].Add(lim.Per).Sub(now)
}

// Violations returns the requests that came while told to wait, oldest
// first.
func (l *Limiter) Violations() []Violation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Violation(nil), l.violations...)
}
