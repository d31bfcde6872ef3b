// Package chat defines what every chat provider offers Panelcast: sending a
// message with an uploaded picture, privately, with a bot token. Providers
// live in sub-packages (slack, mattermost, discord, telegram).
package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one post: text plus an optional picture uploaded as a file.
type Message struct {
	// Channel is the provider's part of the address: "#ops" or "C0123" for
	// Slack, "town-square" for Mattermost, a numeric id for Discord and
	// Telegram.
	Channel string
	Text    string
	// Image is the picture's bytes; nil sends text only.
	Image []byte
	// Filename is the upload's name, e.g. "panel.png".
	Filename string
	// ThreadID, when set, makes the post a reply to that earlier message
	// (a Receipt.MessageID of the same provider and channel).
	ThreadID string
	// IdempotencyKey is stable across retries of the same post. Only
	// Discord documents deduplication (a nonce with enforce_nonce), so only
	// it passes the key on; Mattermost's pending_post_id cache is
	// undocumented and per node, and Slack and Telegram have none.
	IdempotencyKey string
}

// Receipt says where a message landed.
type Receipt struct {
	// MessageID identifies the post for later thread replies (Slack ts,
	// Mattermost post id, Discord message id, Telegram message_id).
	MessageID string
	// ChannelID is the resolved channel id (Slack "#ops" becomes "C0123").
	ChannelID string
	// Permalink opens the message, where the provider has one.
	Permalink string
}

// Sender is one configured chat provider.
type Sender interface {
	// Name is the provider's address prefix: "slack", "mattermost", ...
	Name() string
	// Send posts the message. Errors should be *Error so the outbox knows
	// whether and when to retry.
	Send(ctx context.Context, m Message) (Receipt, error)
	// Check verifies the credentials (e.g. Slack auth.test) for health checks.
	Check(ctx context.Context) error
}

// Error is a provider's refusal, classified for retrying and worded for a
// person: Hint says what to do ("invite the bot to #ops").
type Error struct {
	Provider string
	// Code is the provider's own error code ("not_in_channel", "429").
	Code string
	Hint string
	// Temporary errors (rate limits, 5xx, network) are retried.
	Temporary bool
	// RetryAfter is how long the provider asked us to wait, if it said.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("%s: %s", e.Provider, e.Code)
	}
	return fmt.Sprintf("%s: %s: %s", e.Provider, e.Code, e.Hint)
}

// IsTemporary reports whether err is worth retrying, and after how long the
// provider asked to wait (0 when it did not say). Errors that are not
// *Error (network failures) count as temporary.
func IsTemporary(err error) (bool, time.Duration) {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Temporary, ce.RetryAfter
	}
	return err != nil, 0
}

// Address is a parsed "provider:channel".
type Address struct {
	Provider string
	Channel  string
}

func (a Address) String() string { return a.Provider + ":" + a.Channel }

// ParseAddress reads "slack:#ops", "mattermost:town-square",
// "discord:123456", "telegram:-100123".
func ParseAddress(s string) (Address, error) {
	p, ch, ok := strings.Cut(strings.TrimSpace(s), ":")
	p = strings.ToLower(strings.TrimSpace(p))
	ch = strings.TrimSpace(ch)
	if !ok || p == "" {
		return Address{}, fmt.Errorf("address %q is not provider:channel, e.g. slack:#ops", s)
	}
	if ch == "" {
		return Address{}, fmt.Errorf("address %q names no channel, e.g. %s:#ops", s, p)
	}
	return Address{Provider: p, Channel: ch}, nil
}
