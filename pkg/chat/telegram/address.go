package telegram

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/quote"
)

// Chat is a parsed Telegram address channel: "-1001234567890" is a chat,
// "-1001234567890/45" is topic 45 of a forum supergroup, and a public chat
// may be named "@channelname" (also with "/45").
type Chat struct {
	// ID is the chat_id as Telegram takes it: a signed integer, or
	// "@username" for public channels and supergroups.
	ID string
	// Topic is the forum topic (message_thread_id); 0 for none.
	Topic int64
}

// String gives the address channel back: "-100123" or "-100123/45".
func (c Chat) String() string {
	if c.Topic == 0 {
		return c.ID
	}
	return c.ID + "/" + strconv.FormatInt(c.Topic, 10)
}

// group reports whether c is a group, supergroup or channel (a negative
// id, or a public @name), which Telegram limits per minute.
func (c Chat) group() bool { return strings.HasPrefix(c.ID, "-") || strings.HasPrefix(c.ID, "@") }

// ParseChat reads a Telegram address channel.
func ParseChat(s string) (Chat, error) {
	s = strings.TrimSpace(s)
	id, topic, hasTopic := strings.Cut(s, "/")
	var c Chat
	switch {
	case isChatID(id):
		c.ID = id
	case isUsername(id):
		c.ID = id
	case id == "":
		return Chat{}, invalidChat("no chat given: use telegram:<chat id>, e.g. telegram:-1001234567890.")
	default:
		return Chat{}, invalidChat(fmt.Sprintf("chat %q is not a Telegram chat id: use the numeric id (telegram:-1001234567890, or telegram:-1001234567890/45 for topic 45) or a public @channelname; to find the id, post in the chat and read chat.id from the bot's getUpdates.", quote.Clip(id)))
	}
	if hasTopic {
		n, ok := positive(topic)
		if !ok {
			return Chat{}, invalidChat(fmt.Sprintf("topic %q after \"/\" is not a topic id: use telegram:<chat id>/<topic id>, e.g. telegram:-1001234567890/45 (the number after the chat in the topic's link).", quote.Clip(topic)))
		}
		c.Topic = n
	}
	return c, nil
}

func invalidChat(hint string) error {
	return &chat.Error{Provider: provider, Code: "invalid_chat", Hint: hint}
}

// isChatID reports whether s is a non-zero signed 64-bit decimal.
func isChatID(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if !allDigits(digits) {
		return false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n != 0
}

// isUsername reports whether s is "@" and a Telegram username: 5–32
// letters, digits and underscores, starting with a letter.
func isUsername(s string) bool {
	name, ok := strings.CutPrefix(s, "@")
	if !ok || len(name) < 5 || len(name) > 32 {
		return false
	}
	for i, r := range name {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_')) {
			return false
		}
	}
	return true
}

// positive reads a positive decimal without sign that fits in 52 bits, the
// Bot API's limit for identifiers.
func positive(s string) (int64, bool) {
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && n < 1<<52
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
