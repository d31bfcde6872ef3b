package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// The contract's tests with workers: the stores as the worker uses them.

func workerOptions() delivery.WorkerOptions {
	return delivery.WorkerOptions{
		MaxAttempts:   3,
		BaseBackoff:   time.Millisecond,
		MaxBackoff:    10 * time.Millisecond,
		Poll:          20 * time.Millisecond, // jobs enqueued through the other store
		Concurrency:   3,
		ShutdownGrace: 50 * time.Millisecond,
		Lease:         400 * time.Millisecond,
	}
}

// Two processes, each with a worker of three goroutines: every job is sent
// exactly once. What is tested is that a claim is exclusive; a lease that
// lapses is a take-over (testWorkerTakesOver), so the lease here is long
// enough that no attempt outlives it, however slow a loaded machine makes
// SQLite's synchronous writes (400 ms was seen to lapse under CI's load).
func testWorkersNeverDoubleSend(t *testing.T, open Opener) {
	s := &Sender{}
	opts := workerOptions()
	opts.Lease = time.Minute
	var stores []delivery.Store
	for range 2 {
		st := open(t)
		StartWorker(t, delivery.NewWorker(st, map[string]chat.Sender{"slack": s}, nil, opts))
		stores = append(stores, st)
	}
	const jobs = 100
	var ids []string
	for i := range jobs {
		ids = append(ids, enqueue(t, stores[i%2], delivery.Job{Text: fmt.Sprint(i)}).ID)
	}
	for _, id := range ids {
		if j := WaitDone(t, stores[0], id); j.State != delivery.StateSent || j.Attempts != 1 {
			t.Errorf("job %s: %s after %d attempts", id, j.State, j.Attempts)
		}
	}
	count := map[string]int{}
	sends, _ := s.Calls()
	for _, m := range sends {
		count[m.IdempotencyKey]++
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("job %s sent %d times", id, count[id])
		}
	}
	if len(sends) != jobs {
		t.Errorf("%d sends for %d jobs", len(sends), jobs)
	}
}

// A replica dies mid-send (its claim is never renewed or finished): another
// replica's worker takes the job over once the lease lapsed and sends it,
// with the interruption counted.
func testWorkerTakesOver(t *testing.T, open Opener) {
	dead, live := open(t), open(t)
	j := enqueue(t, dead, delivery.Job{Text: "orphan"})
	opts := workerOptions()
	now := time.Now()
	if c, ok, err := dead.Claim(ctx, now, now.Add(opts.Lease)); !ok || err != nil || c.ID != j.ID {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	s := &Sender{}
	StartWorker(t, delivery.NewWorker(live, map[string]chat.Sender{"slack": s}, nil, opts))
	got := WaitDone(t, live, j.ID)
	if got.State != delivery.StateSent || got.Attempts != 2 || got.Interrupts != 1 || s.Count() != 1 {
		t.Errorf("orphan: %s, %d attempts, %d interrupted, %d sends; want sent, 2, 1, 1", got.State, got.Attempts, got.Interrupts, s.Count())
	}
	if took := time.Since(now); took < opts.Lease {
		t.Errorf("taken over after %v, before the lease of %v ended", took, opts.Lease)
	}
}

// At shutdown a worker waits for attempts within the grace, then releases
// the job it still holds, uncounted, and another replica sends it at once.
func testShutdownHandsOver(t *testing.T, open Opener) {
	leaving, staying := open(t), open(t)
	started := make(chan struct{})
	prepare := func(ctx context.Context, _ delivery.Job) (chat.Message, error) {
		close(started)
		<-ctx.Done()
		return chat.Message{}, ctx.Err()
	}
	opts := workerOptions()
	opts.Lease = time.Hour // a hand-over must not wait for a lease
	opts.Poll = time.Hour  // only the Enqueue wakes the leaving worker
	w := delivery.NewWorker(leaving, map[string]chat.Sender{"slack": &Sender{}}, prepare, opts)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	j := enqueue(t, leaving, delivery.Job{})
	<-started
	// A job enqueued during the shutdown is not claimed by the leaving worker.
	cancel()
	later := enqueue(t, leaving, delivery.Job{Text: "later"})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its grace period")
	}
	got := get(t, staying, j.ID)
	if got.State != delivery.StateQueued || got.Attempts != 0 || got.Interrupts != 0 || !strings.HasPrefix(got.LastError, "interrupted: Panelcast stopped") {
		t.Errorf("after shutdown: %s, %d attempts, %q", got.State, got.Attempts, got.LastError)
	}
	if got := get(t, staying, later.ID); got.State != delivery.StateQueued || got.Claims != 0 {
		t.Errorf("the job enqueued during shutdown: %s, claimed %d times", got.State, got.Claims)
	}
	s := &Sender{}
	StartWorker(t, delivery.NewWorker(staying, map[string]chat.Sender{"slack": s}, nil, opts))
	for _, id := range []string{j.ID, later.ID} {
		if got := WaitDone(t, staying, id); got.State != delivery.StateSent || got.Attempts != 1 {
			t.Errorf("job %s on the other replica: %s after %d attempts", id, got.State, got.Attempts)
		}
	}
}
