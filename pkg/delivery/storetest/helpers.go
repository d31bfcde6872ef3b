package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// Sender is an in-process chat provider named "slack" that answers at once
// and records every Send. Reply, when set, decides each outcome from the
// number of the call (1-based) and the message; by default every send
// succeeds with message id "m<n>".
type Sender struct {
	Reply func(n int, m chat.Message) (chat.Receipt, error)

	mu    sync.Mutex
	sends []chat.Message
	at    []time.Time
}

func (f *Sender) Name() string                { return "slack" }
func (f *Sender) Check(context.Context) error { return nil }
func (f *Sender) Limits() chat.Limits         { return chat.Limits{MaxImages: 1} }

func (f *Sender) Send(_ context.Context, m chat.Message) (chat.Receipt, error) {
	f.mu.Lock()
	f.sends = append(f.sends, m)
	f.at = append(f.at, time.Now())
	n := len(f.sends)
	f.mu.Unlock()
	if f.Reply != nil {
		return f.Reply(n, m)
	}
	return chat.Receipt{MessageID: fmt.Sprintf("m%d", n), ChannelID: "C1", Permalink: fmt.Sprintf("https://chat/m%d", n)}, nil
}

// Calls returns the messages sent so far and when each was.
func (f *Sender) Calls() ([]chat.Message, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chat.Message(nil), f.sends...), append([]time.Time(nil), f.at...)
}

// Count is how many sends there were.
func (f *Sender) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sends)
}

// StartWorker runs w until the test ends.
func StartWorker(t testing.TB, w *delivery.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// WaitDone waits (up to 10 s) until the job is sent or failed.
func WaitDone(t testing.TB, s delivery.Store, id string) delivery.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == delivery.StateSent || j.State == delivery.StateFailed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 10s: %q", id, j.State, j.LastError)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
