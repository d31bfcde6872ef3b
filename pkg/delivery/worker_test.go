package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/delivery/storetest"
	"github.com/panelcast/panelcast/pkg/secret"
)

func testOptions() delivery.WorkerOptions {
	return delivery.WorkerOptions{
		MaxAttempts:   3,
		BaseBackoff:   time.Millisecond,
		MaxBackoff:    10 * time.Millisecond,
		Poll:          time.Hour, // proves that Enqueue and retries wake the worker
		Concurrency:   2,
		ShutdownGrace: 50 * time.Millisecond,
	}
}

func openTemp(t *testing.T) delivery.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "outbox.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	startWorker = storetest.StartWorker
	waitDone    = storetest.WaitDone
)

func enqueue(t *testing.T, s delivery.Store, j delivery.Job) delivery.Job {
	t.Helper()
	if j.Kind == "" {
		j.Kind = "push"
	}
	j, _, err := s.Enqueue(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSend(t *testing.T) {
	o := openTemp(t)
	s := &storetest.Sender{}
	prepare := func(_ context.Context, j delivery.Job) (chat.Message, error) {
		return chat.Message{Images: []chat.Image{{Data: j.Payload, Filename: "panel.png"}}, ThreadID: "ignored"}, nil
	}
	w := delivery.NewWorker(o, map[string]chat.Sender{"Slack": s}, prepare, testOptions())
	startWorker(t, w)

	j := waitDone(t, o, enqueue(t, o, delivery.Job{Address: "slack:#ops", Text: "cpu", Payload: []byte("png")}).ID)
	if j.State != delivery.StateSent || j.Attempts != 1 || j.MessageID != "m1" || j.ChannelID != "C1" ||
		j.Permalink != "https://chat/m1" || j.SentAt.IsZero() || j.LastError != "" {
		t.Errorf("job = %+v", j)
	}
	sends, _ := s.Calls()
	want := chat.Message{Channel: "#ops", Text: "cpu", Images: []chat.Image{{Data: []byte("png"), Filename: "panel.png"}}, IdempotencyKey: j.ID}
	if len(sends) != 1 || fmt.Sprint(sends[0]) != fmt.Sprint(want) {
		t.Errorf("sent %+v; want %+v", sends, want)
	}
	if st := w.Stats(); st != (delivery.Stats{Sent: 1}) {
		t.Errorf("Stats = %+v", st)
	}
	if d, _ := o.Depth(context.Background()); d.Queued+d.Sending != 0 || d.Sent != 1 {
		t.Errorf("Depth = %+v after sending", d)
	}
}

// A send that posted the message and then failed (Telegram's picture
// went out, the rest of its text did not) is sent, once, with its receipt
// and the reason, and the thread continues from it.
func TestPartialSendKeepsReceipt(t *testing.T) {
	o := openTemp(t)
	s := &storetest.Sender{}
	s.Reply = func(n int, m chat.Message) (chat.Receipt, error) {
		if n == 1 {
			return chat.Receipt{MessageID: "42", ChannelID: "-100", Permalink: "https://t.me/c/100/42"},
				&chat.Error{Provider: "telegram", Code: "400", Hint: "the rest of the text was not posted"}
		}
		return chat.Receipt{MessageID: fmt.Sprint(40 + n), ChannelID: "-100"}, nil
	}
	startWorker(t, delivery.NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions()))
	j := waitDone(t, o, enqueue(t, o, delivery.Job{Address: "slack:-100", Text: "long", ThreadKey: "t"}).ID)
	if j.State != delivery.StateSent || j.Attempts != 1 || j.MessageID != "42" || j.Permalink != "https://t.me/c/100/42" ||
		!strings.Contains(j.LastError, "the rest of the text was not posted") {
		t.Errorf("job = %+v", j)
	}
	reply := waitDone(t, o, enqueue(t, o, delivery.Job{Address: "slack:-100", Text: "reply", ThreadKey: "t"}).ID)
	sends := must(s.Calls())
	if reply.State != delivery.StateSent || len(sends) != 2 || sends[1].ThreadID != "42" {
		t.Errorf("reply %s in thread %q after %d sends", reply.State, sends[len(sends)-1].ThreadID, len(sends))
	}
}

// The resolved notice replies to the firing one, even when the firing one
// needs a retry and the resolved one is due first.
func TestThreadReplies(t *testing.T) {
	o := openTemp(t)
	s := &storetest.Sender{}
	s.Reply = func(n int, m chat.Message) (chat.Receipt, error) {
		if n == 1 {
			return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "500", Temporary: true}
		}
		return chat.Receipt{MessageID: "ts-" + m.Text, ChannelID: "C1"}, nil
	}
	firing := enqueue(t, o, delivery.Job{Kind: "alert", Address: "slack:#ops", Text: "firing", ThreadKey: "fp1"})
	resolved := enqueue(t, o, delivery.Job{Kind: "alert", Address: "slack:#ops", Text: "resolved", ThreadKey: "fp1"})
	elsewhere := enqueue(t, o, delivery.Job{Kind: "alert", Address: "slack:#dev", Text: "dev", ThreadKey: "fp1"})
	startWorker(t, delivery.NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions()))

	for _, j := range []delivery.Job{firing, resolved, elsewhere} {
		if got := waitDone(t, o, j.ID); got.State != delivery.StateSent {
			t.Fatalf("%s: %s %q", j.Text, got.State, got.LastError)
		}
	}
	thread := map[string]string{}
	for _, m := range must(s.Calls()) {
		thread[m.Text] = m.ThreadID
	}
	if thread["firing"] != "" || thread["resolved"] != "ts-firing" || thread["dev"] != "" {
		t.Errorf("thread ids by text: %v; want resolved in ts-firing, the others new", thread)
	}
	// A later reply goes to the same first message.
	again := waitDone(t, o, enqueue(t, o, delivery.Job{Kind: "alert", Address: "slack:#ops", Text: "again", ThreadKey: "fp1"}).ID)
	sends := must(s.Calls())
	if last := sends[len(sends)-1]; again.State != delivery.StateSent || last.ThreadID != "ts-firing" {
		t.Errorf("third job in the thread went to %q", last.ThreadID)
	}
}

