// Package discord posts Panelcast messages into Discord channels with a bot
// token: one POST /channels/{id}/messages carrying the picture as an
// attachment, so no image ever needs a public URL.
package discord

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/quote"
)

const (
	// DefaultAPIURL is Discord's REST API, version 10.
	DefaultAPIURL = "https://discord.com/api/v10"
	// MaxContent is Discord's limit on message content, in characters.
	MaxContent = 2000
	// MaxFileBytes is Discord's default per-file upload limit (10 MiB);
	// boosted servers allow more, but a bot cannot know that in advance.
	MaxFileBytes = 10 << 20
	// MaxFiles is how many attachments one message takes.
	MaxFiles = 10
	// MaxDescription bounds an attachment's description (alt text).
	MaxDescription = 1024

	provider       = "discord"
	defaultTimeout = 60 * time.Second
	// maxBody bounds how much of an answer is read: messages and errors are
	// small, and a misbehaving proxy must not make us buffer without limit.
	maxBody = 1 << 20
)

// Config configures the Discord sender.
type Config struct {
	// Token is the bot token (discord_bot_token), without the "Bot " prefix.
	Token string
	// APIURL defaults to DefaultAPIURL; tests point it at discordfake.
	APIURL string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// GlobalLimit paces every request; zero takes DefaultGlobalLimit, and
	// N < 0 turns it off. Per-route limits need no setting: Discord
	// announces them on every answer.
	GlobalLimit chat.Limit
	// Pace holds the counts of the limits and buckets; nil keeps them in
	// this Sender. Replicas posting as one bot share one (Discord limits
	// the bot, not the process).
	Pace chat.PaceState
}

// DefaultGlobalLimit is Discord's documented global rate limit for bots.
var DefaultGlobalLimit = chat.Limit{N: 50, Per: time.Second}

// Sender posts to Discord. It is safe for concurrent use.
type Sender struct {
	auth      string
	api       string
	hc        *http.Client
	userAgent string
	global    chat.Limit
	pacer     chat.Pacer
	// guilds caches channel id → guild id ("@me" for DMs) for permalinks:
	// Discord's REST message objects carry no guild_id, so finding it costs
	// one GET /channels/{id}, paid once per channel.
	guilds sync.Map
}

var _ chat.Sender = (*Sender)(nil)

// New checks the configuration and returns a Sender.
func New(c Config) (*Sender, error) {
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c.Token), "Bot "))
	if token == "" {
		return nil, errors.New("discord: no bot token: set discord_bot_token to the token from the Discord developer portal (Bot → Reset Token)")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("discord: discord_bot_token contains spaces or control characters: copy the token again from the Discord developer portal")
	}
	api := strings.TrimRight(strings.TrimSpace(c.APIURL), "/")
	if api == "" {
		api = DefaultAPIURL
	}
	if u, err := url.Parse(api); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("discord: discord_api_url %q is not an http(s) URL: use %s", api, DefaultAPIURL)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &Sender{auth: "Bot " + token, api: api, hc: hc, userAgent: userAgent(), global: c.GlobalLimit.Or(DefaultGlobalLimit),
		pacer: chat.Pacer{Provider: provider, Bot: chat.BotID(api, token), State: c.Pace}}, nil
}

// userAgent follows the form Discord requires of HTTP API clients,
// "DiscordBot ($url, $versionNumber)"; requests without it may be blocked.
func userAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "DiscordBot (https://github.com/panelcast/panelcast, " + v + ")"
}

// Name is the address prefix, "discord".
func (s *Sender) Name() string { return provider }

// Check verifies the token with GET /users/@me.
func (s *Sender) Check(ctx context.Context) error {
	_, err := s.do(ctx, http.MethodGet, "/users/@me", "/users/@me", "", nil, "")
	return err
}

// Limits: 10 attachments and 2000 characters per message.
func (s *Sender) Limits() chat.Limits {
	return chat.Limits{MaxImages: MaxFiles, MaxText: MaxContent, EditsRoot: true}
}

type attachment struct {
	ID          int    `json:"id"`
	Filename    string `json:"filename"`
	Description string `json:"description,omitempty"`
}

type reference struct {
	MessageID string `json:"message_id"`
	// FailIfNotExists is false so that a reply whose parent was deleted
	// (a resolved alert whose firing message is gone) still gets posted.
	FailIfNotExists bool `json:"fail_if_not_exists"`
}

type payload struct {
	Content          string       `json:"content,omitempty"`
	Attachments      []attachment `json:"attachments,omitempty"`
	MessageReference *reference   `json:"message_reference,omitempty"`
	Nonce            string       `json:"nonce,omitempty"`
	EnforceNonce     bool         `json:"enforce_nonce,omitempty"`
}

