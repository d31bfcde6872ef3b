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
	"github.com/panelcast/panelcast/pkg/quote"
)

const (
	// DefaultAPIURL is Telegram's Bot API server.
	DefaultAPIURL = "https://api.telegram.org"
	// MaxCaption and MaxText are the Bot API's limits for a caption and a
	// message, in characters.
	MaxCaption = 1024
	MaxText    = 4096
	// MaxImages is what one sendMediaGroup takes (2 to 10 items).
	MaxImages = 10
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
	// ChatLimit, GroupLimit and GlobalLimit pace what the bot sends; zero
	// values take DefaultChatLimit, DefaultGroupLimit and
	// DefaultGlobalLimit, and a Limit with N < 0 turns one off.
	ChatLimit, GroupLimit, GlobalLimit chat.Limit
	// Pace holds the counts of the limits; nil keeps them in this
	// Sender. Replicas posting as one bot share one (Telegram limits the
	// bot, not the process).
	Pace chat.PaceState
}

// Telegram's documented limits (Bots FAQ, "My bot is hitting limits"):
// about one message per second in a chat, at most 20 messages per minute
// to the same group, and about 30 messages per second in all.
var (
	DefaultChatLimit   = chat.Limit{N: 1, Per: time.Second}
	DefaultGroupLimit  = chat.Limit{N: 20, Per: time.Minute}
	DefaultGlobalLimit = chat.Limit{N: 30, Per: time.Second}
)

// limits are the Limits a Sender paces by.
type limits struct{ chat, group, global chat.Limit }

// Sender posts to Telegram. It is safe for concurrent use.
type Sender struct {
	token string
	// secret is the part after "123456:", scrubbed on its own in case
	// something prints the token with its colon escaped.
	secret string
	api    string
	hc     *http.Client
	limits limits
	pacer  chat.Pacer
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
	return &Sender{token: token, secret: secret, api: api, hc: hc, pacer: chat.Pacer{Provider: provider, Bot: chat.BotID(api, token), State: c.Pace},
		limits: limits{
			chat:   c.ChatLimit.Or(DefaultChatLimit),
			group:  c.GroupLimit.Or(DefaultGroupLimit),
			global: c.GlobalLimit.Or(DefaultGlobalLimit),
		}}, nil
}

// Name is the address prefix, "telegram".
func (s *Sender) Name() string { return provider }

// Check verifies the token with getMe.
func (s *Sender) Check(ctx context.Context) error {
	_, err := s.call(ctx, "getMe", "", nil, s.rules(Chat{}, false)...)
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
	ParseMode       string           `json:"parse_mode,omitempty"`
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

// Limits: a media group holds 10 pictures; a text message 4096 characters
// (with pictures, the first 1024 are the caption and the rest a reply).
func (s *Sender) Limits() chat.Limits {
	return chat.Limits{MaxImages: MaxImages, MaxText: MaxText, EditsRoot: true}
}

// format is how a message's text is measured and cut: plain, or HTML.
type format struct {
	parseMode string
	split     func(s string, max int) (head, rest string)
	truncate  func(s string, max int) string
}

func formatOf(markup bool) format {
	if !markup {
		return format{split: chat.Split, truncate: chat.Truncate}
	}
	return format{
		parseMode: "HTML",
		split: func(s string, max int) (string, string) {
			head, rest, _ := splitHTML(s, max)
			return head, rest
		},
		truncate: truncateHTML,
	}
}

// Send posts m to the chat (and topic) in m.Channel, as a reply to
// m.ThreadID when set. Text goes without parse_mode, so it needs no
// escaping, or with parse_mode HTML when m.Markup is set.
//
// One picture goes by sendPhoto with the text as its caption, several by
// sendMediaGroup (an album, caption on the first). Telegram refuses photos
// over 10 MB, with width + height over 10000 or a side ratio over 20, and
// shows photos recompressed; such pictures, and files that are not PNG or
// JPEG, go by sendDocument instead (in an album: all of them, as Telegram
// groups documents only with documents), which keeps the file as is.
//
// Captions hold 1024 characters (after entity parsing): longer text is cut
// (plain text at a word, with "…"; HTML at a line break, see
// chat.Message.Markup), and the rest follows as a text reply to the
// picture (itself cut at 4096), so the picture comes first and nothing is
// lost. If that second message fails, Send returns the picture's receipt
// together with a non-temporary error: the picture is in the chat and
// sending it again would post it twice.
//
// With m.RootText and m.ThreadID, the thread's first message is edited
// once the reply is out: editMessageCaption first (a picture or an album,
// whose caption is on its first message), editMessageText when Telegram
// answers that the message has no caption. An edit failure comes back with
// the receipt (see chat.EditFailed).
//
// Sends are paced per chat (DefaultChatLimit), per group or channel
// (DefaultGroupLimit) and in all (DefaultGlobalLimit); an album counts as
// one send. After a 429 every request waits the retry_after Telegram gave.
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
	var root int64
	if m.ThreadID != "" {
		id, ok := positive(m.ThreadID)
		if !ok {
			return chat.Receipt{}, &chat.Error{Provider: provider, Code: "invalid_thread",
				Hint: fmt.Sprintf("thread id %q is not a Telegram message id: reply to the MessageID of an earlier Telegram receipt.", quote.Clip(m.ThreadID))}
		}
		root = id
		reply = &replyParameters{MessageID: id, AllowSendingWithoutReply: true}
	}
	if err := chat.CheckImages(provider, m.Images, MaxImages); err != nil {
		return chat.Receipt{}, err
	}
	// Telegram's limits are "characters after entities parsing"; both
	// formats count UTF-16 units, Telegram's unit for entity offsets and
	// never fewer than code points, so a cut text fits either way.
	f := formatOf(m.Markup)
	text := strings.TrimSpace(m.Text)
	var r chat.Receipt
	var rest string
	switch {
	case len(m.Images) == 0 && text == "":
		return chat.Receipt{}, &chat.Error{Provider: provider, Code: "empty_message",
			Hint: "the message has neither text nor a picture: give it a text or a panel to render."}
	case len(m.Images) == 0:
		msg, err := s.sendText(ctx, c, f.truncate(text, MaxText), f, reply)
		if err != nil {
			return chat.Receipt{}, err
		}
		r = receipt(c, msg)
	default:
		var caption string
		caption, rest = f.split(text, MaxCaption)
		msg, err := s.sendPictures(ctx, c, m.Images, caption, f, reply)
		if err != nil {
			return chat.Receipt{}, err
		}
		r = receipt(c, msg)
	}
	var problems []error
	if rest != "" {
		first, _ := strconv.ParseInt(r.MessageID, 10, 64)
		if _, err := s.sendText(ctx, c, f.truncate(rest, MaxText), f, &replyParameters{MessageID: first, AllowSendingWithoutReply: true}); err != nil {
			problems = append(problems, restFailed(r.MessageID, err))
		}
	}
	if m.RootText != "" && root != 0 {
		if err := s.editRoot(ctx, c, root, m.RootText, f); err != nil {
			problems = append(problems, chat.EditFailed(provider, r.MessageID, err))
		}
	}
	return r, errors.Join(problems...)
}

