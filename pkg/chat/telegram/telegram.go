// Package telegram posts Panelcast messages into Telegram chats through the
// Bot API: the picture is uploaded with sendPhoto (or sendDocument when
// Telegram would refuse it as a photo), so no image needs a public URL.
//
// The bot token is part of every request URL. This package never logs a
// URL, never returns *url.Error (whose text repeats the URL), and removes
// the token from every error it returns.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the photo checks: Panelcast renders PNG and JPEG
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

const (
	// DefaultAPIURL is Telegram's Bot API server.
	DefaultAPIURL = "https://api.telegram.org"
	// MaxCaption and MaxText are the Bot API's limits for a caption and a
	// message, in characters.
	MaxCaption = 1024
	MaxText    = 4096
	// MaxPhotoBytes is sendPhoto's limit ("10 MB", read as 10^7 bytes, the
	// stricter reading).
	MaxPhotoBytes = 10_000_000
	// MaxDocumentBytes is sendDocument's limit for bots ("50 MB").
	MaxDocumentBytes = 50_000_000
	// A photo's width + height must not exceed maxPhotoSides, and the
	// longer side must be at most maxPhotoRatio times the shorter.
	maxPhotoSides = 10000
	maxPhotoRatio = 20

	provider       = "telegram"
	defaultTimeout = 60 * time.Second
	maxBody        = 1 << 20
)

// Config configures the Telegram sender.
type Config struct {
	// Token is the bot token from @BotFather (telegram_bot_token).
	Token string
	// APIURL defaults to DefaultAPIURL; tests point it at telegramfake, and
	// a self-hosted Bot API server works too.
	APIURL string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
}

// Sender posts to Telegram. It is safe for concurrent use.
type Sender struct {
	token string
	// secret is the part after "123456:", scrubbed on its own in case
	// something prints the token with its colon escaped.
	secret string
	api    string
	hc     *http.Client
}

var _ chat.Sender = (*Sender)(nil)

var tokenForm = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// New checks the configuration and returns a Sender.
func New(c Config) (*Sender, error) {
	token := strings.TrimSpace(c.Token)
	if token == "" {
		return nil, errors.New("telegram: no bot token: set telegram_bot_token to the token @BotFather gave the bot")
	}
	if !tokenForm.MatchString(token) {
		return nil, errors.New("telegram: telegram_bot_token does not look like a bot token (digits, a colon, then letters, digits, - and _): copy it again from @BotFather")
	}
	api := strings.TrimRight(strings.TrimSpace(c.APIURL), "/")
	if api == "" {
		api = DefaultAPIURL
	}
	if u, err := url.Parse(api); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("telegram: telegram_api_url %q is not an http(s) URL: use %s", api, DefaultAPIURL)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	_, secret, _ := strings.Cut(token, ":")
	return &Sender{token: token, secret: secret, api: api, hc: hc}, nil
}

// Name is the address prefix, "telegram".
func (s *Sender) Name() string { return provider }

// Check verifies the token with getMe.
func (s *Sender) Check(ctx context.Context) error {
	_, err := s.call(ctx, "getMe", "", nil)
	return s.scrub(err)
}

type replyParameters struct {
	MessageID int64 `json:"message_id"`
	// A reply whose parent is gone (a resolved alert whose firing message
	// was deleted) is still posted.
	AllowSendingWithoutReply bool `json:"allow_sending_without_reply"`
}

type textMessage struct {
	ChatID          string           `json:"chat_id"`
	MessageThreadID int64            `json:"message_thread_id,omitempty"`
	Text            string           `json:"text"`
	ReplyParameters *replyParameters `json:"reply_parameters,omitempty"`
}

// sent is the part of Telegram's Message this package reads.
type sent struct {
	MessageID int64 `json:"message_id"`
	Chat      struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	} `json:"chat"`
}