// Send posts m. The pictures are uploaded as files[0], files[1], … and
// shown by Discord inline, so no embed is added (it would only frame the
// same pictures). Text longer than MaxContent is cut: plain text at a word
// boundary, Markdown (m.Markup) at a line break, ending with "…".
// With an IdempotencyKey the post carries a nonce derived from it and
// enforce_nonce, so a retry within Discord's few-minute window returns the
// first message instead of posting twice.
//
// With m.RootText and m.ThreadID, the thread's first message gets RootText
// as its content once the reply is out (PATCH, its attachments stay); a
// failed edit comes back with the receipt (see chat.EditFailed).
//
// Requests are paced by what Discord announces per route and channel
// (X-RateLimit-Remaining, X-RateLimit-Reset-After) and by its global
// limit, so a storm waits instead of drawing 429s.
func (s *Sender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	channel, err := ParseChannel(m.Channel)
	if err != nil {
		return chat.Receipt{}, err
	}
	if len(m.Images) == 0 && strings.TrimSpace(m.Text) == "" {
		return chat.Receipt{}, &chat.Error{Provider: provider, Code: "empty_message",
			Hint: "the message has neither text nor a picture: give it a text or a panel to render."}
	}
	if err := chat.CheckImages(provider, m.Images, MaxFiles); err != nil {
		return chat.Receipt{}, err
	}
	for _, img := range m.Images {
		if len(img.Data) > MaxFileBytes {
			return chat.Receipt{}, &chat.Error{Provider: provider, Code: "image_too_large",
				Hint: fmt.Sprintf("image is %.1f MiB; Discord allows 10 MiB without boosts: lower width/height/scale.", float64(len(img.Data))/(1<<20))}
		}
	}
	// Discord's own count is not documented; chat.Truncate counts UTF-16
	// units, never fewer than code points, so the text fits either reading.
	p := payload{Content: fit(m.Text, m.Markup)}
	var root string
	if m.ThreadID != "" {
		if !isSnowflake(m.ThreadID) {
			return chat.Receipt{}, &chat.Error{Provider: provider, Code: "invalid_thread",
				Hint: fmt.Sprintf("thread id %q is not a Discord message id: reply to the MessageID of an earlier Discord receipt.", quote.Clip(m.ThreadID))}
		}
		p.MessageReference = &reference{MessageID: m.ThreadID}
		root = m.ThreadID
	}
	if m.IdempotencyKey != "" {
		p.Nonce, p.EnforceNonce = nonce(m.IdempotencyKey), true
	}

	var body []byte
	var contentType string
	if len(m.Images) == 0 {
		body, _ = json.Marshal(p)
		contentType = "application/json"
	} else {
		for i, img := range m.Images {
			p.Attachments = append(p.Attachments, attachment{ID: i, Filename: filename(img.Filename),
				Description: chat.Truncate(img.AltText, MaxDescription)})
		}
		body, contentType = multipartBody(p, m.Images)
	}

	raw, err := s.do(ctx, http.MethodPost, "/channels/"+channel+"/messages", "/channels/"+channel+"/messages", contentType, body, channel)
	if err != nil {
		return chat.Receipt{}, err
	}
	var msg struct {
		ID        string `json:"id"`
		ChannelID string `json:"channel_id"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil || !isSnowflake(msg.ID) {
		// The post may well have landed; only a retry with the same nonce
		// is safe, which is what a temporary error leads to.
		return chat.Receipt{}, &chat.Error{Provider: provider, Code: "bad_answer", Temporary: true,
			Hint: "Discord answered the post with something that is not a message: check discord_api_url."}
	}
	if !isSnowflake(msg.ChannelID) {
		msg.ChannelID = channel
	}
	r := chat.Receipt{MessageID: msg.ID, ChannelID: msg.ChannelID}
	if guild := s.guild(ctx, msg.ChannelID); guild != "" {
		r.Permalink = "https://discord.com/channels/" + guild + "/" + msg.ChannelID + "/" + msg.ID
	}
	if root != "" && m.RootText != "" {
		edit, _ := json.Marshal(map[string]string{"content": fit(m.RootText, m.Markup)})
		if _, err := s.do(ctx, http.MethodPatch, "/channels/"+channel+"/messages/"+root, "/channels/"+channel+"/messages/{id}", "application/json", edit, channel); err != nil {
			return r, chat.EditFailed(provider, r.MessageID, err)
		}
	}
	return r, nil
}

// fit cuts text to MaxContent: Markdown at a line break, so that its
// markup stays whole.
func fit(text string, markup bool) string {
	if markup {
		return chat.TruncateLines(text, MaxContent)
	}
	return chat.Truncate(text, MaxContent)
}

// guild finds the channel's guild id ("@me" for DMs) for the permalink. A
// failed lookup leaves the permalink empty rather than failing a post that
// has already landed.
func (s *Sender) guild(ctx context.Context, channel string) string {
	if g, ok := s.guilds.Load(channel); ok {
		return g.(string)
	}
	raw, err := s.do(ctx, http.MethodGet, "/channels/"+channel, "/channels/"+channel, "", nil, channel)
	if err != nil {
		return ""
	}
	var ch struct {
		GuildID string `json:"guild_id"`
	}
	if json.Unmarshal(raw, &ch) != nil {
		return ""
	}
	g := "@me"
	if ch.GuildID != "" {
		if !isSnowflake(ch.GuildID) {
			return ""
		}
		g = ch.GuildID
	}
	s.guilds.Store(channel, g)
	return g
}

func multipartBody(p payload, images []chat.Image) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	js, _ := json.Marshal(p)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload_json"`)
	h.Set("Content-Type", "application/json")
	// Writes into a bytes.Buffer do not fail, so neither do the parts.
	pw, _ := w.CreatePart(h)
	_, _ = pw.Write(js)
	for i, img := range images {
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files[%d]"; filename="%s"`, i, p.Attachments[i].Filename))
		h.Set("Content-Type", http.DetectContentType(img.Data))
		pw, _ = w.CreatePart(h)
		_, _ = pw.Write(img.Data)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// do sends one request and returns the answer's body on 2xx, or a
// *chat.Error. route names its rate-limit bucket: the path with the
// channel (Discord's top-level resource) but without other ids; channel
// only words the hints.
func (s *Sender) do(ctx context.Context, method, path, route, contentType string, body []byte, channel string) ([]byte, error) {
	release, err := s.pacer.Acquire(ctx, method+" "+route)
	if err != nil {
		return nil, err
	}
	var announced *chat.Announced
	defer func() { release(announced) }()
	done, err := s.pacer.Wait(ctx, chat.Rule{Key: "global", Limit: s.global})
	if err != nil {
		return nil, err
	}
	defer done()

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.api+path, rd)
	if err != nil {
		return nil, &chat.Error{Provider: provider, Code: "bad_request",
			Hint: fmt.Sprintf("cannot build the request (%v): check discord_api_url.", err)}
	}
	req.Header.Set("Authorization", s.auth)
	req.Header.Set("User-Agent", s.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, networkError(ctx, err)
	}
	defer resp.Body.Close()
	announced = bucketState(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, networkError(ctx, err)
	}
	if resp.StatusCode/100 == 2 {
		return raw, nil
	}
	e := apiError(resp.StatusCode, resp.Header, raw, channel)
	if resp.StatusCode == http.StatusTooManyRequests {
		// The bucket waits what Discord asked; a global limit stops all.
		announced = &chat.Announced{Known: true, Remaining: 0, ResetAfter: e.RetryAfter}
		if isGlobal(resp.Header, raw) {
			s.pacer.Block(ctx, e.RetryAfter)
		}
	}
	return nil, e
}

// bucketState reads what an answer says about its rate-limit bucket.
func bucketState(h http.Header) *chat.Announced {
	remaining, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return &chat.Announced{}
	}
	return &chat.Announced{Known: true, Remaining: remaining, ResetAfter: chat.RetryAfter(0, h.Get("X-RateLimit-Reset-After"))}
}