// restFailed words the failure of the text that follows a picture.
func restFailed(messageID string, err error) error {
	var ce *chat.Error
	if !errors.As(err, &ce) {
		return err
	}
	return &chat.Error{Provider: provider, Code: ce.Code,
		Hint: fmt.Sprintf("the picture was posted as message %s but the rest of its text was not (Telegram error %s) and is not retried, so the picture is not posted twice: keep Telegram texts under %d characters to fit in the caption.", messageID, ce.Code, MaxCaption)}
}

func (s *Sender) sendText(ctx context.Context, c Chat, text string, f format, reply *replyParameters) (sent, error) {
	body, _ := json.Marshal(textMessage{ChatID: c.ID, MessageThreadID: c.Topic, Text: text, ParseMode: f.parseMode, ReplyParameters: reply})
	raw, err := s.call(ctx, "sendMessage", "application/json", body, s.rules(c, true)...)
	if err != nil {
		return sent{}, err
	}
	return decodeSent(raw)
}

func decodeSent(raw json.RawMessage) (sent, error) {
	var msg sent
	if json.Unmarshal(raw, &msg) != nil || msg.MessageID <= 0 {
		return sent{}, badAnswer()
	}
	return msg, nil
}

func badAnswer() error {
	return &chat.Error{Provider: provider, Code: "bad_answer",
		Hint: "Telegram answered with something that is not a message: check telegram_api_url."}
}

// inputMedia is one item of a media group.
type inputMedia struct {
	Type      string `json:"type"`
	Media     string `json:"media"`
	Caption   string `json:"caption,omitempty"`
	ParseMode string `json:"parse_mode,omitempty"`
}

