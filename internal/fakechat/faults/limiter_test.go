package faults

import (
	"testing"
	"time"
)

func TestLimiterSlidingWindow(t *testing.T) {
	var l Limiter
	lim := Limit{N: 2, Per: 200 * time.Millisecond}
	rules := []Rule{{Key: "post C1", Limit: lim}, {Key: "global", Limit: Limit{N: 100, Per: time.Second}}}
	for i := range 2 {
		if w := l.Take(rules...); w != 0 {
			t.Fatalf("request %d refused for %v", i, w)
		}
	}
	if rem, _ := l.State("post C1", lim); rem != 0 {
		t.Fatalf("remaining %d, want 0", rem)
	}
	w := l.Take(rules...)
	if w <= 0 || w > lim.Per {
		t.Fatalf("third request: wait %v, want (0, %v]", w, lim.Per)
	}
	// Refused requests are not counted, and another key is unaffected.
	if got := l.Take(Rule{Key: "post C2", Limit: lim}); got != 0 {
		t.Fatalf("another channel waited %v", got)
	}
	// Coming back early is a violation; on time is not.
	l.Take(rules...)
	if v := l.Violations(); len(v) != 1 || v[0].Key != "post C1" || v[0].Early <= 0 {
		t.Fatalf("violations %+v", v)
	}
	time.Sleep(w + 10*time.Millisecond)
	if got := l.Take(rules...); got != 0 {
		t.Fatalf("after the wait: refused for %v", got)
	}
	if n := len(l.Violations()); n != 1 {
		t.Fatalf("%d violations, want still 1", n)
	}
}

func TestLimiterTellAndZeroLimit(t *testing.T) {
	var l Limiter
	l.Tell("*", time.Hour)
	if w := l.Take(Rule{Key: "*"}); w != 0 {
		t.Fatalf("a zero limit refused for %v", w)
	}
	if v := l.Violations(); len(v) != 1 || v[0].Key != "*" {
		t.Fatalf("violations %+v", v)
	}
	if rem, reset := l.State("x", Limit{}); rem != 0 || reset != 0 {
		t.Fatalf("zero limit state %d %v", rem, reset)
	}
	lim := Limit{N: 3, Per: time.Minute}
	l.Take(Rule{Key: "x", Limit: lim})
	if rem, reset := l.State("x", lim); rem != 2 || reset <= 59*time.Second {
		t.Fatalf("state %d %v, want 2 and about a minute", rem, reset)
	}
}
