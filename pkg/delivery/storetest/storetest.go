// Package storetest is the contract every delivery.Store passes, run by the
// tests of each store, and helpers the tests of the worker and the service
// share. Only tests (and tools/bench) import it.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// Opener opens another Store on one outbox: each call is another owner, as
// another process or replica would be. The test closes what it opens.
type Opener func(t *testing.T) delivery.Store

// Options describe what a store can do beyond the contract.
type Options struct {
	// SharedWake: Subscribe hears jobs enqueued through other Stores.
	SharedWake bool
}

// Run runs the contract; newOutbox makes a fresh, empty outbox per test.
func Run(t *testing.T, newOutbox func(t *testing.T) Opener, opts Options) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"EnqueueGet", testEnqueueGet},
		{"Dedupe", testDedupe},
		{"EnqueueAll", testEnqueueAll},
		{"DedupeAcrossStores", testDedupeAcrossStores},
		{"ClaimIsExclusive", testClaimIsExclusive},
		{"ClaimOrderAndDue", testClaimOrderAndDue},
		{"Outcomes", testOutcomes},
		{"LeaseExpiry", testLeaseExpiry},
		{"Fencing", testFencing},
		{"Release", testRelease},
		{"Threads", testThreads},
		{"ThreadAfterFailure", testThreadAfterFailure},
		{"ThreadGroups", testThreadGroups},
		{"ThreadGroupAcrossStores", testThreadGroupAcrossStores},
		{"FirstClaim", testFirstClaim},
		{"SessionRevocations", testSessionRevocations},
		{"Retention", testRetention},
		{"Depth", testDepth},
		{"ListAndRetry", testListAndRetry},
		{"Inbox", testInbox},
		{"Wake", func(t *testing.T, open Opener) { testWake(t, open, opts.SharedWake) }},
		{"WorkersNeverDoubleSend", testWorkersNeverDoubleSend},
		{"WorkerTakesOver", testWorkerTakesOver},
		{"ShutdownHandsOver", testShutdownHandsOver},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newOutbox(t)) })
	}
}

var ctx = context.Background()

const lease = time.Minute

func enqueue(t *testing.T, s delivery.Store, j delivery.Job) delivery.Job {
	t.Helper()
	if j.Kind == "" {
		j.Kind = "push"
	}
	if j.Address == "" {
		j.Address = "slack:#ops"
	}
	j, existing, err := s.Enqueue(ctx, j)
	if err != nil || existing {
		t.Fatalf("Enqueue: %v, existing=%v", err, existing)
	}
	return j
}

func claim(t *testing.T, s delivery.Store, now time.Time) delivery.Job {
	t.Helper()
	j, ok, err := s.Claim(ctx, now, now.Add(lease))
	if err != nil || !ok {
		t.Fatalf("Claim: ok=%v, %v", ok, err)
	}
	return j
}

func noClaim(t *testing.T, s delivery.Store, now time.Time, why string) {
	t.Helper()
	j, ok, err := s.Claim(ctx, now, now.Add(lease))
	if err != nil || ok {
		t.Fatalf("Claim claimed %q (%s, %v); want nothing: %s", j.Text, j.ID, err, why)
	}
}