// sendPictures posts one picture (sendPhoto or sendDocument) or an album
// (sendMediaGroup) and returns its first message.
func (s *Sender) sendPictures(ctx context.Context, c Chat, images []chat.Image, caption string, f format, reply *replyParameters) (sent, error) {
	kind := "photo"
	for _, img := range images {
		if !photoOK(img.Data) {
			kind = "document"
		}
	}
	if kind == "document" {
		for _, img := range images {
			if len(img.Data) > MaxDocumentBytes {
				return sent{}, &chat.Error{Provider: provider, Code: "image_too_large",
					Hint: fmt.Sprintf("image is %.1f MB; Telegram bots can upload 50 MB at most: lower width/height/scale.", float64(len(img.Data))/1e6)}
			}
		}
	}
	form := newForm(c, reply)
	method := "send" + strings.ToUpper(kind[:1]) + kind[1:]
	if len(images) == 1 {
		if caption != "" {
			form.field("caption", caption)
			if f.parseMode != "" {
				form.field("parse_mode", f.parseMode)
			}
		}
		form.file(kind, filename(images[0].Filename), images[0].Data)
	} else {
		method = "sendMediaGroup"
		media := make([]inputMedia, len(images))
		for i := range images {
			media[i] = inputMedia{Type: kind, Media: fmt.Sprintf("attach://file%d", i)}
		}
		media[0].Caption = caption
		if caption != "" {
			media[0].ParseMode = f.parseMode
		}
		js, _ := json.Marshal(media)
		form.field("media", string(js))
		for i, img := range images {
			form.file(fmt.Sprintf("file%d", i), filename(img.Filename), img.Data)
		}
	}
	body, contentType := form.close()
	raw, err := s.call(ctx, method, contentType, body, s.rules(c, true)...)
	if err != nil {
		return sent{}, err
	}
	if method != "sendMediaGroup" {
		return decodeSent(raw)
	}
	var album []sent
	if json.Unmarshal(raw, &album) != nil || len(album) == 0 || album[0].MessageID <= 0 {
		return sent{}, badAnswer()
	}
	return album[0], nil
}

// editRoot replaces the text of the thread's first message.
func (s *Sender) editRoot(ctx context.Context, c Chat, id int64, text string, f format) error {
	text = strings.TrimSpace(text)
	edit := map[string]any{"chat_id": c.ID, "message_id": id, "caption": f.truncate(text, MaxCaption)}
	if f.parseMode != "" {
		edit["parse_mode"] = f.parseMode
	}
	err := s.edit(ctx, c, "editMessageCaption", edit)
	if refused(err, "there is no caption in the message to edit") {
		delete(edit, "caption")
		edit["text"] = f.truncate(text, MaxText)
		err = s.edit(ctx, c, "editMessageText", edit)
	}
	if refused(err, "message is not modified") {
		// A retry's edit: the message already says this.
		return nil
	}
	return err
}

func (s *Sender) edit(ctx context.Context, c Chat, method string, args map[string]any) error {
	body, _ := json.Marshal(args)
	_, err := s.call(ctx, method, "application/json", body, s.rules(c, false)...)
	return err
}

// rules are Telegram's limits a request counts towards: every request
// the global one, messages also their chat's (and, for groups and
// channels, the per-minute one).
func (s *Sender) rules(c Chat, message bool) []chat.Rule {
	rules := []chat.Rule{{Key: "all", Limit: s.limits.global}}
	if message {
		rules = append(rules, chat.Rule{Key: "chat " + c.ID, Limit: s.limits.chat})
		if c.group() {
			rules = append(rules, chat.Rule{Key: "group " + c.ID, Limit: s.limits.group})
		}
	}
	return rules
}

// form is a multipart body under construction.
type form struct {
	buf bytes.Buffer
	w   *multipart.Writer
}

func newForm(c Chat, reply *replyParameters) *form {
	f := &form{}
	f.w = multipart.NewWriter(&f.buf)
	f.field("chat_id", c.ID)
	if c.Topic != 0 {
		f.field("message_thread_id", strconv.FormatInt(c.Topic, 10))
	}
	if reply != nil {
		js, _ := json.Marshal(reply)
		f.field("reply_parameters", string(js))
	}
	return f
}

// The form is written into a bytes.Buffer, where writes do not fail.

func (f *form) field(name, value string) { _ = f.w.WriteField(name, value) }

func (f *form) file(field, name string, data []byte) {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, field, name))
	h.Set("Content-Type", http.DetectContentType(data))
	pw, _ := f.w.CreatePart(h)
	_, _ = pw.Write(data)
}

func (f *form) close() ([]byte, string) {
	_ = f.w.Close()
	return f.buf.Bytes(), f.w.FormDataContentType()
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

// call runs one Bot API method, once rules allow, and returns its result,
// or a *chat.Error.
func (s *Sender) call(ctx context.Context, method, contentType string, body []byte, rules ...chat.Rule) (json.RawMessage, error) {
	done, err := s.pacer.Wait(ctx, rules...)
	if err != nil {
		return nil, err
	}
	defer done()
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
	parsed := json.Unmarshal(raw, &a) == nil
	if resp.StatusCode/100 == 2 && parsed && a.OK {
		return a.Result, nil
	}
	e := apiError(resp.StatusCode, resp.Header, raw)
	// A 429 does not say which limit it was: nothing goes out until the
	// wait is over.
	s.pacer.Block(ctx, e.RetryAfter)
	return nil, &refusal{err: e, description: a.Description}
}

// refusal is a Bot API error answer: the *chat.Error callers see, with
// Telegram's description for the answers Send handles itself.
type refusal struct {
	err         *chat.Error
	description string
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refused reports whether err is Telegram's answer with a description
// that contains want.
func refused(err error, want string) bool {
	var r *refusal
	return errors.As(err, &r) && strings.Contains(strings.ToLower(r.description), want)
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
