package chat

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPacerWaitKeepsWithinTheWindow(t *testing.T) {
	p := &Pacer{Provider: "telegram"}
	lim := Limit{N: 2, Per: 100 * time.Millisecond}
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			done, err := p.Wait(context.Background(), Rule{"chat 1", lim}, Rule{"all", Limit{N: 100, Per: time.Second}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			done()
		})
	}
	wg.Wait()
	// Any three requests span more than a window.
	for i := range at {
		n := 0
		for _, b := range at {
			if !b.Before(at[i]) && b.Sub(at[i]) < lim.Per {
				n++
			}
		}
		if n > lim.N {
			t.Fatalf("%d requests within %v of %v", n, lim.Per, at[i])
		}
	}
	// Another key is not held up by the first one's wait.
	start := time.Now()
	if _, err := p.Wait(context.Background(), Rule{"chat 2", lim}); err != nil || time.Since(start) > 20*time.Millisecond {
		t.Fatalf("another key waited %v (%v)", time.Since(start), err)
	}
}

func TestPacerCountsFromTheEndOfARequest(t *testing.T) {
	p := &Pacer{}
	lim := Rule{"k", Limit{N: 1, Per: 50 * time.Millisecond}}
	done, _ := p.Wait(context.Background(), lim)
	// A slow request (an upload) is still counted while in flight.
	time.Sleep(80 * time.Millisecond)
	ended := time.Now()
	done()
	if _, err := p.Wait(context.Background(), lim); err != nil || time.Since(ended) < 45*time.Millisecond {
		t.Fatalf("the next request went %v after the slow one ended (%v)", time.Since(ended), err)
	}
}

func TestPacerGivesUpBeforeTheDeadline(t *testing.T) {
	p := &Pacer{Provider: "slack"}
	lim := Rule{"k", Limit{N: 1, Per: time.Hour}}
	done, err := p.Wait(context.Background(), lim)
	if err != nil {
		t.Fatal(err)
	}
	done()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = p.Wait(ctx, lim)
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != "paced" || !ce.Temporary || ce.RetryAfter < 59*time.Minute {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("waited although the wait could not end in time")
	}
	// A cancelled context ends a wait that would have fitted.
	p.Block(context.Background(), time.Hour)
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel2)
	if _, err := p.Wait(ctx2, Rule{Key: "other"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestPacerBlock(t *testing.T) {
	p := &Pacer{}
	p.Block(context.Background(), 80*time.Millisecond)
	p.Block(context.Background(), 10*time.Millisecond) // a shorter block does not shorten it
	start := time.Now()
	if _, err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	release, err := p.Acquire(context.Background(), "bucket")
	if err != nil {
		t.Fatal(err)
	}
	release(nil)
	if d := time.Since(start); d < 75*time.Millisecond {
		t.Fatalf("waited %v, want the 80ms block", d)
	}
}

func TestPacerAcquireFollowsTheAnnouncement(t *testing.T) {
	p := &Pacer{}
	ctx := context.Background()
	release, err := p.Acquire(ctx, "POST /channels/1/messages")
	if err != nil {
		t.Fatal(err)
	}
	// While the first request is out, a second waits for its answer.
	second := make(chan time.Time)
	go func() {
		r, err := p.Acquire(ctx, "POST /channels/1/messages")
		if err != nil {
			t.Error(err)
		}
		second <- time.Now()
		r(&Announced{Known: true, Remaining: 4, ResetAfter: time.Second})
	}()
	time.Sleep(30 * time.Millisecond)
	announced := time.Now()
	release(&Announced{Known: true, Remaining: 0, ResetAfter: 60 * time.Millisecond})
	if got := <-second; got.Sub(announced) < 55*time.Millisecond {
		t.Fatalf("the second request went %v after Remaining 0 with Reset-After 60ms", got.Sub(announced))
	}
	// An answer without rate-limit state frees the bucket for concurrency.
	r1, _ := p.Acquire(ctx, "free")
	r1(&Announced{})
	r2, _ := p.Acquire(ctx, "free")
	done := make(chan struct{})
	go func() {
		r3, _ := p.Acquire(ctx, "free")
		r3(nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("an unlimited bucket still takes one request at a time")
	}
	r2(nil)
	// A cancelled wait for a busy bucket returns.
	rb, _ := p.Acquire(ctx, "busy")
	defer rb(nil)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(cctx, "busy"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestLimitOr(t *testing.T) {
	def := Limit{N: 1, Per: time.Second}
	if got := (Limit{}).Or(def); got != def {
		t.Errorf("zero Limit: %+v", got)
	}
	if off := (Limit{N: -1}).Or(def); !off.Off() {
		t.Errorf("N < 0 should turn the limit off: %+v", off)
	}
	if l := (Limit{N: 5, Per: time.Minute}).Or(def); l.N != 5 {
		t.Errorf("a set Limit was replaced: %+v", l)
	}
}

func TestBotID(t *testing.T) {
	const token = "xoxb-1234-secret"
	id := BotID("https://slack.com/api/", token)
	if id != BotID("https://slack.com/api/", token) || len(id) != 24 {
		t.Fatalf("BotID %q is not a stable 24-digit hash", id)
	}
	if strings.Contains(id, "secret") || strings.Contains(id, "1234") {
		t.Fatalf("BotID %q shows the token", id)
	}
	for _, other := range []string{BotID("https://slack.com/api/", token+"x"), BotID("https://other.example/api/", token), BotID("https://slack.com/api/" + token)} {
		if other == id {
			t.Fatalf("another bot has the same id %q", id)
		}
	}
}