func get(t *testing.T, s delivery.Store, id string) delivery.Job {
	t.Helper()
	j, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func sent(id string) delivery.Outcome {
	return delivery.Outcome{State: delivery.StateSent, Counted: true,
		Receipt: chat.Receipt{MessageID: "msg-" + id, ChannelID: "C1", Permalink: "https://chat/" + id}}
}

func finish(t *testing.T, s delivery.Store, j delivery.Job, out delivery.Outcome, now time.Time) {
	t.Helper()
	if err := s.Finish(ctx, j, out, now); err != nil {
		t.Fatalf("Finish %s: %v", j.ID, err)
	}
}

func testEnqueueGet(t *testing.T, open Opener) {
	s := open(t)
	if s.Kind() == "" || s.Location() == "" {
		t.Errorf("Kind %q, Location %q", s.Kind(), s.Location())
	}
	j, existing, err := s.Enqueue(ctx, delivery.Job{Kind: "push", Address: " Slack: #ops ", Text: "cpu",
		Payload: []byte(`{"panel":2}`), ThreadKey: "t1"})
	if err != nil || existing {
		t.Fatalf("Enqueue: %v, existing=%v", err, existing)
	}
	if !regexp.MustCompile(`^[a-z2-7]{26}$`).MatchString(j.ID) {
		t.Errorf("ID %q is not 26 base32 characters", j.ID)
	}
	// Any other store on the outbox answers for it (any replica answers
	// GET /push/{id}).
	got := get(t, open(t), j.ID)
	if got.Address != "slack:#ops" || got.State != delivery.StateQueued || got.Text != "cpu" || got.ThreadKey != "t1" ||
		string(got.Payload) != `{"panel":2}` || got.Kind != "push" || got.Attempts != 0 || got.DedupeKey != "" {
		t.Errorf("Get = %+v", got)
	}
	if !got.CreatedAt.Equal(j.CreatedAt) || !got.NextAttemptAt.Equal(j.CreatedAt) || !got.SentAt.IsZero() || !got.FinishedAt.IsZero() {
		t.Errorf("times: created %v (want %v), next %v, sent %v, finished %v", got.CreatedAt, j.CreatedAt, got.NextAttemptAt, got.SentAt, got.FinishedAt)
	}
	if d := time.Since(got.CreatedAt); d < 0 || d > time.Minute {
		t.Errorf("created %v ago", d)
	}

	if _, err := s.Get(ctx, "nope"); !errors.Is(err, delivery.ErrNotFound) {
		t.Errorf("Get(unknown) = %v; want ErrNotFound", err)
	}
	if _, _, err := s.Enqueue(ctx, delivery.Job{Kind: "push", Address: "#ops"}); err == nil || !strings.Contains(err.Error(), "slack:#ops") {
		t.Errorf("Enqueue without provider: %v", err)
	}
	if _, _, err := s.Enqueue(ctx, delivery.Job{Address: "slack:#ops"}); err == nil {
		t.Error("Enqueue without kind succeeded")
	}
}

// An alert notification's messages are stored together: new ones, one
// stored before and a repeat within the batch each come back as they should,
// and a batch with a bad job stores nothing.
func testEnqueueAll(t *testing.T, open Opener) {
	s := open(t)
	before := enqueue(t, s, delivery.Job{Kind: "alert", Text: "old", DedupeKey: "k-old"})
	out, err := s.EnqueueAll(ctx, []delivery.Job{
		{Kind: "alert", Address: "slack:#ops", Text: "a", DedupeKey: "k-a"},
		{Kind: "alert", Address: "slack:#ops", Text: "again", DedupeKey: "k-old"},
		{Kind: "alert", Address: "discord:1", Text: "b"},
		{Kind: "alert", Address: "slack:#ops", Text: "a twice", DedupeKey: "k-a"},
	})
	if err != nil || len(out) != 4 {
		t.Fatalf("EnqueueAll = %v, %v", out, err)
	}
	if out[0].Existing || out[0].Job.Text != "a" || out[2].Existing || out[2].Job.Address != "discord:1" {
		t.Errorf("new jobs: %+v, %+v", out[0], out[2])
	}
	if !out[1].Existing || out[1].Job.ID != before.ID || !out[3].Existing || out[3].Job.ID != out[0].Job.ID {
		t.Errorf("repeats: %+v, %+v; want the stored job and the batch's first", out[1], out[3])
	}
	if got := get(t, open(t), out[2].Job.ID); got.Text != "b" || got.State != delivery.StateQueued {
		t.Errorf("another store reads %+v", got)
	}
	if _, err := s.EnqueueAll(ctx, []delivery.Job{{Kind: "alert", Address: "slack:#ops", Text: "c"}, {Kind: "alert", Address: "nowhere"}}); err == nil {
		t.Fatal("a batch with a job without an address was stored")
	}
	if d, _ := s.Depth(ctx); d.Queued != 3 {
		t.Errorf("Depth = %+v; want the 3 jobs stored before, none of the refused batch", d)
	}
}

func testDedupe(t *testing.T, open Opener) {
	s := open(t)
	a := enqueue(t, s, delivery.Job{Kind: "alert", Text: "firing", DedupeKey: "fp1/firing"})
	b, existing, err := s.Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", Text: "firing again", DedupeKey: "fp1/firing"})
	if err != nil || !existing || b.ID != a.ID || b.Text != "firing" || b.DedupeKey != "fp1/firing" {
		t.Fatalf("duplicate Enqueue = %+v, %v, %v; want the first job and existing", b, existing, err)
	}
	// The key holds whatever the first job's state.
	finish(t, s, claim(t, s, time.Now()), sent(a.ID), time.Now())
	if b, existing, _ := s.Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", DedupeKey: "fp1/firing"}); !existing || b.State != delivery.StateSent {
		t.Errorf("Enqueue after the first was sent: existing=%v state %s", existing, b.State)
	}
	// Jobs without a key are never duplicates of each other.
	for range 2 {
		enqueue(t, s, delivery.Job{})
	}
	if d, _ := s.Depth(ctx); d.Queued != 2 || d.Sent != 1 {
		t.Errorf("Depth = %+v; want 2 queued, 1 sent", d)
	}
}

// Alertmanagers in a cluster send every notification to whichever replica
// they reach: the same key enqueued at once through two stores is stored
// once.
func testDedupeAcrossStores(t *testing.T, open Opener) {
	stores := []delivery.Store{open(t), open(t)}
	const tries = 16
	ids := make(chan string, tries)
	fresh := make(chan bool, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			j, existing, err := stores[i%2].Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", DedupeKey: "fp/firing"})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- j.ID
			fresh <- !existing
		})
	}
	wg.Wait()
	close(ids)
	close(fresh)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Errorf("two jobs for one dedupe key: %s and %s", first, id)
		}
	}
	added := 0
	for f := range fresh {
		if f {
			added++
		}
	}
	if d, _ := stores[0].Depth(ctx); added != 1 || d.Queued != 1 {
		t.Errorf("%d Enqueues reported a new job, %d queued; want 1 and 1", added, d.Queued)
	}
}

