// Package telegramfake is a stand-in for Telegram's Bot API that holds
// clients to its documented contract: the token in the path
// (/bot<token>/<method>), chat_id and the upload parts (photo, document),
// caption and text limits, sendPhoto's size and shape limits, forum topics
// (message_thread_id), replies by reply_parameters, albums (sendMediaGroup,
// 2 to 10 photos or documents attached by attach://), parse_mode HTML
// (the tags and entities Telegram accepts, errors worded as Telegram words
// them, limits counted after parsing), edits of captions and texts, the
// bot's membership in each chat, and the documented rate limits with 429
// answers in the Bot API's own form. It records every message that arrives
// so tests can look at the chat, topic, text or caption, reply target and
// file bytes, and every request that came while its caller had been told
// to wait (Violations).
//
// Where the documentation leaves room the fake takes the stricter reading,
// so a client that passes here also passes Telegram: lengths are counted in
// UTF-16 code units, "10 MB" and "50 MB" are 10^7 and 5·10^7 bytes, and the
// reply_to_message_id parameter, replaced by reply_parameters in Bot API
// 7.0 and no longer documented, is ignored. An album counts as one request
// towards the rate limits (the FAQ speaks of messages and says no more).
package telegramfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig for the photo checks
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

// Limits the fake enforces, from the Bot API documentation.
const (
	MaxCaption       = 1024
	MaxText          = 4096
	MaxPhotoBytes    = 10_000_000
	MaxDocumentBytes = 50_000_000
	// MaxPhotoSides bounds width + height; MaxPhotoRatio bounds the longer
	// side over the shorter.
	MaxPhotoSides = 10000
	MaxPhotoRatio = 20
)

// Bot is the user getMe answers with.
const (
	BotID       = 7000000001
	BotUsername = "panelcast_bot"
)

// Membership is the bot's standing in a chat.
type Membership int

const (
	// Member: the bot may post.
	Member Membership = iota
	// Left: the bot is not in the chat (403 "bot is not a member").
	Left
	// Kicked: the bot was removed (403 "bot was kicked"), or, in a private
	// chat, blocked by the person.
	Kicked
)

// Chat is a chat the fake knows.
type Chat struct {
	ID int64
	// Type is "private", "group", "supergroup" (the default) or "channel".
	Type  string
	Title string
	// Username is the public name without "@"; chat_id "@name" finds it.
	Username string
	// Topics are the forum topic ids; a chat with topics is a forum, and
	// message_thread_id must name one of them.
	Topics []int64
	Bot    Membership
	// NoMedia lets the bot send text but not photos or files.
	NoMedia bool
	// MigratedTo marks a basic group that became this supergroup: every
	// send fails with parameters.migrate_to_chat_id.
	MigratedTo int64
}

// File is an uploaded photo or document.
type File struct {
	// Field is the multipart part's name: "photo" or "document".
	Field       string
	Name        string
	ContentType string
	Data        []byte
}

// Message is a message the fake created.
type Message struct {
	ChatID    int64
	MessageID int64
	// Method is "sendPhoto", "sendDocument" or "sendMessage".
	Method string
	// ThreadID is message_thread_id (the forum topic), 0 for none.
	ThreadID int64
	// Text is the message's text or the file's caption, as sent (with its
	// HTML tags when ParseMode is "HTML"), or as last edited.
	Text      string
	ParseMode string
	// ReplyTo is reply_parameters.message_id when the reply was made.
	ReplyTo int64
	// File is the upload; nil for sendMessage.
	File *File
	// MediaGroupID is shared by the messages of one album.
	MediaGroupID string
	// Edits counts successful editMessageCaption and editMessageText calls.
	Edits int
	// Deleted is set by DeleteMessage.
	Deleted bool
}

// Limits are the rate limits the fake enforces; a zero Limit is none.
type Limits struct {
	// Chat counts the messages sent to one chat, Group those to one group,
	// supergroup or channel, Global every request.
	Chat, Group, Global faults.Limit
}

// DefaultLimits are Telegram's documented limits (Bots FAQ, "My bot is
// hitting limits"), read strictly: one message per second in a chat (the
// FAQ allows short bursts but promises none), 20 messages per minute to a
// group, 30 requests per second in all.
var DefaultLimits = Limits{
	Chat:   faults.Limit{N: 1, Per: time.Second},
	Group:  faults.Limit{N: 20, Per: time.Minute},
	Global: faults.Limit{N: 30, Per: time.Second},
}