func must[T, U any](v T, _ U) T { return v }

func TestRetryAfter(t *testing.T) {
	o := openTemp(t)
	const wait = 300 * time.Millisecond
	s := &storetest.Sender{}
	s.Reply = func(n int, _ chat.Message) (chat.Receipt, error) {
		if n == 1 {
			return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "ratelimited", Temporary: true, RetryAfter: wait}
		}
		return chat.Receipt{MessageID: "m"}, nil
	}
	w := delivery.NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions())
	startWorker(t, w)
	j := waitDone(t, o, enqueue(t, o, delivery.Job{Address: "slack:#ops"}).ID)
	_, at := s.Calls()
	if j.State != delivery.StateSent || j.Attempts != 2 || len(at) != 2 {
		t.Fatalf("job %s after %d attempts, %d sends", j.State, j.Attempts, len(at))
	}
	if gap := at[1].Sub(at[0]); gap < wait {
		t.Errorf("retried after %v; the provider asked for %v", gap, wait)
	}
	if st := w.Stats(); st != (delivery.Stats{Sent: 1, Retried: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestGivesUp(t *testing.T) {
	o := openTemp(t)
	s := &storetest.Sender{Reply: func(int, chat.Message) (chat.Receipt, error) {
		return chat.Receipt{}, errors.New("dial tcp: connection refused")
	}}
	w := delivery.NewWorker(o, map[string]chat.Sender{"slack": s}, nil, testOptions())
	startWorker(t, w)
	j := waitDone(t, o, enqueue(t, o, delivery.Job{Address: "slack:#ops"}).ID)
	want := "gave up after 3 attempts: dial tcp: connection refused"
	if j.State != delivery.StateFailed || j.Attempts != 3 || j.LastError != want || len(must(s.Calls())) != 3 {
		t.Errorf("job %s, %d attempts, %q; want failed, 3, %q", j.State, j.Attempts, j.LastError, want)
	}
	if st := w.Stats(); st != (delivery.Stats{Retried: 2, Failed: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestPermanentErrors(t *testing.T) {
	o := openTemp(t)
	refusal := &chat.Error{Provider: "slack", Code: "not_in_channel", Hint: "invite the bot to #ops"}
	s := &storetest.Sender{Reply: func(int, chat.Message) (chat.Receipt, error) { return chat.Receipt{}, refusal }}
	renderFails := 0
	prepare := func(_ context.Context, j delivery.Job) (chat.Message, error) {
		switch j.Text {
		case "gone":
			return chat.Message{}, delivery.Permanent(errors.New("dashboard abc not found: check the dashboard UID"))
		case "slow":
			renderFails++
			return chat.Message{}, errors.New("render timed out")
		}
		return chat.Message{}, nil
	}
	startWorker(t, delivery.NewWorker(o, map[string]chat.Sender{"slack": s}, prepare, testOptions()))

	cases := []struct{ text, address, want string }{
		{"refused", "slack:#ops", "slack: not_in_channel: invite the bot to #ops"},
		{"gone", "slack:#ops", "dashboard abc not found: check the dashboard UID"},
		{"slow", "slack:#ops", "gave up after 3 attempts: render timed out"},
		{"no token", "discord:123", "no discord sender configured: set discord_bot_token"},
		{"no token", "mattermost:town-square", "no mattermost sender configured: set mattermost_url and mattermost_token"},
		{"unknown", "teams:ops", "no teams sender configured: teams is not a chat provider Panelcast knows; use slack, mattermost, discord or telegram in the address"},
	}
	for _, c := range cases {
		j := waitDone(t, o, enqueue(t, o, delivery.Job{Address: c.address, Text: c.text}).ID)
		attempts := 1
		if c.text == "slow" {
			attempts = 3
		}
		if j.State != delivery.StateFailed || j.LastError != c.want || j.Attempts != attempts {
			t.Errorf("%s to %s: %s after %d attempts: %q; want failed after %d: %q", c.text, c.address, j.State, j.Attempts, j.LastError, attempts, c.want)
		}
	}
	if n := len(must(s.Calls())); n != 1 {
		t.Errorf("%d sends; only the refused job should reach the sender", n)
	}
}

// A job whose attempts kill the process is re-queued each time (by flock
// or lease) with the interruption counted, and fails once it has had
// max_attempts, with the reason, instead of being retried for ever.
func TestInterruptedJobGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	open := func() delivery.Store {
		s, err := sqlite.Open(path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	o := open()
	ctx := context.Background()
	crash := enqueue(t, o, delivery.Job{Address: "slack:#ops", Text: "crashes"})
	opts := testOptions() // MaxAttempts 3
	for i := range opts.MaxAttempts {
		// A process claims it and dies: its lease is never renewed.
		dying := open()
		now := time.Now()
		if j, ok, err := dying.Claim(ctx, now, now); !ok || err != nil || j.ID != crash.ID {
			t.Fatalf("claim %d: %v %v", i, ok, err)
		}
		if n, err := o.RequeueExpired(ctx, now.Add(time.Millisecond)); n != 1 || err != nil {
			t.Fatalf("requeue %d: %d, %v", i, n, err)
		}
	}
	fine := enqueue(t, o, delivery.Job{Address: "slack:#ops", Text: "fine"})
	s := &storetest.Sender{}
	w := delivery.NewWorker(o, map[string]chat.Sender{"slack": s}, nil, opts)
	startWorker(t, w)
	j := waitDone(t, o, crash.ID)
	want := "gave up after 3 attempts: interrupted 3 times because the process sending it stopped or crashed"
	if j.State != delivery.StateFailed || j.Attempts != 3 || j.Interrupts != 3 || !strings.HasPrefix(j.LastError, want) {
		t.Errorf("job %s after %d attempts (%d interrupted): %q; want failed: %q…", j.State, j.Attempts, j.Interrupts, j.LastError, want)
	}
	if got := waitDone(t, o, fine.ID); got.State != delivery.StateSent {
		t.Errorf("the other job: %s", got.State)
	}
	for _, m := range must(s.Calls()) {
		if m.IdempotencyKey == crash.ID {
			t.Error("the job that crashed every attempt was tried again")
		}
	}
	if st := w.Stats(); st != (delivery.Stats{Sent: 1, Failed: 1}) {
		t.Errorf("Stats = %+v", st)
	}
}

// A panic while preparing or sending fails the job with what the worker
// printed of it, and that text shows no secret: a secret.Value prints
// redacted by itself, and Redact removes what a library built from a
// revealed token (Telegram's /bot<token>/ URL), in the stored error as in
// the log.
func TestPanicShowsNoSecret(t *testing.T) {
	const token = "7700:telegram-secret-half"
	o := openTemp(t)
	logs := &testenv.LogBuffer{}
	opts := testOptions()
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	opts.Redact = strings.NewReplacer(token, "[redacted]").Replace
	prepare := func(_ context.Context, j delivery.Job) (chat.Message, error) {
		if j.Text == "typed" {
			panic(struct{ Token secret.Value }{secret.New(token)})
		}
		panic(fmt.Errorf("Post \"https://api.telegram.org/bot%s/sendPhoto\": unexpected EOF", token))
	}
	startWorker(t, delivery.NewWorker(o, map[string]chat.Sender{"telegram": &storetest.Sender{}}, prepare, opts))
	for _, text := range []string{"typed", "library"} {
		j := waitDone(t, o, enqueue(t, o, delivery.Job{Address: "telegram:-100123", Text: text}).ID)
		if j.State != delivery.StateFailed || !strings.Contains(j.LastError, "internal error") ||
			!strings.Contains(j.LastError, "[redacted]") || strings.Contains(j.LastError, "secret-half") {
			t.Errorf("%s panic: %s %q", text, j.State, j.LastError)
		}
	}
	if strings.Contains(logs.String(), "secret-half") || !strings.Contains(logs.String(), "internal error") {
		t.Errorf("the log shows the secret, or no failure:\n%s", logs)
	}
}
