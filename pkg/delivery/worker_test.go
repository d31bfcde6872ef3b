package delivery

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

// fakeSender records every Send; reply decides each outcome from the number
// of the call (1-based) and the message.
type fakeSender struct {
	reply func(n int, m chat.Message) (chat.Receipt, error)

	mu    sync.Mutex
	sends []chat.Message
	at    []time.Time
}

func (f *fakeSender) Name() string                { return "slack" }
func (f *fakeSender) Check(context.Context) error { return nil }
func (f *fakeSender) Limits() chat.Limits         { return chat.Limits{MaxImages: 1} }

func (f *fakeSender) Send(_ context.Context, m chat.Message) (chat.Receipt, error) {
	f.mu.Lock()
	f.sends = append(f.sends, m)
	f.at = append(f.at, time.Now())
	n := len(f.sends)
	f.mu.Unlock()
	if f.reply != nil {
		return f.reply(n, m)
	}
	return chat.Receipt{MessageID: fmt.Sprintf("m%d", n), ChannelID: "C1", Permalink: fmt.Sprintf("https://chat/m%d", n)}, nil
}

func (f *fakeSender) calls() ([]chat.Message, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chat.Message(nil), f.sends...), append([]time.Time(nil), f.at...)
}

func testOptions() WorkerOptions {
	return WorkerOptions{
		MaxAttempts:   3,
		BaseBackoff:   time.Millisecond,
		MaxBackoff:    10 * time.Millisecond,
		Poll:          time.Hour, // proves that Enqueue and retries wake the worker
		Concurrency:   2,
		ShutdownGrace: 50 * time.Millisecond,
	}
}