// Send posts m to the chat (and topic) in m.Channel, as a reply to
// m.ThreadID when set. Text is sent as plain text (no parse_mode), so
// alert text needs no escaping.
//
// A picture goes by sendPhoto with the text as its caption. Telegram
// refuses photos over 10 MB, with width + height over 10000 or a side ratio
// over 20, and shows photos recompressed; such pictures, and files that are
// not PNG or JPEG, go by sendDocument instead, which keeps the file as is.
//
// Captions hold 1024 characters: longer text is cut at a word boundary
// ("…"), and the rest follows as a text reply to the picture (itself cut at
// 4096 characters), so the picture comes first and nothing is lost. If
// that second message fails, Send returns the picture's receipt together
// with a non-temporary error: the picture is in the chat and sending it
// again would post it twice.
//
// Telegram has no idempotency key, so m.IdempotencyKey is not used.
func (s *Sender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	r, err := s.send(ctx, m)
	return r, s.scrub(err)
}

func (s *Sender) send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	c, err := ParseChat(m.Channel)
	if err != nil {
		return chat.Receipt{}, err
	}
	var reply *replyParameters
	if m.ThreadID != "" {
		id, ok := positive(m.ThreadID)
		if !ok {
			return chat.Receipt{}, &chat.Error{Provider: provider, Code: "invalid_thread",
				Hint: fmt.Sprintf("thread id %q is not a Telegram message id: reply to the MessageID of an earlier Telegram receipt.", chat.Clip(m.ThreadID))}
		}
		reply = &replyParameters{MessageID: id, AllowSendingWithoutReply: true}
	}
	// Telegram's limits are "characters after entities parsing"; chat.Split
	// and chat.Truncate count UTF-16 units, Telegram's unit for entity
	// offsets and never fewer than code points, so a cut text fits either way.
	text := strings.TrimSpace(m.Text)
	if len(m.Image) == 0 {
		if text == "" {
			return chat.Receipt{}, &chat.Error{Provider: provider, Code: "empty_message",
				Hint: "the message has neither text nor a picture: give it a text or a panel to render."}
		}
		msg, err := s.sendText(ctx, c, chat.Truncate(text, MaxText), reply)
		if err != nil {
			return chat.Receipt{}, err
		}
		return receipt(c, msg), nil
	}

	method, field := "sendPhoto", "photo"
	if !photoOK(m.Image) {
		method, field = "sendDocument", "document"
		if len(m.Image) > MaxDocumentBytes {
			return chat.Receipt{}, &chat.Error{Provider: provider, Code: "image_too_large",
				Hint: fmt.Sprintf("image is %.1f MB; Telegram bots can upload 50 MB at most: lower width/height/scale.", float64(len(m.Image))/1e6)}
		}
	}
	caption, rest := chat.Split(text, MaxCaption)
	name := filename(m.Filename)
	body, contentType := uploadBody(c, caption, reply, field, name, m.Image)
	raw, err := s.call(ctx, method, contentType, body)
	if err != nil {
		return chat.Receipt{}, err
	}
	var msg sent
	if json.Unmarshal(raw, &msg) != nil || msg.MessageID <= 0 {
		return chat.Receipt{}, &chat.Error{Provider: provider, Code: "bad_answer",
			Hint: "Telegram answered with something that is not a message: check telegram_api_url."}
	}
	r := receipt(c, msg)
	if rest == "" {
		return r, nil
	}
	if _, err := s.sendText(ctx, c, chat.Truncate(rest, MaxText), &replyParameters{MessageID: msg.MessageID, AllowSendingWithoutReply: true}); err != nil {
		var ce *chat.Error
		if !errors.As(err, &ce) {
			return r, err
		}
		return r, &chat.Error{Provider: provider, Code: ce.Code,
			Hint: fmt.Sprintf("the picture was posted as message %d but the rest of its text was not (Telegram error %s) and is not retried, so the picture is not posted twice: keep Telegram texts under %d characters to fit in the caption.", msg.MessageID, ce.Code, MaxCaption)}
	}
	return r, nil
}

func (s *Sender) sendText(ctx context.Context, c Chat, text string, reply *replyParameters) (sent, error) {
	body, _ := json.Marshal(textMessage{ChatID: c.ID, MessageThreadID: c.Topic, Text: text, ReplyParameters: reply})
	raw, err := s.call(ctx, "sendMessage", "application/json", body)
	if err != nil {
		return sent{}, err
	}
	var msg sent
	if json.Unmarshal(raw, &msg) != nil || msg.MessageID <= 0 {
		return sent{}, &chat.Error{Provider: provider, Code: "bad_answer",
			Hint: "Telegram answered with something that is not a message: check telegram_api_url."}
	}
	return msg, nil
}

