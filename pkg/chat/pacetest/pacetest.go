// Package pacetest is the contract every chat.PaceState keeps, as tests:
// Pacers of one bot that share a state, each through its own handle (a
// replica's connection to the database, or the same memory), together
// stay within every limit, honour each other's Blocks and announced
// buckets, and leave other bots alone.
package pacetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

// Handles returns n handles on one fresh shared state.
type Handles func(t *testing.T, n int) []chat.PaceState

// Run runs the contract against the states handles makes.
func Run(t *testing.T, handles Handles) {
	t.Run("WindowAcrossHandles", func(t *testing.T) { windowAcrossHandles(t, handles(t, 3)) })
	t.Run("CountsFromTheEnd", func(t *testing.T) { countsFromTheEnd(t, handles(t, 2)) })
	t.Run("BlockAcrossHandles", func(t *testing.T) { blockAcrossHandles(t, handles(t, 2)) })
	t.Run("BucketAcrossHandles", func(t *testing.T) { bucketAcrossHandles(t, handles(t, 2)) })
}

func pacers(states []chat.PaceState, bot string) []*chat.Pacer {
	var ps []*chat.Pacer
	for _, s := range states {
		ps = append(ps, &chat.Pacer{Provider: "slack", Bot: bot, State: s})
	}
	return ps
}

// windowAcrossHandles: requests through every handle at once never exceed
// N in any window, under any of their keys, and another bot's requests
// with the same keys do not wait for them.
func windowAcrossHandles(t *testing.T, states []chat.PaceState) {
	ps := pacers(states, "bot-a")
	channel := chat.Limit{N: 2, Per: 300 * time.Millisecond}
	method := chat.Limit{N: 100, Per: time.Minute}
	const perPacer = 4
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for _, p := range ps {
		for range perPacer {
			wg.Go(func() {
				done, err := p.Wait(context.Background(), chat.Rule{Key: "channel C1", Limit: channel}, chat.Rule{Key: "method chat.postMessage", Limit: method})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				at = append(at, time.Now())
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // the request
				done()
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	n := len(ps) * perPacer
	for _, a := range at {
		within := 0
		for _, b := range at {
			if !b.Before(a) && b.Sub(a) < channel.Per {
				within++
			}
		}
		if within > channel.N {
			t.Fatalf("%d requests within %v, the limit is %d", within, channel.Per, channel.N)
		}
	}
	// 12 requests at 2 per window take at least 5 windows.
	if least := time.Duration(n/channel.N-1) * channel.Per; time.Since(start) < least {
		t.Fatalf("%d requests in %v, the limit allows them in no less than %v", n, time.Since(start), least)
	}
	other := pacers(states[:1], "bot-b")[0]
	began := time.Now()
	done, err := other.Wait(context.Background(), chat.Rule{Key: "channel C1", Limit: channel})
	if err != nil {
		t.Fatal(err)
	}
	done()
	if d := time.Since(began); d > 100*time.Millisecond {
		t.Fatalf("another bot waited %v for the first bot's limit", d)
	}
}

// countsFromTheEnd: a request is counted until a window after it ended,
// through whichever handle it went.
func countsFromTheEnd(t *testing.T, states []chat.PaceState) {
	ps := pacers(states, "bot-a")
	rule := chat.Rule{Key: "channel C1", Limit: chat.Limit{N: 1, Per: 200 * time.Millisecond}}
	done, err := ps[0].Wait(context.Background(), rule)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a slow upload, still counted
	ended := time.Now()
	done()
	next, err := ps[1].Wait(context.Background(), rule)
	if err != nil {
		t.Fatal(err)
	}
	next()
	if d := time.Since(ended); d < 190*time.Millisecond {
		t.Fatalf("the next request went %v after the slow one ended, want a window (200ms)", d)
	}
}

// blockAcrossHandles: a 429's wait met through one handle holds the bot's
// requests through every other, windows and buckets alike, and no other
// bot's.
func blockAcrossHandles(t *testing.T, states []chat.PaceState) {
	ctx := context.Background()
	ps := pacers(states, "bot-a")
	ps[0].Block(ctx, 300*time.Millisecond)
	ps[0].Block(ctx, 10*time.Millisecond) // a shorter block does not shorten it
	start := time.Now()
	other := pacers(states[1:], "bot-b")[0]
	done, err := other.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Fatalf("another bot waited %v for the first bot's block", d)
	}
	done, err = ps[1].Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done()
	release, err := ps[1].Acquire(ctx, "POST /channels/1/messages")
	if err != nil {
		t.Fatal(err)
	}
	release(nil)
	if d := time.Since(start); d < 290*time.Millisecond {
		t.Fatalf("waited %v, want the 300ms block", d)
	}
	// A wait that cannot end before the deadline returns at once.
	ps[0].Block(ctx, time.Hour)
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	began := time.Now()
	_, err = ps[1].Wait(dctx)
	var ce *chat.Error
	if !errors.As(err, &ce) || ce.Code != "paced" || ce.RetryAfter < 59*time.Minute || time.Since(began) > 500*time.Millisecond {
		t.Fatalf("got %v after %v, want a paced error at once", err, time.Since(began))
	}
}

// bucketAcrossHandles: while one request holds a limited bucket the others
// wait for its answer, whichever handle they use, and then for the reset
// it announced; a bucket shown unlimited takes requests at once.
func bucketAcrossHandles(t *testing.T, states []chat.PaceState) {
	ctx := context.Background()
	ps := pacers(states, "bot-a")
	const key = "POST /channels/1/messages"
	release, err := ps[0].Acquire(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan time.Time, 1)
	go func() {
		r, err := ps[1].Acquire(ctx, key)
		if err != nil {
			t.Error(err)
			second <- time.Time{}
			return
		}
		second <- time.Now()
		r(&chat.Announced{Known: true, Remaining: 4, ResetAfter: time.Second})
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-second:
		t.Fatal("a second request took the bucket while the first was out")
	default:
	}
	announced := time.Now()
	release(&chat.Announced{Known: true, Remaining: 0, ResetAfter: 200 * time.Millisecond})
	if got := <-second; got.Sub(announced) < 190*time.Millisecond {
		t.Fatalf("the second request went %v after Remaining 0 with Reset-After 200ms", got.Sub(announced))
	}
	// Remaining 4: the next goes at once, through either handle.
	began := time.Now()
	r, err := ps[0].Acquire(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 100*time.Millisecond {
		t.Fatalf("waited %v with 4 requests left", d)
	}
	// An answer without rate-limit state frees the bucket for concurrency.
	r(&chat.Announced{})
	held, err := ps[0].Acquire(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer held(nil)
	got := make(chan error, 1)
	go func() {
		r, err := ps[1].Acquire(ctx, key)
		if err == nil {
			r(nil)
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("an unlimited bucket still takes one request at a time")
	}
	// A cancelled wait for a held bucket returns.
	busy, err := ps[0].Acquire(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	defer busy(nil)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := ps[1].Acquire(cctx, "busy"); err == nil {
		t.Fatal("took a bucket another request holds")
	}
}