func startWorker(t *testing.T, w *Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitDone waits until the job is sent or failed.
func waitDone(t *testing.T, o *Outbox, id string) Job {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		j, err := o.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == StateSent || j.State == StateFailed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 5s: %q", id, j.State, j.LastError)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func enqueue(t *testing.T, o *Outbox, j Job) Job {
	t.Helper()
	if j.Kind == "" {
		j.Kind = "push"
	}
	j, _, err := o.Enqueue(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSend(t *testing.T) {
	o := openTemp(t)
	s := &fakeSender{}
	prepare := func(_ context.Context, j Job) (chat.Message, error) {
		return chat.Message{Images: []chat.Image{{Data: j.Payload, Filename: "panel.png"}}, ThreadID: "ignored"}, nil
	}
	w := NewWorker(o, map[string]chat.Sender{"Slack": s}, prepare, testOptions())
	startWorker(t, w)

	j := waitDone(t, o, enqueue(t, o, Job{Address: "slack:#ops", Text: "cpu", Payload: []byte("png")}).ID)
	if j.State != StateSent || j.Attempts != 1 || j.MessageID != "m1" || j.ChannelID != "C1" ||
		j.Permalink != "https://chat/m1" || j.SentAt.IsZero() || j.LastError != "" {
		t.Errorf("job = %+v", j)
	}
	sends, _ := s.calls()
	want := chat.Message{Channel: "#ops", Text: "cpu", Images: []chat.Image{{Data: []byte("png"), Filename: "panel.png"}}, IdempotencyKey: j.ID}
	if len(sends) != 1 || fmt.Sprint(sends[0]) != fmt.Sprint(want) {
		t.Errorf("sent %+v; want %+v", sends, want)
	}
	if st := w.Stats(); st != (Stats{Sent: 1}) {
		t.Errorf("Stats = %+v", st)
	}
	if q, s, _ := o.Depth(context.Background()); q+s != 0 {
		t.Errorf("Depth = %d, %d after sending", q, s)
	}
}

// A send that posted the message and then failed (Telegram's picture
// went out, the rest of its text did not) is sent, once, with its receipt
// and the reason, and the thread continues from it.
func TestPartialSendKeepsReceipt(t *testing.T) {
	o := openTemp(t)
	s := &fakeSender{}
	s.reply = func(n int, m chat.Message) (chat.Receipt, error) {
		if n == 1 {
			return chat.Receipt{MessageID: "42", ChannelID: "-100", Permalink: "https://t.me/c/100/42"},
				&chat.Error{Provider: "telegram", Code: "400", Hint: "the rest of the text was not posted"}
		}
		return chat.Receipt{MessageID: fmt.Sprint(40 + n), ChannelID: "-100"}, nil
	}
	startWorker(t, NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions()))
	j := waitDone(t, o, enqueue(t, o, Job{Address: "slack:-100", Text: "long", ThreadKey: "t"}).ID)
	if j.State != StateSent || j.Attempts != 1 || j.MessageID != "42" || j.Permalink != "https://t.me/c/100/42" ||
		!strings.Contains(j.LastError, "the rest of the text was not posted") {
		t.Errorf("job = %+v", j)
	}
	reply := waitDone(t, o, enqueue(t, o, Job{Address: "slack:-100", Text: "reply", ThreadKey: "t"}).ID)
	sends := must(s.calls())
	if reply.State != StateSent || len(sends) != 2 || sends[1].ThreadID != "42" {
		t.Errorf("reply %s in thread %q after %d sends", reply.State, sends[len(sends)-1].ThreadID, len(sends))
	}
}

// The resolved notice replies to the firing one, even when the firing one
// needs a retry and the resolved one is due first.
func TestThreadReplies(t *testing.T) {
	o := openTemp(t)
	s := &fakeSender{}
	s.reply = func(n int, m chat.Message) (chat.Receipt, error) {
		if n == 1 {
			return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "500", Temporary: true}
		}
		return chat.Receipt{MessageID: "ts-" + m.Text, ChannelID: "C1"}, nil
	}
	firing := enqueue(t, o, Job{Kind: "alert", Address: "slack:#ops", Text: "firing", ThreadKey: "fp1"})
	resolved := enqueue(t, o, Job{Kind: "alert", Address: "slack:#ops", Text: "resolved", ThreadKey: "fp1"})
	elsewhere := enqueue(t, o, Job{Kind: "alert", Address: "slack:#dev", Text: "dev", ThreadKey: "fp1"})
	startWorker(t, NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions()))

	for _, j := range []Job{firing, resolved, elsewhere} {
		if got := waitDone(t, o, j.ID); got.State != StateSent {
			t.Fatalf("%s: %s %q", j.Text, got.State, got.LastError)
		}
	}
	thread := map[string]string{}
	for _, m := range must(s.calls()) {
		thread[m.Text] = m.ThreadID
	}
	if thread["firing"] != "" || thread["resolved"] != "ts-firing" || thread["dev"] != "" {
		t.Errorf("thread ids by text: %v; want resolved in ts-firing, the others new", thread)
	}
	// A later reply goes to the same first message.
	again := waitDone(t, o, enqueue(t, o, Job{Kind: "alert", Address: "slack:#ops", Text: "again", ThreadKey: "fp1"}).ID)
	sends := must(s.calls())
	if last := sends[len(sends)-1]; again.State != StateSent || last.ThreadID != "ts-firing" {
		t.Errorf("third job in the thread went to %q", last.ThreadID)
	}
}

func must[T, U any](v T, _ U) T { return v }

