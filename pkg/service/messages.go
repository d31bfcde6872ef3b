package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/panelcast/panelcast/pkg/chat/inbox"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/quote"
)

// Errors the doors map to answers, besides the push's.
var (
	// ErrMessageNotFound is an outbox job, inbox message or picture the
	// outbox does not hold (404).
	ErrMessageNotFound = errors.New("no such message")
	// ErrNotRetryable is a retry of a message that has not failed (409).
	ErrNotRetryable = errors.New("only a failed message can be retried")
)

// maxID bounds an id a door passes on; the outbox's are 26 characters.
const maxID = 64

// Message is one job of the outbox: a push or an alert message, with how
// its delivery went.
type Message struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"` // push or alert
	Address string `json:"address"`
	Text    string `json:"text"`
	// State is queued, sending, sent or failed.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Error is the last attempt's failure (for a failed message, why).
	Error     string    `json:"error"`
	Permalink string    `json:"permalink"`
	CreatedAt time.Time `json:"createdAt"`
	SentAt    time.Time `json:"sentAt,omitzero"`
}

// Messages lists the outbox's most recent jobs, newest first; limit 0
// takes the default, and it is bounded (delivery.ListLimit).
func (s *Service) Messages(ctx context.Context, limit int) ([]Message, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return nil, err
	}
	jobs, err := o.List(ctx, delivery.ListFilter{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	out := make([]Message, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, Message{ID: j.ID, Kind: j.Kind, Address: j.Address, Text: j.Text, State: j.State,
			Attempts: j.Attempts, Error: j.LastError, Permalink: j.Permalink, CreatedAt: j.CreatedAt, SentAt: j.SentAt})
	}
	return out, nil
}

// RetryMessage puts a failed push or alert message back in the queue with
// its attempts reset; the worker sends it again.
func (s *Service) RetryMessage(ctx context.Context, id string) (PushStatus, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return PushStatus{}, err
	}
	if id == "" || len(id) > maxID {
		return PushStatus{}, fmt.Errorf("%w: %q is not a message id", ErrMessageNotFound, quote.Clip(id))
	}
	j, err := o.Retry(ctx, id)
	switch {
	case errors.Is(err, delivery.ErrNotFound):
		return PushStatus{}, fmt.Errorf("%w: the outbox holds no message %s: it may have been pruned after outbox_retention", ErrMessageNotFound, id)
	case errors.Is(err, delivery.ErrNotFailed):
		cur, gerr := o.Get(ctx, id)
		state := "not failed"
		if gerr == nil {
			state = cur.State
		}
		return PushStatus{}, fmt.Errorf("%w: message %s is %s", ErrNotRetryable, id, state)
	case err != nil:
		return PushStatus{}, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	s.log.InfoContext(ctx, "message retried", "id", j.ID, "kind", j.Kind, "to", j.Address)
	return statusOf(j), nil
}

// InboxMessage is a message sent to inbox:<channel>.
type InboxMessage struct {
	ID      string
	Channel string
	Text    string
	// ThreadID is the inbox message this one replies to, if any.
	ThreadID  string
	CreatedAt time.Time
	// Pictures is how many pictures it has; InboxImage returns each.
	Pictures int
}

// Inbox lists the messages sent to inbox:<channel> (every channel for ""),
// newest first; limit as for Messages.
func (s *Service) Inbox(ctx context.Context, channel string, limit int) ([]InboxMessage, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return nil, err
	}
	msgs, err := o.ListInbox(ctx, delivery.InboxFilter{Channel: inbox.Channel(channel), Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	out := make([]InboxMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, InboxMessage{ID: m.ID, Channel: m.Channel, Text: m.Text, ThreadID: m.ThreadID,
			CreatedAt: m.CreatedAt, Pictures: len(m.Images)})
	}
	return out, nil
}

// InboxImage returns picture n (0-based) of an inbox message: a PNG.
func (s *Service) InboxImage(ctx context.Context, id string, n int) ([]byte, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return nil, err
	}
	if id == "" || len(id) > maxID || n < 0 {
		return nil, fmt.Errorf("%w: %q has no picture %d", ErrMessageNotFound, quote.Clip(id), n)
	}
	img, err := o.InboxImage(ctx, id, n)
	switch {
	case errors.Is(err, delivery.ErrNoImage):
		return nil, fmt.Errorf("%w: inbox message %s has no picture %d: it may have been pruned after outbox_retention", ErrMessageNotFound, id, n)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	return img.Data, nil
}
