// Package inbox is the built-in chat provider of the address inbox:<channel>:
// it keeps each message, pictures included, in the outbox database for the
// console to show, so that Panelcast can be tried without a chat workspace.
// Any channel name is valid.
package inbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// Store is where the messages go; every delivery.Store is one.
type Store interface {
	SaveInbox(ctx context.Context, m delivery.InboxMessage) (delivery.InboxMessage, error)
}

// Sender posts to the inbox.
type Sender struct {
	store     Store
	permalink string
}

// New returns the inbox sender. A message's permalink is permalinkBase
// followed by its id ("" for none), e.g. the console's "/#inbox/".
func New(store Store, permalinkBase string) *Sender {
	return &Sender{store: store, permalink: permalinkBase}
}

// Name is the address prefix, "inbox".
func (s *Sender) Name() string { return "inbox" }

// MaxImages is how many pictures one inbox message keeps, as many as the
// chats that take the most.
const MaxImages = 10

// Limits: the inbox shows any text in full and edits nothing.
func (s *Sender) Limits() chat.Limits { return chat.Limits{MaxImages: MaxImages, MaxText: 40000} }

// Check has no credentials to verify.
func (s *Sender) Check(context.Context) error { return nil }

// Channel is a channel's name as the inbox keeps it: inbox:#ops and
// inbox:ops are one channel.
func Channel(name string) string {
	return strings.TrimPrefix(strings.TrimSpace(name), "#")
}

// Send stores the message. A failure is the database's and is retried.
func (s *Sender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	if err := chat.CheckImages("inbox", m.Images, MaxImages); err != nil {
		return chat.Receipt{}, err
	}
	channel := Channel(m.Channel)
	msg := delivery.InboxMessage{Channel: channel, Text: m.Text, ThreadID: m.ThreadID}
	for _, img := range m.Images {
		msg.Images = append(msg.Images, delivery.InboxImage{Filename: img.Name(), Data: img.Data})
	}
	saved, err := s.store.SaveInbox(ctx, msg)
	if err != nil {
		return chat.Receipt{}, fmt.Errorf("inbox: storing the message for %s: %w", channel, err)
	}
	r := chat.Receipt{MessageID: saved.ID, ChannelID: channel}
	if s.permalink != "" {
		r.Permalink = s.permalink + saved.ID
	}
	return r, nil
}