// Call is one request the fake answered. Method is the Bot API method;
// the path is not kept because it holds the token.
type Call struct {
	Method string
	Status int
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	token string
	ts    *httptest.Server

	mu         sync.Mutex
	chats      map[int64]*Chat
	messages   []Message
	ids        map[int64]map[int64]int // chat → message id → index in messages
	next       map[int64]int64         // chat → next message id
	uneditable map[[2]int64]bool
	groups     int
	faults     faults.Injector
	limits     Limits
	limiter    faults.Limiter
	calls      []Call
}

// New starts a fake that accepts the bot token token, with DefaultLimits.
// Close it when done.
func New(token string) *Server {
	s := &Server{token: token, chats: map[int64]*Chat{}, ids: map[int64]map[int64]int{}, next: map[int64]int64{},
		uneditable: map[[2]int64]bool{}, limits: DefaultLimits}
	s.ts = httptest.NewServer(s)
	return s
}

// SetLimits replaces the rate limits (DefaultLimits at first).
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// Violations are the requests that came while their caller had been told
// to wait by a 429.
func (s *Server) Violations() []faults.Violation { return s.limiter.Violations() }

// DeleteMessage deletes a message as a chat admin would: replies to it
// need allow_sending_without_reply, and edits fail.
func (s *Server) DeleteMessage(chatID, messageID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.ids[chatID][messageID]; ok {
		s.messages[i].Deleted = true
		delete(s.ids[chatID], messageID)
	}
}

// SetUneditable makes edits of a message fail with "message can't be
// edited", as for a message too old or not the bot's.
func (s *Server) SetUneditable(chatID, messageID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uneditable[[2]int64{chatID, messageID}] = true
}

// URL is the API base to configure clients with (like
// https://api.telegram.org).
func (s *Server) URL() string { return s.ts.URL }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// AddChat makes a chat known, or replaces it.
func (s *Server) AddChat(c Chat) {
	if c.Type == "" {
		c.Type = "supergroup"
	}
	c.Topics = append([]int64(nil), c.Topics...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[c.ID] = &c
}

// RateLimitNext makes the next n authenticated calls answer 429 with
// parameters.retry_after, whole seconds rounded up (at least 1).
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// FailNext makes the next n authenticated calls answer status (e.g. 502).
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// Messages returns copies of the messages created so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		if m.File != nil {
			f := *m.File
			f.Data = append([]byte(nil), f.Data...)
			m.File = &f
		}
		out[i] = m
	}
	return out
}

// Calls returns the requests answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// failure is a Bot API error answer.
type failure struct {
	status      int
	description string
	params      map[string]any
}

func badRequest(desc string) *failure {
	return &failure{status: http.StatusBadRequest, description: "Bad Request: " + desc}
}

var tokenForm = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// ServeHTTP answers one Bot API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method, result, f := s.serve(r)
	status := http.StatusOK
	if f != nil {
		status = f.status
		body := map[string]any{"ok": false, "error_code": f.status, "description": f.description}
		if f.params != nil {
			body["parameters"] = f.params
		}
		writeJSON(w, status, body)
	} else {
		writeJSON(w, status, map[string]any{"ok": true, "result": result})
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Status: status})
	s.mu.Unlock()
}

func (s *Server) serve(r *http.Request) (string, any, *failure) {
	notFound := &failure{status: http.StatusNotFound, description: "Not Found"}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		return "", nil, notFound
	}
	tok, method, ok := strings.Cut(rest, "/")
	if !ok || !tokenForm.MatchString(tok) {
		return "", nil, notFound
	}
	if tok != s.token {
		return method, nil, &failure{status: http.StatusUnauthorized, description: "Unauthorized"}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return method, nil, notFound
	}
	// Method names are case-insensitive in the Bot API.
	lower := strings.ToLower(method)
	if !methods[lower] {
		return method, nil, notFound
	}
	p, f := readParams(r)
	if f != nil {
		return method, nil, f
	}
	if f := s.rateLimit(lower, p); f != nil {
		return method, nil, f
	}
	if f := s.injected(); f != nil {
		return method, nil, f
	}
	switch lower {
	case "getme":
		return method, map[string]any{"id": BotID, "is_bot": true, "first_name": "Panelcast", "username": BotUsername,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}, nil
	case "sendmediagroup":
		result, f := s.sendMediaGroup(p)
		return method, result, f
	case "editmessagecaption", "editmessagetext":
		result, f := s.edit(lower, p)
		return method, result, f
	}
	result, f := s.send(lower, p)
	return method, result, f
}

