package faults

import (
	"testing"
	"time"
)

func TestInjectorFailsBeforeLimiting(t *testing.T) {
	var in Injector
	if l, w, st := in.Next(); l || w != 0 || st != 0 {
		t.Fatalf("zero Injector: %v %v %d", l, w, st)
	}
	in.RateLimitNext(1, 2*time.Second)
	in.FailNext(2, 503)
	want := []struct {
		limited bool
		wait    time.Duration
		status  int
	}{{false, 0, 503}, {false, 0, 503}, {true, 2 * time.Second, 0}, {false, 0, 0}}
	for i, w := range want {
		l, wait, st := in.Next()
		if l != w.limited || wait != w.wait || st != w.status {
			t.Fatalf("call %d: %v %v %d, want %+v", i, l, wait, st, w)
		}
	}
}