func TestRetryAfter(t *testing.T) {
	o := openTemp(t)
	const wait = 300 * time.Millisecond
	s := &fakeSender{}
	s.reply = func(n int, _ chat.Message) (chat.Receipt, error) {
		if n == 1 {
			return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "ratelimited", Temporary: true, RetryAfter: wait}
		}
		return chat.Receipt{MessageID: "m"}, nil
	}
	w := NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions())
	startWorker(t, w)
	j := waitDone(t, o, enqueue(t, o, Job{Address: "slack:#ops"}).ID)
	_, at := s.calls()
	if j.State != StateSent || j.Attempts != 2 || len(at) != 2 {
		t.Fatalf("job %s after %d attempts, %d sends", j.State, j.Attempts, len(at))
	}
	if gap := at[1].Sub(at[0]); gap < wait {
		t.Errorf("retried after %v; the provider asked for %v", gap, wait)
	}
	if st := w.Stats(); st != (Stats{Sent: 1, Retried: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestGivesUp(t *testing.T) {
	o := openTemp(t)
	s := &fakeSender{reply: func(int, chat.Message) (chat.Receipt, error) {
		return chat.Receipt{}, errors.New("dial tcp: connection refused")
	}}
	w := NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions())
	startWorker(t, w)
	j := waitDone(t, o, enqueue(t, o, Job{Address: "slack:#ops"}).ID)
	want := "gave up after 3 attempts: dial tcp: connection refused"
	if j.State != StateFailed || j.Attempts != 3 || j.LastError != want || len(must(s.calls())) != 3 {
		t.Errorf("job %s, %d attempts, %q; want failed, 3, %q", j.State, j.Attempts, j.LastError, want)
	}
	if st := w.Stats(); st != (Stats{Retried: 2, Failed: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestPermanentErrors(t *testing.T) {
	o := openTemp(t)
	refusal := &chat.Error{Provider: "slack", Code: "not_in_channel", Hint: "invite the bot to #ops"}
	s := &fakeSender{reply: func(int, chat.Message) (chat.Receipt, error) { return chat.Receipt{}, refusal }}
	renderFails := 0
	prepare := func(_ context.Context, j Job) (chat.Message, error) {
		switch j.Text {
		case "gone":
			return chat.Message{}, Permanent(errors.New("dashboard abc not found: check the dashboard UID"))
		case "slow":
			renderFails++
			return chat.Message{}, errors.New("render timed out")
		}
		return chat.Message{}, nil
	}
	startWorker(t, NewWorker(o, map[string]chat.Sender{"slack": s}, prepare, testOptions()))

	cases := []struct{ text, address, want string }{
		{"refused", "slack:#ops", "slack: not_in_channel: invite the bot to #ops"},
		{"gone", "slack:#ops", "dashboard abc not found: check the dashboard UID"},
		{"slow", "slack:#ops", "gave up after 3 attempts: render timed out"},
		{"no token", "discord:123", "no discord sender configured: set discord_bot_token"},
		{"no token", "mattermost:town-square", "no mattermost sender configured: set mattermost_url and mattermost_token"},
		{"unknown", "teams:ops", "no teams sender configured: teams is not a chat provider Panelcast knows; use slack, mattermost, discord or telegram in the address"},
	}
	for _, c := range cases {
		j := waitDone(t, o, enqueue(t, o, Job{Address: c.address, Text: c.text}).ID)
		attempts := 1
		if c.text == "slow" {
			attempts = 3
		}
		if j.State != StateFailed || j.LastError != c.want || j.Attempts != attempts {
			t.Errorf("%s to %s: %s after %d attempts: %q; want failed after %d: %q", c.text, c.address, j.State, j.Attempts, j.LastError, attempts, c.want)
		}
	}
	if n := len(must(s.calls())); n != 1 {
		t.Errorf("%d sends; only the refused job should reach the sender", n)
	}
}

// Attempts in flight at shutdown are put back, not counted and not failed.
func TestShutdownRequeues(t *testing.T) {
	o := openTemp(t)
	started := make(chan struct{})
	prepare := func(ctx context.Context, _ Job) (chat.Message, error) {
		close(started)
		<-ctx.Done()
		return chat.Message{}, ctx.Err()
	}
	w := NewWorker(o, map[string]chat.Sender{"slack": &fakeSender{}}, prepare, testOptions())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	j := enqueue(t, o, Job{Address: "slack:#ops"})
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its grace period")
	}
	got, _ := o.Get(context.Background(), j.ID)
	if got.State != StateQueued || got.Attempts != 0 || !strings.HasPrefix(got.LastError, "interrupted") {
		t.Errorf("after shutdown: %s, %d attempts, %q", got.State, got.Attempts, got.LastError)
	}
}

// Two processes (two Outboxes on one file), each with a worker of three
// goroutines: every job is sent exactly once.
func TestWorkersNeverDoubleSend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := &fakeSender{}
	opts := testOptions()
	opts.Concurrency = 3
	opts.Poll = 10 * time.Millisecond // jobs enqueued through the other Outbox
	var outboxes []*Outbox
	for range 2 {
		o, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		startWorker(t, NewWorker(o, map[string]chat.Sender{"slack": s}, nil, opts))
		outboxes = append(outboxes, o)
	}
	const jobs = 100
	var ids []string
	for i := range jobs {
		ids = append(ids, enqueue(t, outboxes[i%2], Job{Address: "slack:#ops", Text: fmt.Sprint(i)}).ID)
	}
	for _, id := range ids {
		waitDone(t, outboxes[0], id)
	}
	count := map[string]int{}
	for _, m := range must(s.calls()) {
		count[m.IdempotencyKey]++
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("job %s sent %d times", id, count[id])
		}
	}
	if n := len(must(s.calls())); n != jobs {
		t.Errorf("%d sends for %d jobs", n, jobs)
	}
}

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