// methods are the Bot API methods the fake answers, in lower case.
var methods = map[string]bool{
	"getme": true, "sendmessage": true, "sendphoto": true, "senddocument": true,
	"sendmediagroup": true, "editmessagecaption": true, "editmessagetext": true,
}

// rateLimit counts the request against the limits: every request in all,
// sends also in their chat and, for groups and channels, per minute.
func (s *Server) rateLimit(method string, p params) *failure {
	s.mu.Lock()
	l := s.limits
	id := p.values["chat_id"]
	c := s.lookup(id)
	s.mu.Unlock()
	rules := []faults.Rule{{Key: "all", Limit: l.Global}}
	if strings.HasPrefix(method, "send") && id != "" {
		if c != nil {
			id = strconv.FormatInt(c.ID, 10)
		}
		rules = append(rules, faults.Rule{Key: "chat " + id, Limit: l.Chat})
		if c != nil && c.Type != "private" {
			rules = append(rules, faults.Rule{Key: "group " + id, Limit: l.Group})
		}
	}
	if wait := s.limiter.Take(rules...); wait > 0 {
		return tooMany(wait)
	}
	return nil
}

// tooMany is the Bot API's 429, retry_after in whole seconds rounded up.
func tooMany(wait time.Duration) *failure {
	sec := max(1, int(math.Ceil(wait.Seconds())))
	return &failure{status: http.StatusTooManyRequests, description: fmt.Sprintf("Too Many Requests: retry after %d", sec),
		params: map[string]any{"retry_after": sec}}
}

// injected returns an injected failure or rate limit, if one is due.
func (s *Server) injected() *failure {
	limited, wait, failStatus := s.faults.Next()
	if failStatus != 0 {
		return &failure{status: failStatus, description: http.StatusText(failStatus)}
	}
	if limited {
		s.limiter.Tell("all", wait)
		return tooMany(wait)
	}
	return nil
}

// params are a request's parameters, however they were passed: query
// string, urlencoded form, JSON, or multipart (the only way to upload).
type params struct {
	values map[string]string
	files  map[string]File
}

func readParams(r *http.Request) (params, *failure) {
	p := params{values: map[string]string{}, files: map[string]File{}}
	for k, v := range r.URL.Query() {
		p.values[k] = v[0]
	}
	tooLarge := &failure{status: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
	// Room for the form around a largest document.
	r.Body = http.MaxBytesReader(nil, r.Body, MaxDocumentBytes+1<<20)
	isTooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		return errors.As(err, &mbe)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "":
	case "application/json":
		raw, err := io.ReadAll(r.Body)
		if isTooLarge(err) {
			return p, tooLarge
		}
		var m map[string]json.RawMessage
		if err != nil || json.Unmarshal(raw, &m) != nil {
			return p, badRequest("can't parse JSON object")
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p.values[k] = str
			} else {
				p.values[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if isTooLarge(err) {
				return p, tooLarge
			}
			return p, badRequest("can't parse request body")
		}
		for k, v := range r.PostForm {
			p.values[k] = v[0]
		}
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return p, badRequest("can't parse request body")
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if isTooLarge(err) {
					return p, tooLarge
				}
				return p, badRequest("can't parse request body")
			}
			data, err := io.ReadAll(part)
			if err != nil {
				if isTooLarge(err) {
					return p, tooLarge
				}
				return p, badRequest("can't parse request body")
			}
			if part.FileName() != "" {
				p.files[part.FormName()] = File{Field: part.FormName(), Name: part.FileName(), ContentType: part.Header.Get("Content-Type"), Data: data}
			} else {
				p.values[part.FormName()] = string(data)
			}
		}
	default:
		return p, badRequest("unsupported Content-Type " + mt)
	}
	return p, nil
}

