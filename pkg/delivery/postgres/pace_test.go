package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/chat/pacetest"
)

// Each handle is another replica: its own Store, its own connections.
func TestPaceContract(t *testing.T) {
	pg := pgtest.Shared(t)
	pacetest.Run(t, func(t *testing.T, n int) []chat.PaceState {
		url := pg.Database(t)
		states := make([]chat.PaceState, n)
		for i := range states {
			states[i] = open(t, url).Pace()
		}
		return states
	})
}

// A replica that dies with a request in flight holds its place in the
// window until the request's deadline, and not after; one that dies
// holding a bucket, likewise.
func TestPaceDeadHolderExpires(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	dying, err := Open(context.Background(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	alive := open(t, url)
	rule := chat.Rule{Key: "channel C1", Limit: chat.Limit{N: 1, Per: 200 * time.Millisecond}}
	dead := &chat.Pacer{Provider: "slack", Bot: "bot", State: dying.Pace()}
	// A request may last 1.5 s: its slot is held no longer than that.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := dead.Wait(ctx, rule); err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Acquire(ctx, "POST /channels/1/messages"); err != nil {
		t.Fatal(err)
	}
	dying.Close() // the replica is gone; it never ends the request

	p := &chat.Pacer{Provider: "slack", Bot: "bot", State: alive.Pace()}
	done, err := p.Wait(context.Background(), rule)
	if err != nil {
		t.Fatal(err)
	}
	done()
	// Held until the deadline, then counted as ended then: a window more.
	if d := time.Since(start); d < 1650*time.Millisecond || d > 2500*time.Millisecond {
		t.Fatalf("the next request went %v after the dead one, want about 1.7s (its 1.5s deadline and a 200ms window)", d)
	}
	release, err := p.Acquire(context.Background(), "POST /channels/1/messages")
	if err != nil {
		t.Fatal(err)
	}
	release(nil)
}

// Many requests at once from several replicas, as a storm sends them: the
// shared window never lets more than N through, and the locks make none of
// them fail.
func TestPaceStormFromReplicas(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	lim := chat.Limit{N: 5, Per: 500 * time.Millisecond}
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for range 3 {
		p := &chat.Pacer{Provider: "telegram", Bot: "bot", State: open(t, url).Pace()}
		for c := range 8 {
			wg.Go(func() {
				// Every request counts under the bot's global limit, and
				// half of them under one chat's too.
				rules := []chat.Rule{{Key: "all", Limit: lim}}
				if c%2 == 0 {
					rules = append(rules, chat.Rule{Key: "chat 1", Limit: chat.Limit{N: 30, Per: time.Minute}})
				}
				for range 2 {
					done, err := p.Wait(context.Background(), rules...)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					at = append(at, time.Now())
					mu.Unlock()
					done()
				}
			})
		}
	}
	wg.Wait()
	for _, a := range at {
		n := 0
		for _, b := range at {
			if !b.Before(a) && b.Sub(a) < lim.Per {
				n++
			}
		}
		if n > lim.N {
			t.Fatalf("%d requests within %v, the limit is %d", n, lim.Per, lim.N)
		}
	}
	// 48 requests at 5 per 500 ms take at least 9 windows; well paced, not
	// much more.
	took := time.Since(start)
	if least := 9 * lim.Per; took < least || took > 2*least {
		t.Fatalf("%d requests took %v, want about %v", len(at), took, least)
	}
	t.Logf("%d requests from 24 goroutines on 3 replicas in %v (the limit allows %v)", len(at), took.Round(time.Millisecond), 9*lim.Per)
}
