// Package faults holds what the chat fakes share to hold callers to a
// service's limits: the Injector (how many of the next calls fail with an
// HTTP status, and how many are rate limited and for how long) and the
// Limiter (each service's documented rate limits, and the requests that
// came while their caller had been told to wait). Each fake asks them at
// the start of a call and answers in its own API's wire format.
package faults

import (
	"sync"
	"time"
)

// Injector counts down injected failures and rate limits. The zero value
// injects nothing. It is safe for concurrent use.
type Injector struct {
	mu         sync.Mutex
	limitN     int
	limitWait  time.Duration
	failN      int
	failStatus int
}

// RateLimitNext makes the next n calls rate limited with wait, replacing
// any rate limits still due.
func (in *Injector) RateLimitNext(n int, wait time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.limitN, in.limitWait = n, wait
}

// FailNext makes the next n calls fail with the HTTP status, replacing any
// failures still due.
func (in *Injector) FailNext(n, status int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.failN, in.failStatus = n, status
}

// Next uses up the fault due for this call, if any: a failure (failStatus
// non-zero) before a rate limit (limited, with the wait to announce).
func (in *Injector) Next() (limited bool, wait time.Duration, failStatus int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.failN > 0 {
		in.failN--
		return false, 0, in.failStatus
	}
	if in.limitN > 0 {
		in.limitN--
		return true, in.limitWait, 0
	}
	return false, 0, 0
}
