package delivery

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	base, limit := 2*time.Second, 5*time.Minute
	for _, c := range []struct {
		n          int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, time.Second, 2 * time.Second},
		{3, 0, 4 * time.Second, 8 * time.Second},
		{20, 0, limit / 2, limit},
		{1000, 0, limit / 2, limit},
		{1, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{20, time.Hour, time.Hour, time.Hour},
	} {
		for range 50 {
			if d := backoff(base, limit, c.n, c.retryAfter); d < c.lo || d > c.hi {
				t.Fatalf("backoff(n=%d, retryAfter=%v) = %v; want %v..%v", c.n, c.retryAfter, d, c.lo, c.hi)
			}
		}
	}
}