// target reads what every send names: the chat, the topic and the message
// replied to. s.mu is held.
func (s *Server) target(p params) (Message, *Chat, *failure) {
	c, f := s.chatFor(p.values["chat_id"])
	if f != nil {
		return Message{}, nil, f
	}
	m := Message{ChatID: c.ID}
	if v := p.values["message_thread_id"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Message{}, nil, badRequest("invalid message_thread_id specified")
		}
		if n != 0 && !hasTopic(c, n) {
			return Message{}, nil, badRequest("message thread not found")
		}
		m.ThreadID = n
	}
	if v := p.values["reply_parameters"]; v != "" {
		var rp struct {
			MessageID         int64 `json:"message_id"`
			AllowWithoutReply bool  `json:"allow_sending_without_reply"`
		}
		if json.Unmarshal([]byte(v), &rp) != nil || rp.MessageID == 0 {
			return Message{}, nil, badRequest("can't parse reply parameters JSON object")
		}
		_, exists := s.ids[c.ID][rp.MessageID]
		switch {
		case exists:
			m.ReplyTo = rp.MessageID
		case !rp.AllowWithoutReply:
			return Message{}, nil, badRequest("message to be replied not found")
		}
	}
	return m, c, nil
}

// shown checks text in parse mode mode and returns what shows.
func shown(text, mode string) (string, *failure) {
	switch strings.ToLower(mode) {
	case "":
		return text, nil
	case "html":
		out, problem := parseHTML(text)
		if problem != "" {
			return "", badRequest("can't parse entities: " + problem)
		}
		return out, nil
	}
	return "", badRequest("unsupported parse_mode")
}

// checkText applies sendMessage's and the captions' limits to what shows.
func checkText(text, mode string, caption bool) *failure {
	out, f := shown(text, mode)
	switch {
	case f != nil:
		return f
	case caption && utf16Len(out) > MaxCaption:
		return badRequest("message caption is too long")
	case caption:
		return nil
	case strings.TrimSpace(out) == "":
		return badRequest("message text is empty")
	case utf16Len(out) > MaxText:
		return badRequest("message is too long")
	}
	return nil
}