// isGlobal reports whether a 429 is Discord's global limit.
func isGlobal(h http.Header, body []byte) bool {
	var b struct {
		Global bool `json:"global"`
	}
	_ = json.Unmarshal(body, &b) // a body that is not JSON names no global limit
	return b.Global || strings.EqualFold(h.Get("X-RateLimit-Global"), "true") || h.Get("X-RateLimit-Scope") == "global"
}

// networkError words a transport failure. The request URL is left out:
// *url.Error repeats it, and this package keeps one error style with the
// Telegram sender, whose URLs hold the token. A cancelled context is
// returned as is so callers can tell it apart.
func networkError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &chat.Error{Provider: provider, Code: "network", Temporary: true,
		Hint: fmt.Sprintf("could not reach Discord (%v): check the network and discord_api_url.", err)}
}

// ParseChannel checks that a Discord address names a channel by its numeric
// id (a snowflake) and returns it.
func ParseChannel(s string) (string, error) {
	ch := strings.TrimSpace(s)
	if isSnowflake(ch) {
		return ch, nil
	}
	hint := fmt.Sprintf("channel %q is not a numeric channel id: in Discord, turn on Developer Mode (User Settings → Advanced), right-click the channel → Copy Channel ID, and use discord:<id>.", quote.Clip(ch))
	if ch == "" {
		hint = "no channel given: use discord:<channel id>, e.g. discord:1234567890123456789."
	}
	return "", &chat.Error{Provider: provider, Code: "invalid_channel", Hint: hint}
}

// isSnowflake reports whether s is a Discord id: a decimal uint64.
func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 || s[0] == '+' || s[0] == '-' {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// nonce derives Discord's message nonce from an idempotency key. Discord
// takes an integer or a string of up to 25 characters; a decimal of the
// key's SHA-256 (63 bits, at most 19 digits) fits both readings whatever the
// key's length or alphabet.
func nonce(key string) string {
	sum := sha256.Sum256([]byte(key))
	return strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>1, 10)
}

// filename makes the upload's name safe to put in a Content-Disposition
// header: letters, digits, ".", "-" and "_" are kept, anything else
// becomes "_". An empty name becomes "panel.png".
func filename(name string) string {
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
	if strings.Trim(name, "._") == "" {
		return "panel.png"
	}
	return name
}