// Two stores (two processes), eight goroutines each, claim 120 jobs: each
// is claimed exactly once.
func testClaimIsExclusive(t *testing.T, open Opener) {
	stores := []delivery.Store{open(t), open(t)}
	const jobs = 120
	for i := range jobs {
		enqueue(t, stores[i%2], delivery.Job{Text: fmt.Sprint(i)})
	}
	var mu sync.Mutex
	claims := map[string]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		s := stores[g%2]
		wg.Go(func() {
			for {
				now := time.Now()
				j, ok, err := s.Claim(ctx, now, now.Add(lease))
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				if j.State != delivery.StateSending || j.Claims != 1 {
					t.Errorf("claimed job %s is %s with claim %d", j.ID, j.State, j.Claims)
				}
				mu.Lock()
				claims[j.ID]++
				mu.Unlock()
				if err := s.Finish(ctx, j, sent(j.ID), time.Now()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(claims) != jobs {
		t.Errorf("%d jobs claimed; want %d", len(claims), jobs)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
	}
	if d, _ := stores[1].Depth(ctx); d.Sent != jobs || d.Queued+d.Sending != 0 {
		t.Errorf("Depth = %+v", d)
	}
}

func testClaimOrderAndDue(t *testing.T, open Opener) {
	s := open(t)
	noClaim(t, s, time.Now(), "the outbox is empty")
	if _, ok, err := s.NextDue(ctx); ok || err != nil {
		t.Errorf("NextDue of an empty outbox: ok=%v %v", ok, err)
	}
	first := enqueue(t, s, delivery.Job{Text: "first"})
	second := enqueue(t, s, delivery.Job{Text: "second"})
	// Nothing is due before it was enqueued.
	noClaim(t, s, first.CreatedAt.Add(-time.Second), "no job is due yet")
	if at, ok, _ := s.NextDue(ctx); !ok || !at.Equal(first.CreatedAt) {
		t.Errorf("NextDue = %v, %v; want %v", at, ok, first.CreatedAt)
	}
	now := time.Now()
	a := claim(t, s, now)
	if a.ID != first.ID {
		t.Fatalf("claimed %q first", a.Text)
	}
	// A retry is due at its time, and waits behind jobs due earlier.
	retryAt := now.Add(time.Hour)
	finish(t, s, a, delivery.Outcome{State: delivery.StateQueued, Counted: true, LastError: "slack: 500", Next: retryAt}, now)
	if b := claim(t, s, now); b.ID != second.ID {
		t.Fatalf("claimed %q; want second", b.Text)
	}
	noClaim(t, s, now, "the retry is due in an hour")
	if at, ok, _ := s.NextDue(ctx); !ok || at.Sub(retryAt).Abs() > time.Millisecond {
		t.Errorf("NextDue = %v, %v; want %v", at, ok, retryAt)
	}
	if again := claim(t, s, retryAt); again.ID != first.ID || again.Attempts != 1 || again.Claims != 2 || again.LastError != "slack: 500" {
		t.Errorf("retry claimed as %+v", again)
	}
}

func testOutcomes(t *testing.T, open Opener) {
	s := open(t)
	ok := enqueue(t, s, delivery.Job{Text: "ok"})
	bad := enqueue(t, s, delivery.Job{Text: "bad"})
	now := time.Now()
	c := claim(t, s, now)
	finish(t, s, c, sent(c.ID), now)
	got := get(t, s, ok.ID)
	if got.State != delivery.StateSent || got.Attempts != 1 || got.MessageID != "msg-"+ok.ID || got.ChannelID != "C1" ||
		got.Permalink != "https://chat/"+ok.ID || got.SentAt.Sub(now).Abs() > time.Millisecond || !got.FinishedAt.Equal(got.SentAt) {
		t.Errorf("sent job = %+v", got)
	}
	c = claim(t, s, now)
	finish(t, s, c, delivery.Outcome{State: delivery.StateFailed, Counted: true, LastError: "slack: not_in_channel: invite the bot to #ops"}, now)
	got = get(t, s, bad.ID)
	if got.State != delivery.StateFailed || got.Attempts != 1 || got.LastError != "slack: not_in_channel: invite the bot to #ops" ||
		!got.SentAt.IsZero() || got.FinishedAt.Sub(now).Abs() > time.Millisecond {
		t.Errorf("failed job = %+v", got)
	}
	// A finished job cannot be finished again.
	if err := s.Finish(ctx, c, sent(c.ID), now); !errors.Is(err, delivery.ErrClaimLost) {
		t.Errorf("second Finish = %v; want ErrClaimLost", err)
	}
}

// A process that stops renewing loses its claim after the lease, and the
// interruption counts as an attempt; a live one keeps it.
func testLeaseExpiry(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	j := enqueue(t, a, delivery.Job{})
	now := time.Now()
	claim(t, a, now)
	if n, err := b.RequeueExpired(ctx, now.Add(lease/2)); n != 0 || err != nil {
		t.Fatalf("a fresh lease was taken: %d, %v", n, err)
	}
	if err := a.RenewLeases(ctx, now.Add(2*lease)); err != nil {
		t.Fatal(err)
	}
	if n, err := b.RequeueExpired(ctx, now.Add(3*lease/2)); n != 0 || err != nil {
		t.Fatalf("a renewed lease was taken: %d, %v", n, err)
	}
	// An owner never takes its own claims back.
	if n, _ := a.RequeueExpired(ctx, now.Add(time.Hour)); n != 0 {
		t.Fatalf("an owner re-queued %d of its own jobs", n)
	}
	if got := get(t, b, j.ID); got.State != delivery.StateSending {
		t.Fatalf("state %s while the lease holds", got.State)
	}
	later := now.Add(2*lease + time.Second)
	if n, err := b.RequeueExpired(ctx, later); n != 1 || err != nil {
		t.Fatalf("RequeueExpired after the lease = %d, %v; want 1", n, err)
	}
	got := get(t, b, j.ID)
	if got.State != delivery.StateQueued || got.Attempts != 1 || got.Interrupts != 1 ||
		!strings.HasPrefix(got.LastError, delivery.InterruptedBefore) || !strings.HasSuffix(got.LastError, delivery.InterruptedAfter) {
		t.Fatalf("after the lease: %+v", got)
	}
	if c := claim(t, b, later); c.ID != j.ID || c.Attempts != 1 || c.Interrupts != 1 {
		t.Errorf("taken over as %+v", c)
	}
}

// Outcomes count only for the claim that is current.
func testFencing(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	j := enqueue(t, a, delivery.Job{})
	now := time.Now()
	lost := claim(t, a, now)
	later := now.Add(lease + time.Second)
	if n, _ := b.RequeueExpired(ctx, later); n != 1 {
		t.Fatal("the lease did not lapse")
	}
	// a stalled, then answers late, and then claims the job again itself.
	if err := a.Finish(ctx, lost, sent(j.ID), later); !errors.Is(err, delivery.ErrClaimLost) {
		t.Errorf("Finish after losing the claim = %v; want ErrClaimLost", err)
	}
	if err := a.Release(ctx, lost, "shutdown", later); !errors.Is(err, delivery.ErrClaimLost) {
		t.Errorf("Release after losing the claim = %v; want ErrClaimLost", err)
	}
	current := claim(t, a, later)
	if current.Claims != lost.Claims+1 {
		t.Fatalf("claims %d then %d", lost.Claims, current.Claims)
	}
	if err := a.Finish(ctx, lost, sent(j.ID), later); !errors.Is(err, delivery.ErrClaimLost) {
		t.Errorf("Finish for an older claim of the same owner = %v; want ErrClaimLost", err)
	}
	// Another owner cannot finish a's claim either.
	if err := b.Finish(ctx, current, sent(j.ID), later); !errors.Is(err, delivery.ErrClaimLost) {
		t.Errorf("Finish by another owner = %v; want ErrClaimLost", err)
	}
	finish(t, a, current, sent(j.ID), later)
	if got := get(t, b, j.ID); got.State != delivery.StateSent || got.Attempts != 2 {
		t.Errorf("after the current claim's Finish: %s, %d attempts", got.State, got.Attempts)
	}
}

// A release (shutdown) puts the job back at once, uncounted.
func testRelease(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	j := enqueue(t, a, delivery.Job{})
	now := time.Now()
	c := claim(t, a, now)
	if err := a.Release(ctx, c, "released: Panelcast stopped", now); err != nil {
		t.Fatal(err)
	}
	got := get(t, b, j.ID)
	if got.State != delivery.StateQueued || got.Attempts != 0 || got.Interrupts != 0 || got.LastError != "released: Panelcast stopped" {
		t.Errorf("released job = %+v", got)
	}
	if c := claim(t, b, now); c.ID != j.ID {
		t.Errorf("another owner could not take the released job")
	}
	if n, _ := a.RequeueExpired(ctx, now.Add(2*lease)); n != 1 {
		t.Errorf("RequeueExpired of b's job = %d", n)
	}
}

// The resolved notice replies to the firing one, even when the firing one
// needs a retry and the resolved one is due first, and whichever store
// claims each.
func testThreads(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	firing := enqueue(t, a, delivery.Job{Kind: "alert", Text: "firing", ThreadKey: "fp1"})
	resolved := enqueue(t, b, delivery.Job{Kind: "alert", Text: "resolved", ThreadKey: "fp1"})
	elsewhere := enqueue(t, b, delivery.Job{Kind: "alert", Address: "slack:#dev", Text: "dev", ThreadKey: "fp1"})
	now := time.Now()
	for _, j := range []delivery.Job{firing, resolved, elsewhere} {
		if root, err := a.ThreadRoot(ctx, j); root != (delivery.Thread{}) || err != nil {
			t.Errorf("%s: ThreadRoot before any was sent = %+v, %v", j.Text, root, err)
		}
	}
	f := claim(t, a, now)
	if f.ID != firing.ID {
		t.Fatalf("claimed %q first", f.Text)
	}
	// While firing is being sent, resolved waits; #dev is its own thread.
	if d := claim(t, b, now); d.ID != elsewhere.ID {
		t.Fatalf("claimed %q; want dev", d.Text)
	}
	noClaim(t, b, now, "resolved waits while firing is sending")
	retry := now.Add(time.Hour)
	finish(t, a, f, delivery.Outcome{State: delivery.StateQueued, Counted: true, LastError: "slack: 500", Next: retry}, now)
	noClaim(t, b, now, "resolved waits while firing waits for its retry")
	f = claim(t, a, retry)
	finish(t, a, f, sent(f.ID), retry)
	want := delivery.Thread{MessageID: "msg-" + firing.ID, ChannelID: "C1"}
	r := claim(t, b, retry)
	if r.ID != resolved.ID {
		t.Fatalf("claimed %q; want resolved", r.Text)
	}
	if root, err := b.ThreadRoot(ctx, r); root != want || err != nil {
		t.Errorf("resolved's ThreadRoot = %+v, %v; want %+v", root, err, want)
	}
	if root, _ := b.ThreadRoot(ctx, elsewhere); root != (delivery.Thread{}) {
		t.Errorf("#dev's ThreadRoot = %+v; want none", root)
	}
	finish(t, b, r, sent(r.ID), retry)
	// The reply does not become the root.
	again := enqueue(t, a, delivery.Job{Kind: "alert", Text: "again", ThreadKey: "fp1"})
	if root, _ := a.ThreadRoot(ctx, again); root != want {
		t.Errorf("third job's ThreadRoot = %+v; want %+v", root, want)
	}
	if root, _ := a.ThreadRoot(ctx, delivery.Job{ThreadKey: "other", Address: "slack:#ops"}); root != (delivery.Thread{}) {
		t.Errorf("another key's ThreadRoot = %+v", root)
	}
}

// A firing that failed for good no longer holds up its resolve, which then
// starts the thread.
// A group keeps one thread per address until a job ends it; a duplicate
// neither opens nor closes one; the thread goes with the retention.
func testThreadGroups(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	group := func(s delivery.Store, j delivery.Job) delivery.Job {
		t.Helper()
		j.Kind, j.ThreadGroup = "alert", "g1"
		if j.Address == "" {
			j.Address = "slack:#ops"
		}
		got, _, err := s.Enqueue(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		if stored := get(t, s, got.ID); stored.ThreadKey != got.ThreadKey || !strings.HasPrefix(got.ThreadKey, "g1/") {
			t.Fatalf("%s: Enqueue answered thread %q, stored %q; want one starting g1/", j.Text, got.ThreadKey, stored.ThreadKey)
		}
		return got
	}
	first := group(a, delivery.Job{Text: "A fires", DedupeKey: "A"})
	joined := group(b, delivery.Job{Text: "B joins", DedupeKey: "A+B"})
	dev := group(a, delivery.Job{Text: "dev", Address: "slack:#dev", DedupeKey: "dev"})
	left := group(b, delivery.Job{Text: "A left", DedupeKey: "B"})
	if joined.ThreadKey != first.ThreadKey || left.ThreadKey != first.ThreadKey {
		t.Errorf("one incident got threads %q, %q, %q", first.ThreadKey, joined.ThreadKey, left.ThreadKey)
	}
	if dev.ThreadKey == first.ThreadKey {
		t.Errorf("#dev shares #ops's thread %q", dev.ThreadKey)
	}
	// A repeated notification of the incident, even one that would end it,
	// changes nothing.
	if again := group(a, delivery.Job{Text: "A fires (repeat)", DedupeKey: "A", EndsThread: true}); again.ID != first.ID {
		t.Errorf("the repeat was stored again: %+v", again)
	}
	over := group(a, delivery.Job{Text: "all resolved", DedupeKey: "B resolved", EndsThread: true})
	if over.ThreadKey != first.ThreadKey {
		t.Errorf("the end of the incident went to thread %q; want %q", over.ThreadKey, first.ThreadKey)
	}
	if late := group(b, delivery.Job{Text: "A fires (late repeat)", DedupeKey: "A"}); late.ThreadKey != first.ThreadKey {
		t.Errorf("a late repeat reopened a thread: %q", late.ThreadKey)
	}
	next := group(b, delivery.Job{Text: "C fires", DedupeKey: "C"})
	if next.ThreadKey == first.ThreadKey {
		t.Errorf("the next incident replies in the last one's thread %q", next.ThreadKey)
	}
	if then := group(a, delivery.Job{Text: "C still fires", DedupeKey: "C2"}); then.ThreadKey != next.ThreadKey {
		t.Errorf("the next incident got threads %q and %q", next.ThreadKey, then.ThreadKey)
	}
	// Ending with no open thread is a thread of its own.
	lone := group(a, delivery.Job{Text: "resolved, never seen firing", Address: "slack:#lone", EndsThread: true})
	if after := group(a, delivery.Job{Text: "fires", Address: "slack:#lone"}); after.ThreadKey == lone.ThreadKey {
		t.Errorf("an ended thread %q was reused", lone.ThreadKey)
	}

	// #ops (C's thread), #dev and #lone have open threads.
	if p, err := a.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || p.Threads != 0 {
		t.Errorf("Prune of older things = %+v, %v; want no thread", p, err)
	}
	if p, err := a.Prune(ctx, time.Now().Add(time.Second)); err != nil || p.Threads != 3 {
		t.Errorf("Prune = %+v, %v; want 3 open threads", p, err)
	}
	if after := group(b, delivery.Job{Text: "C fires a week later"}); after.ThreadKey == next.ThreadKey {
		t.Errorf("a pruned thread %q was reused", next.ThreadKey)
	}
}

// Replicas enqueueing the first jobs of a group at once agree on its
// thread.
func testThreadGroupAcrossStores(t *testing.T, open Opener) {
	stores := []delivery.Store{open(t), open(t)}
	const tries = 16
	keys := make(chan string, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			j, _, err := stores[i%2].Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", ThreadGroup: "g",
				DedupeKey: fmt.Sprint("n", i)})
			if err != nil {
				t.Error(err)
				return
			}
			keys <- j.ThreadKey
		})
	}
	wg.Wait()
	close(keys)
	first := <-keys
	for k := range keys {
		if k != first {
			t.Errorf("one group got threads %q and %q", first, k)
		}
	}
}

// The first claim's time stays through retries, interruptions and Retry.
func testFirstClaim(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	j := enqueue(t, a, delivery.Job{Text: "resolved"})
	if !j.FirstClaimedAt.IsZero() || !get(t, a, j.ID).FirstClaimedAt.IsZero() {
		t.Errorf("a job not claimed yet has a first claim: %+v", j)
	}
	t1 := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	c := claim(t, a, t1)
	if !c.FirstClaimedAt.Equal(t1) {
		t.Fatalf("first claim at %v: FirstClaimedAt %v", t1, c.FirstClaimedAt)
	}
	finish(t, a, c, delivery.Outcome{State: delivery.StateQueued, Counted: true, LastError: "slack: 500", Next: t1}, t1)
	c = claim(t, b, t1.Add(time.Minute))
	if !c.FirstClaimedAt.Equal(t1) {
		t.Errorf("second claim on another store: FirstClaimedAt %v; want %v", c.FirstClaimedAt, t1)
	}
	finish(t, b, c, delivery.Outcome{State: delivery.StateFailed, Counted: true, LastError: "slack: 404"}, t1)
	if _, err := a.Retry(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if c = claim(t, a, t1.Add(2*time.Minute)); !c.FirstClaimedAt.Equal(t1) || !get(t, b, j.ID).FirstClaimedAt.Equal(t1) {
		t.Errorf("after Retry: FirstClaimedAt %v (stored %v); want %v", c.FirstClaimedAt, get(t, b, j.ID).FirstClaimedAt, t1)
	}
}

// A session revoked through one store is revoked for all, until it expires.
func testSessionRevocations(t *testing.T, open Opener) {
	a, b := open(t), open(t)
	now := time.Now()
	for _, r := range []struct {
		id      string
		expires time.Time
	}{{"live", now.Add(time.Hour)}, {"live", now.Add(time.Hour)}, {"expired", now.Add(-time.Minute)}} {
		if err := a.RevokeSession(ctx, r.id, r.expires); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]bool{"live": true, "expired": true, "other": false} {
		if got, err := b.SessionRevoked(ctx, id); got != want || err != nil {
			t.Errorf("SessionRevoked(%s) on another store = %v, %v; want %v", id, got, err, want)
		}
	}
	if p, err := b.Prune(ctx, now.Add(-delivery.DefaultRetention)); err != nil || p != (delivery.Pruned{Sessions: 1}) {
		t.Errorf("Prune = %+v, %v; want the expired session's revocation", p, err)
	}
	if got, _ := a.SessionRevoked(ctx, "live"); !got {
		t.Error("Prune dropped a revocation whose session is still valid")
	}
	if got, _ := a.SessionRevoked(ctx, "expired"); got {
		t.Error("the expired session's revocation was kept")
	}
}

func testThreadAfterFailure(t *testing.T, open Opener) {
	s := open(t)
	firing := enqueue(t, s, delivery.Job{Kind: "alert", Text: "firing", ThreadKey: "fp"})
	resolved := enqueue(t, s, delivery.Job{Kind: "alert", Text: "resolved", ThreadKey: "fp"})
	now := time.Now()
	f := claim(t, s, now)
	finish(t, s, f, delivery.Outcome{State: delivery.StateFailed, Counted: true, LastError: "no"}, now)
	r := claim(t, s, now)
	if f.ID != firing.ID || r.ID != resolved.ID {
		t.Fatalf("claimed %q then %q", f.Text, r.Text)
	}
	if root, _ := s.ThreadRoot(ctx, r); root != (delivery.Thread{}) {
		t.Errorf("ThreadRoot = %+v; want a new thread", root)
	}
}

func testRetention(t *testing.T, open Opener) {
	s := open(t)
	old, recent := time.Now().Add(-8*24*time.Hour), time.Now().Add(-time.Hour)
	cut := time.Now().Add(-7 * 24 * time.Hour)
	mk := func(text, dedupe, thread string) delivery.Job {
		return enqueue(t, s, delivery.Job{Kind: "alert", Text: text, DedupeKey: dedupe, ThreadKey: thread})
	}
	oldSent := mk("old sent", "k-old-sent", "t-old")
	oldFailed := mk("old failed", "k-old-failed", "")
	recentSent := mk("recent sent", "k-recent", "t-recent")
	for _, c := range []struct {
		j   delivery.Job
		out delivery.Outcome
		at  time.Time
	}{
		{oldSent, sent(oldSent.ID), old},
		{oldFailed, delivery.Outcome{State: delivery.StateFailed, Counted: true, LastError: "no"}, old},
		{recentSent, sent(recentSent.ID), recent},
	} {
		got := claim(t, s, time.Now())
		if got.ID != c.j.ID {
			t.Fatalf("claimed %q; want %q", got.Text, c.j.Text)
		}
		finish(t, s, got, c.out, c.at)
	}
	// A thread last used long ago that a pending job still needs stays.
	pendingThread := mk("old thread, pending reply", "", "t-pending")
	got := claim(t, s, time.Now())
	finish(t, s, got, sent(got.ID), old)
	pending := mk("pending reply", "", "t-pending")
	queued := mk("queued", "k-queued", "")
	if _, err := s.SaveInbox(ctx, delivery.InboxMessage{Channel: "ops", Text: "kept"}); err != nil {
		t.Fatal(err)
	}

	p, err := s.Prune(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if p != (delivery.Pruned{Jobs: 3, Threads: 1}) {
		t.Errorf("Prune = %+v; want 3 jobs (old sent, old failed, old thread's first), 1 thread", p)
	}
	for _, j := range []delivery.Job{oldSent, oldFailed, pendingThread} {
		if _, err := s.Get(ctx, j.ID); !errors.Is(err, delivery.ErrNotFound) {
			t.Errorf("%s was kept: %v", j.Text, err)
		}
	}
	for _, j := range []delivery.Job{recentSent, pending, queued} {
		get(t, s, j.ID)
	}
	// A pruned dedupe key is free again; a kept one is not.
	if _, existing, _ := s.Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", DedupeKey: "k-old-sent"}); existing {
		t.Error("the pruned dedupe key still deduplicates")
	}
	if _, existing, _ := s.Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", DedupeKey: "k-recent"}); !existing {
		t.Error("a recent dedupe key was pruned")
	}
	// A resolve arriving after its thread key was pruned starts a new thread.
	if root, _ := s.ThreadRoot(ctx, delivery.Job{ThreadKey: "t-old", Address: "slack:#ops"}); root != (delivery.Thread{}) {
		t.Errorf("pruned thread still has root %+v", root)
	}
	for _, key := range []string{"t-recent", "t-pending"} {
		if root, _ := s.ThreadRoot(ctx, delivery.Job{ThreadKey: key, Address: "slack:#ops"}); root.MessageID == "" {
			t.Errorf("thread %s was pruned", key)
		}
	}
	if msgs, _ := s.ListInbox(ctx, delivery.InboxFilter{}); len(msgs) != 1 {
		t.Errorf("%d inbox messages after pruning older ones; want 1", len(msgs))
	}
	if p, _ := s.Prune(ctx, time.Now().Add(time.Second)); p.Inbox != 1 {
		t.Errorf("Prune of newer inbox messages = %+v", p)
	}
}

func testDepth(t *testing.T, open Opener) {
	s := open(t)
	if d, err := s.Depth(ctx); d != (delivery.Depth{}) || err != nil {
		t.Errorf("empty Depth = %+v, %v", d, err)
	}
	first := enqueue(t, s, delivery.Job{})
	time.Sleep(5 * time.Millisecond)
	for range 3 {
		enqueue(t, s, delivery.Job{})
	}
	now := time.Now()
	c := claim(t, s, now)
	claim(t, s, now)
	finish(t, s, claim(t, s, now), sent("x"), now)
	d, err := s.Depth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Queued != 1 || d.Sending != 2 || d.Sent != 1 || d.Failed != 0 || !d.OldestPending.Equal(first.CreatedAt) {
		t.Errorf("Depth = %+v; want 1 queued, 2 sending, 1 sent, oldest %v", d, first.CreatedAt)
	}
	// The oldest pending job is the oldest queued or sending one.
	finish(t, s, c, delivery.Outcome{State: delivery.StateFailed, Counted: true}, now)
	if d, _ := s.Depth(ctx); d.Failed != 1 || !d.OldestPending.After(first.CreatedAt) {
		t.Errorf("after the oldest failed: %+v", d)
	}
}

func testListAndRetry(t *testing.T, open Opener) {
	s := open(t)
	var made []delivery.Job
	for i := range 5 {
		kind := "push"
		if i%2 == 1 {
			kind = "alert"
		}
		made = append(made, enqueue(t, s, delivery.Job{Kind: kind, Text: fmt.Sprint(i), Payload: []byte("big")}))
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	all, err := s.List(ctx, delivery.ListFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("List = %d jobs, %v", len(all), err)
	}
	for i, j := range all {
		if want := made[len(made)-1-i]; j.ID != want.ID || j.Text != want.Text || j.Payload != nil || j.State != delivery.StateQueued {
			t.Errorf("List[%d] = %+v; want %s without payload", i, j, want.Text)
		}
	}
	alerts, _ := s.List(ctx, delivery.ListFilter{Kind: "alert", Limit: 1})
	if len(alerts) != 1 || alerts[0].ID != made[3].ID {
		t.Errorf("List(alert, 1) = %+v; want job 3", alerts)
	}

	now := time.Now()
	c := claim(t, s, now)
	if _, err := s.Retry(ctx, c.ID); !errors.Is(err, delivery.ErrNotFailed) {
		t.Errorf("Retry of a sending job = %v; want ErrNotFailed", err)
	}
	finish(t, s, c, delivery.Outcome{State: delivery.StateFailed, Counted: true, LastError: "gave up"}, now)
	if _, err := s.Retry(ctx, "nope"); !errors.Is(err, delivery.ErrNotFound) {
		t.Errorf("Retry of an unknown job = %v; want ErrNotFound", err)
	}
	r, err := s.Retry(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != delivery.StateQueued || r.Attempts != 0 || r.LastError != "" || !r.FinishedAt.IsZero() ||
		r.NextAttemptAt.Before(now.Add(-time.Second)) || r.NextAttemptAt.After(time.Now()) {
		t.Errorf("retried job = %+v", r)
	}
	if got := get(t, s, c.ID); got.State != delivery.StateQueued || got.Attempts != 0 {
		t.Errorf("stored after Retry: %+v", got)
	}
	// It is due again, behind the jobs due before it.
	for i := range 5 {
		if again := claim(t, s, time.Now()); again.ID == c.ID {
			break
		} else if i == 4 {
			t.Error("the retried job was not claimed")
		}
	}
}

func testInbox(t *testing.T, open Opener) {
	s := open(t)
	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 100)
	a, err := s.SaveInbox(ctx, delivery.InboxMessage{Channel: "ops", Text: "CPU", Images: []delivery.InboxImage{
		{Filename: "panel.png", Data: png}, {Filename: "second.png", Data: []byte("2")}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || time.Since(a.CreatedAt) > time.Minute || a.Images[0].Size != len(png) {
		t.Errorf("SaveInbox = %+v", a)
	}
	time.Sleep(2 * time.Millisecond)
	b, err := s.SaveInbox(ctx, delivery.InboxMessage{Channel: "dev", Text: "reply", ThreadID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	other := open(t)
	msgs, err := other.ListInbox(ctx, delivery.InboxFilter{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("ListInbox = %d, %v", len(msgs), err)
	}
	if msgs[0].ID != b.ID || msgs[0].ThreadID != a.ID || len(msgs[0].Images) != 0 || msgs[1].ID != a.ID || msgs[1].Text != "CPU" ||
		msgs[1].Channel != "ops" || !msgs[1].CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("ListInbox = %+v", msgs)
	}
	if imgs := msgs[1].Images; len(imgs) != 2 || fmt.Sprint(imgs) != fmt.Sprint([]delivery.InboxImage{
		{Filename: "panel.png", Size: len(png)}, {Filename: "second.png", Size: 1}}) {
		t.Errorf("listed images = %+v; want names and sizes, no bytes", imgs)
	}
	if ops, _ := other.ListInbox(ctx, delivery.InboxFilter{Channel: "ops"}); len(ops) != 1 || ops[0].ID != a.ID {
		t.Errorf("ListInbox(ops) = %+v", ops)
	}
	if one, _ := other.ListInbox(ctx, delivery.InboxFilter{Limit: 1}); len(one) != 1 || one[0].ID != b.ID {
		t.Errorf("ListInbox(limit 1) = %+v", one)
	}
	img, err := other.InboxImage(ctx, a.ID, 0)
	if err != nil || img.Filename != "panel.png" || !bytes.Equal(img.Data, png) {
		t.Errorf("InboxImage = %s, %d bytes, %v", img.Filename, len(img.Data), err)
	}
	for _, c := range []struct {
		id string
		n  int
	}{{a.ID, 2}, {b.ID, 0}, {"nope", 0}} {
		if _, err := other.InboxImage(ctx, c.id, c.n); !errors.Is(err, delivery.ErrNoImage) {
			t.Errorf("InboxImage(%s, %d) = %v; want ErrNoImage", c.id, c.n, err)
		}
	}
}

func testWake(t *testing.T, open Opener, shared bool) {
	a, b := open(t), open(t)
	woken := make(chan struct{}, 16)
	cancel := a.Subscribe(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	waitWake := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatalf("no wake-up after %s", what)
		}
	}
	// Wake-ups from another store arrive late; wait them out.
	drain := func() {
		time.Sleep(200 * time.Millisecond)
		for len(woken) > 0 {
			<-woken
		}
	}
	drain() // a store may wake its subscribers once it listens
	enqueue(t, a, delivery.Job{})
	waitWake("an Enqueue")
	if shared {
		drain()
		enqueue(t, b, delivery.Job{})
		waitWake("an Enqueue through another store")
	}
	now := time.Now()
	c := claim(t, a, now)
	drain()
	if err := a.Release(ctx, c, "released", now); err != nil {
		t.Fatal(err)
	}
	waitWake("a Release")
	cancel()
	drain()
	enqueue(t, a, delivery.Job{})
	time.Sleep(100 * time.Millisecond)
	if len(woken) != 0 {
		t.Error("woken after cancel")
	}
}
