package inbox

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/delivery/storetest"
)

// A push to inbox:demo goes through the outbox and worker like any chat and
// lands in the inbox with its picture; the reply lands in its thread.
func TestThroughTheWorker(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "outbox.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	png := []byte("\x89PNG picture")
	prepare := func(_ context.Context, j delivery.Job) (chat.Message, error) {
		if j.Text == "first" {
			return chat.Message{Images: []chat.Image{{Data: png, Filename: "panel.png"}}}, nil
		}
		return chat.Message{}, nil
	}
	sender := New(s, "/#inbox/")
	storetest.StartWorker(t, delivery.NewWorker(s, map[string]chat.Sender{sender.Name(): sender}, prepare, delivery.WorkerOptions{}))
	ctx := context.Background()
	var jobs []delivery.Job
	for _, text := range []string{"first", "second"} {
		j, _, err := s.Enqueue(ctx, delivery.Job{Kind: "push", Address: "inbox:Demo channel", Text: text, ThreadKey: "t"})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, storetest.WaitDone(t, s, j.ID))
	}
	msgs, err := s.ListInbox(ctx, delivery.InboxFilter{Channel: "Demo channel"})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("ListInbox = %+v, %v", msgs, err)
	}
	first, second := msgs[1], msgs[0]
	if jobs[0].State != delivery.StateSent || jobs[0].MessageID != first.ID || jobs[0].Permalink != "/#inbox/"+first.ID || jobs[0].ChannelID != "Demo channel" {
		t.Errorf("first job %+v; inbox message %+v", jobs[0], first)
	}
	if first.Text != "first" || first.ThreadID != "" || len(first.Images) != 1 || first.Images[0].Filename != "panel.png" || first.Images[0].Size != len(png) {
		t.Errorf("first message %+v", first)
	}
	if second.Text != "second" || second.ThreadID != first.ID || len(second.Images) != 0 {
		t.Errorf("second message %+v; want a reply to %s without a picture", second, first.ID)
	}
	img, err := s.InboxImage(ctx, first.ID, 0)
	if err != nil || !bytes.Equal(img.Data, png) {
		t.Errorf("picture: %q, %v", img.Data, err)
	}
	if err := sender.Check(ctx); err != nil {
		t.Error(err)
	}
}

type brokenStore struct{}

func (brokenStore) SaveInbox(context.Context, delivery.InboxMessage) (delivery.InboxMessage, error) {
	return delivery.InboxMessage{}, errors.New("disk full")
}

// A failure to store is temporary: the worker retries it.
func TestStoreFailure(t *testing.T) {
	_, err := New(brokenStore{}, "").Send(context.Background(), chat.Message{Channel: "ops", Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "inbox: storing the message for ops: disk full") {
		t.Fatalf("Send = %v", err)
	}
	if temp, _ := chat.IsTemporary(err); !temp {
		t.Error("a storage failure is not retried")
	}
}
