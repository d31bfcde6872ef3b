// Package chat defines what every chat provider offers Panelcast: sending a
// message with uploaded pictures, privately, with a bot token. Providers
// live in sub-packages (slack, mattermost, discord, telegram).
package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one post: text plus pictures uploaded as files.
type Message struct {
	// Channel is the provider's part of the address: "#ops" or "C0123" for
	// Slack, "town-square" for Mattermost, a numeric id for Discord and
	// Telegram.
	Channel string
	Text    string
	// Markup says Text is written in the provider's markup: Slack mrkdwn,
	// Mattermost and Discord Markdown, Telegram HTML (parse_mode=HTML, with
	// <, > and & escaped outside tags). False sends Text as it is (Telegram
	// without parse_mode).
	//
	// Text that is too long is cut at a line break, so markup must keep
	// every tag, link and code span within one line; a line longer than
	// the limit is cut between words, and Telegram HTML then closes the
	// tags left open at the cut and reopens them in the rest.
	Markup bool
	// Images are the pictures, posted in this one message; nil sends text
	// only. More than the provider's Limits().MaxImages is refused, never
	// cut short.
	Images []Image
	// ThreadID, when set, makes the post a reply to that earlier message
	// (a Receipt.MessageID of the same provider and channel).
	ThreadID string
	// RootText, with ThreadID, replaces the text of the thread's first
	// message once the reply is posted (e.g. marks a firing alert
	// resolved), in the same markup as Text. Providers that cannot edit
	// skip it (Limits().EditsRoot). A failed edit does not fail the send:
	// Send returns the reply's Receipt together with an error saying so.
	RootText string
	// IdempotencyKey is stable across retries of the same post. Only
	// Discord documents deduplication (a nonce with enforce_nonce), so only
	// it passes the key on; Mattermost's pending_post_id cache is
	// undocumented and per node, and Slack and Telegram have none.
	IdempotencyKey string
}

// Image is one picture of a Message.
type Image struct {
	Data []byte
	// Filename is the upload's name; "panel.png" when empty.
	Filename string
	// Title is shown with the picture where the chat shows one (Slack's
	// file title); the file name when empty.
	Title string
	// AltText describes the picture for screen readers where the chat
	// takes it (Slack alt_txt, Discord attachment description).
	AltText string
}

// Name is the image's file name, "panel.png" when it has none.
func (i Image) Name() string {
	if i.Filename == "" {
		return "panel.png"
	}
	return i.Filename
}

// Limits says what one message of a provider carries.
type Limits struct {
	// MaxImages is how many pictures one message holds.
	MaxImages int
	// MaxText is how much text one message shows in full, in UTF-16 code
	// units (visible characters for Telegram HTML); longer text is cut.
	MaxText int
	// EditsRoot says whether the provider applies Message.RootText.
	EditsRoot bool
}

// CheckImages refuses a message whose pictures the provider cannot post
// as they are: more than max, or one without bytes.
func CheckImages(provider string, images []Image, max int) error {
	if len(images) > max {
		return &Error{Provider: provider, Code: "too_many_images",
			Hint: fmt.Sprintf("the message has %d pictures and %s shows at most %d in one message: send the others in another message.", len(images), title(provider), max)}
	}
	for i, img := range images {
		if len(img.Data) == 0 {
			return &Error{Provider: provider, Code: "empty_image",
				Hint: fmt.Sprintf("picture %d (%s) has no bytes: render it again.", i+1, img.Name())}
		}
	}
	return nil
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
	// Limits says what one message carries, so that callers can build
	// messages that fit.
	Limits() Limits
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

// title is a provider's name as its users write it: "Slack".
func title(provider string) string {
	if provider == "" {
		return provider
	}
	return strings.ToUpper(provider[:1]) + provider[1:]
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

// EditFailed is the error Send returns together with the reply's Receipt
// when the reply is posted but editing the thread's first message to
// RootText failed. It is not temporary: a retry would post the reply again.
func EditFailed(provider, messageID string, err error) error {
	code, why := "edit_failed", err.Error()
	var ce *Error
	if errors.As(err, &ce) {
		code, why = ce.Code, ce.Hint
		if why == "" {
			why = ce.Code
		}
	}
	return &Error{Provider: provider, Code: code,
		Hint: fmt.Sprintf("the reply was posted as message %s, but editing the thread's first message failed, and the reply is not sent again: %s", messageID, why)}
}

// Redact is s without token: for the texts a chat's answer puts into an
// error (a hint quoting the request, an echoed URL).
func Redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[redacted]")
}