func (s *Server) send(method string, p params) (any, *failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, c, f := s.target(p)
	if f != nil {
		return nil, f
	}
	m.ParseMode = p.values["parse_mode"]
	switch method {
	case "sendmessage":
		m.Method, m.Text = "sendMessage", p.values["text"]
		if f := checkText(m.Text, m.ParseMode, false); f != nil {
			return nil, f
		}
	case "sendphoto":
		m.Method, m.Text = "sendPhoto", p.values["caption"]
		file, f := upload(p, "photo", c)
		if f != nil {
			return nil, f
		}
		if f := checkPhoto(file.Data); f != nil {
			return nil, f
		}
		m.File = &file
	case "senddocument":
		m.Method, m.Text = "sendDocument", p.values["caption"]
		file, f := upload(p, "document", c)
		if f != nil {
			return nil, f
		}
		if len(file.Data) > MaxDocumentBytes {
			return nil, &failure{status: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
		}
		m.File = &file
	}
	if m.File != nil {
		if f := checkText(m.Text, m.ParseMode, true); f != nil {
			return nil, f
		}
	}
	return messageJSON(c, s.record(m)), nil
}

// record stores m under the chat's next message id. s.mu is held.
func (s *Server) record(m Message) Message {
	if s.next[m.ChatID] == 0 {
		s.next[m.ChatID] = 1000
	}
	m.MessageID = s.next[m.ChatID]
	s.next[m.ChatID]++
	if s.ids[m.ChatID] == nil {
		s.ids[m.ChatID] = map[int64]int{}
	}
	s.ids[m.ChatID][m.MessageID] = len(s.messages)
	s.messages = append(s.messages, m)
	return m
}

// MinAlbum and MaxAlbum bound a media group, as documented.
const (
	MinAlbum = 2
	MaxAlbum = 10
)

// sendMediaGroup posts an album: media is a JSON array of InputMediaPhoto
// or InputMediaDocument whose media names a part as attach://<name>.
func (s *Server) sendMediaGroup(p params) (any, *failure) {
	var items []struct {
		Type      string `json:"type"`
		Media     string `json:"media"`
		Caption   string `json:"caption"`
		ParseMode string `json:"parse_mode"`
	}
	raw, ok := p.values["media"]
	if !ok {
		return nil, badRequest("parameter \"media\" is required")
	}
	if json.Unmarshal([]byte(raw), &items) != nil {
		return nil, badRequest("can't parse media JSON object")
	}
	switch {
	case len(items) > MaxAlbum:
		return nil, badRequest("too many messages to send as an album")
	case len(items) < MinAlbum:
		return nil, badRequest("media group must include 2-10 items")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	base, c, f := s.target(p)
	if f != nil {
		return nil, f
	}
	var msgs []Message
	for _, it := range items {
		if it.Type != "photo" && it.Type != "document" {
			return nil, badRequest(fmt.Sprintf(`Can't parse InputMedia: type "%s" is unsupported`, it.Type))
		}
		if it.Type != items[0].Type {
			// Documents group only with documents.
			return nil, badRequest("Can't use the media of the specified type in the album")
		}
		name, ok := strings.CutPrefix(it.Media, "attach://")
		if !ok {
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
		file, ok := p.files[name]
		if !ok {
			return nil, badRequest("Can't parse InputMedia: media not found")
		}
		if c.NoMedia {
			return nil, badRequest("not enough rights to send " + it.Type + "s to the chat")
		}
		if it.Type == "photo" {
			if f := checkPhoto(file.Data); f != nil {
				return nil, f
			}
		} else if len(file.Data) > MaxDocumentBytes {
			return nil, &failure{status: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
		}
		if f := checkText(it.Caption, it.ParseMode, true); f != nil {
			return nil, f
		}
		m := base
		m.Method, m.Text, m.ParseMode = "sendMediaGroup", it.Caption, it.ParseMode
		file.Field = it.Type
		m.File = &file
		msgs = append(msgs, m)
	}
	s.groups++
	id := fmt.Sprintf("album%d", s.groups)
	out := make([]any, len(msgs))
	for i, m := range msgs {
		m.MediaGroupID = id
		out[i] = messageJSON(c, s.record(m))
	}
	return out, nil
}

// edit applies editMessageCaption or editMessageText to one of the bot's
// messages.
func (s *Server) edit(method string, p params) (any, *failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, f := s.chatFor(p.values["chat_id"])
	if f != nil {
		return nil, f
	}
	id, err := strconv.ParseInt(p.values["message_id"], 10, 64)
	if err != nil || id <= 0 {
		return nil, badRequest("message identifier is not specified")
	}
	i, ok := s.ids[c.ID][id]
	switch {
	case !ok:
		return nil, badRequest("message to edit not found")
	case s.uneditable[[2]int64{c.ID, id}]:
		return nil, badRequest("message can't be edited")
	}
	m := &s.messages[i]
	text, mode := p.values["text"], p.values["parse_mode"]
	if method == "editmessagecaption" {
		if m.File == nil {
			return nil, badRequest("there is no caption in the message to edit")
		}
		text = p.values["caption"]
		if f := checkText(text, mode, true); f != nil {
			return nil, f
		}
	} else {
		if m.File != nil {
			return nil, badRequest("there is no text in the message to edit")
		}
		if f := checkText(text, mode, false); f != nil {
			return nil, f
		}
	}
	if text == m.Text && strings.EqualFold(mode, m.ParseMode) {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.ParseMode = text, mode
	m.Edits++
	out := messageJSON(c, *m)
	out["edit_date"] = time.Now().Unix()
	return out, nil
}

// lookup finds the chat chat_id names, if the fake knows it. s.mu is held.
func (s *Server) lookup(id string) *Chat {
	if name, ok := strings.CutPrefix(id, "@"); ok {
		for _, ch := range s.chats {
			if ch.Username != "" && strings.EqualFold(ch.Username, name) {
				return ch
			}
		}
		return nil
	}
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return s.chats[n]
	}
	return nil
}

// chatFor finds the chat for chat_id and checks the bot may post there.
// s.mu is held.
func (s *Server) chatFor(id string) (*Chat, *failure) {
	if id == "" {
		return nil, badRequest("chat_id is empty")
	}
	c := s.lookup(id)
	if c == nil {
		return nil, badRequest("chat not found")
	}
	kind := c.Type + " chat"
	switch {
	case c.MigratedTo != 0:
		f := badRequest("group chat was upgraded to a supergroup chat")
		f.params = map[string]any{"migrate_to_chat_id": c.MigratedTo}
		return nil, f
	case c.Bot == Left:
		return nil, &failure{status: http.StatusForbidden, description: "Forbidden: bot is not a member of the " + kind}
	case c.Bot == Kicked && c.Type == "private":
		return nil, &failure{status: http.StatusForbidden, description: "Forbidden: bot was blocked by the user"}
	case c.Bot == Kicked:
		return nil, &failure{status: http.StatusForbidden, description: "Forbidden: bot was kicked from the " + kind}
	}
	return c, nil
}

func hasTopic(c *Chat, id int64) bool {
	for _, t := range c.Topics {
		if t == id {
			return true
		}
	}
	return false
}

// upload returns the uploaded file in field ("photo" or "document").
func upload(p params, field string, c *Chat) (File, *failure) {
	file, ok := p.files[field]
	switch {
	case !ok && p.values[field] != "":
		// A string is a file_id or an HTTP URL, which the fake cannot fetch.
		return File{}, badRequest("wrong file identifier/HTTP URL specified")
	case !ok:
		return File{}, badRequest("there is no " + field + " in the request")
	case c.NoMedia:
		return File{}, badRequest("not enough rights to send " + field + "s to the chat")
	}
	return file, nil
}

// checkPhoto applies sendPhoto's limits: at most 10 MB, width + height at
// most 10000, side ratio at most 20.
func checkPhoto(data []byte) *failure {
	if len(data) > MaxPhotoBytes {
		return badRequest("PHOTO_SAVE_FILE_INVALID")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return badRequest("IMAGE_PROCESS_FAILED")
	}
	long, short := max(cfg.Width, cfg.Height), min(cfg.Width, cfg.Height)
	if cfg.Width+cfg.Height > MaxPhotoSides || long > MaxPhotoRatio*short {
		return badRequest("PHOTO_INVALID_DIMENSIONS")
	}
	return nil
}

func chatJSON(c *Chat) map[string]any {
	out := map[string]any{"id": c.ID, "type": c.Type}
	if c.Title != "" {
		out["title"] = c.Title
	}
	if c.Username != "" {
		out["username"] = c.Username
	}
	if len(c.Topics) > 0 {
		out["is_forum"] = true
	}
	return out
}

// messageJSON renders m as the Bot API's Message.
func messageJSON(c *Chat, m Message) map[string]any {
	out := map[string]any{"message_id": m.MessageID, "date": time.Now().Unix(), "chat": chatJSON(c)}
	if c.Type != "channel" {
		out["from"] = map[string]any{"id": BotID, "is_bot": true, "first_name": "Panelcast", "username": BotUsername}
	}
	if m.ThreadID != 0 {
		out["message_thread_id"] = m.ThreadID
		out["is_topic_message"] = true
	}
	if m.ReplyTo != 0 {
		out["reply_to_message"] = map[string]any{"message_id": m.ReplyTo, "date": time.Now().Unix(), "chat": chatJSON(c)}
	}
	fileID := fmt.Sprintf("fake-%d-%d", m.ChatID, m.MessageID)
	switch m.Method {
	case "sendMessage":
		out["text"] = m.Text
	case "sendPhoto", "sendMediaGroup":
		if m.File.Field == "document" {
			out["document"] = map[string]any{"file_id": fileID, "file_unique_id": fileID, "file_name": m.File.Name, "mime_type": m.File.ContentType, "file_size": len(m.File.Data)}
			break
		}
		cfg, _, _ := image.DecodeConfig(bytes.NewReader(m.File.Data))
		out["photo"] = []any{map[string]any{"file_id": fileID, "file_unique_id": fileID, "width": cfg.Width, "height": cfg.Height, "file_size": len(m.File.Data)}}
	case "sendDocument":
		out["document"] = map[string]any{"file_id": fileID, "file_unique_id": fileID, "file_name": m.File.Name, "mime_type": m.File.ContentType, "file_size": len(m.File.Data)}
	}
	if m.File != nil && m.Text != "" {
		out["caption"] = m.Text
	}
	if m.MediaGroupID != "" {
		out["media_group_id"] = m.MediaGroupID
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