// photoOK reports whether Telegram takes img as a photo: a PNG or JPEG
// within sendPhoto's size and shape limits.
func photoOK(img []byte) bool {
	if len(img) > MaxPhotoBytes {
		return false
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return false
	}
	long, short := max(cfg.Width, cfg.Height), min(cfg.Width, cfg.Height)
	return cfg.Width+cfg.Height <= maxPhotoSides && long <= maxPhotoRatio*short
}

func uploadBody(c Chat, caption string, reply *replyParameters, field, name string, file []byte) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("chat_id", c.ID)
	if c.Topic != 0 {
		w.WriteField("message_thread_id", strconv.FormatInt(c.Topic, 10))
	}
	if caption != "" {
		w.WriteField("caption", caption)
	}
	if reply != nil {
		js, _ := json.Marshal(reply)
		w.WriteField("reply_parameters", string(js))
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, field, name))
	h.Set("Content-Type", http.DetectContentType(file))
	pw, _ := w.CreatePart(h)
	pw.Write(file)
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// receipt says where msg landed. ChannelID keeps the topic so that it is a
// valid address channel again. The permalink uses the chat's public
// username when it has one, else the t.me/c/ form that members of a
// supergroup or channel (ids starting -100) can open; private chats and
// basic groups have no links.
func receipt(c Chat, msg sent) chat.Receipt {
	chatID := strconv.FormatInt(msg.Chat.ID, 10)
	if msg.Chat.ID == 0 {
		chatID = c.ID
	}
	r := chat.Receipt{MessageID: strconv.FormatInt(msg.MessageID, 10), ChannelID: Chat{ID: chatID, Topic: c.Topic}.String()}
	topic := ""
	if c.Topic != 0 {
		topic = strconv.FormatInt(c.Topic, 10) + "/"
	}
	switch {
	case isUsername("@" + msg.Chat.Username):
		r.Permalink = "https://t.me/" + msg.Chat.Username + "/" + topic + r.MessageID
	case strings.HasPrefix(chatID, "-100") && len(chatID) > 4:
		r.Permalink = "https://t.me/c/" + chatID[4:] + "/" + topic + r.MessageID
	}
	return r
}

// call runs one Bot API method and returns its result, or a *chat.Error.
func (s *Sender) call(ctx context.Context, method, contentType string, body []byte) (json.RawMessage, error) {
	var rd io.Reader
	verb := http.MethodGet
	if body != nil {
		rd, verb = bytes.NewReader(body), http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, verb, s.api+"/bot"+s.token+"/"+method, rd)
	if err != nil {
		// err repeats the URL, and with it the token: leave it out.
		return nil, &chat.Error{Provider: provider, Code: "bad_request",
			Hint: "cannot build the request: check telegram_api_url."}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, networkError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, networkError(ctx, err)
	}
	var a answer
	if resp.StatusCode/100 == 2 && json.Unmarshal(raw, &a) == nil && a.OK {
		return a.Result, nil
	}
	return nil, apiError(resp.StatusCode, resp.Header, raw)
}

// networkError words a transport failure without the *url.Error around
// it, whose text holds the URL and so the token. A cancelled context is
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
		Hint: fmt.Sprintf("could not reach Telegram (%v): check the network and telegram_api_url.", err)}
}

// scrub removes the token from err's text, wherever it came from.
func (s *Sender) scrub(err error) error {
	if err == nil {
		return nil
	}
	clean := func(t string) string {
		t = strings.ReplaceAll(t, s.token, "<telegram_bot_token>")
		return strings.ReplaceAll(t, s.secret, "<telegram_bot_token>")
	}
	if !strings.Contains(err.Error(), s.secret) {
		return err
	}
	var ce *chat.Error
	if errors.As(err, &ce) {
		c := *ce
		c.Code, c.Hint = clean(c.Code), clean(c.Hint)
		return &c
	}
	return errors.New(clean(err.Error()))
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
