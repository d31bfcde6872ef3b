// Package discordfake is a stand-in for Discord's REST API (v10) that holds
// clients to its documented contract: the "Bot <token>" header and a
// "DiscordBot (url, version)" User-Agent, multipart bodies with payload_json
// and files[n] parts matched to attachments, the 2000-character content and
// 10 MiB file limits, at most 10 attachments, bot permissions per channel,
// replies, edits of the bot's own messages, enforce_nonce deduplication,
// and rate limits: a bucket per route and channel announced on every
// answer (X-RateLimit-Limit, -Remaining, -Reset, -Reset-After, -Bucket)
// and the global limit, with 429 answers in Discord's own form. It records
// every message that arrives so tests can look at the text, channel, reply
// target and file bytes, and every request that came while its caller had
// been told to wait (Violations).
//
// Where the documentation leaves room the fake takes the stricter reading,
// so a client that passes here also passes Discord: content is counted in
// UTF-16 code units, multipart bodies must carry payload_json (Discord also
// takes plain form fields), and when attachments are listed every files[n]
// part must be listed and every listed id must have a part. Nonces are
// remembered for the server's life rather than "a few minutes".
package discordfake

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
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

// Limits the fake enforces, from Discord's documentation.
const (
	MaxContent      = 2000
	MaxNonce        = 25
	MaxFileBytes    = 10 << 20
	MaxRequestBytes = 25 << 20
	MaxFiles        = 10
	MaxDescription  = 1024
)

// Limits are the rate limits the fake enforces; a zero Limit is none.
type Limits struct {
	// Route is the bucket of each route and channel (POST messages of one
	// channel, PATCH its messages, ...), Global all requests of the bot.
	Route, Global faults.Limit
}

// DefaultLimits: Discord documents the global limit (50 requests per
// second) and tells clients to read the per-route limits from the headers
// rather than hard-code them; 5 per 5 seconds is what it announces for
// creating messages in a channel.
var DefaultLimits = Limits{
	Route:  faults.Limit{N: 5, Per: 5 * time.Second},
	Global: faults.Limit{N: 50, Per: time.Second},
}

// Perm is what the bot may do in a guild channel.
type Perm uint8

const (
	PermView Perm = 1 << iota
	PermSend
	PermAttach
	PermReadHistory
	// PermAll is what Panelcast's bot needs: view, send, attach files and
	// read history (replies need the last).
	PermAll = PermView | PermSend | PermAttach | PermReadHistory
)

// Channel is a channel the fake knows.
type Channel struct {
	ID string
	// GuildID is the server's id; empty makes the channel a DM, where the
	// bot may do everything and permalinks use "@me".
	GuildID string
	Perms   Perm
}

// File is one uploaded attachment.
type File struct {
	// Field is the multipart part's name, e.g. "files[0]".
	Field string
	// Name is the attachment's filename (the attachments entry's, else the
	// part's).
	Name        string
	ContentType string
	Data        []byte
	// Description is the attachment's alt text.
	Description string
}

// Message is a message the fake created.
type Message struct {
	ID        string
	ChannelID string
	Content   string
	// ReplyTo is message_reference.message_id when the reply was made.
	ReplyTo string
	Nonce   string
	Files   []File
	// Edits counts successful PATCHes.
	Edits int
	// Foreign marks a message another user wrote (MarkForeign).
	Foreign bool
}

// Call is one request the fake answered.
type Call struct {
	Method string
	Path   string
	Status int
}

// BotUserID is the id GET /users/@me answers with.
const BotUserID = "1100000000000000001"

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	token string
	ts    *httptest.Server

	mu       sync.Mutex
	channels map[string]Channel
	messages []Message
	byID     map[string]int    // message id → index in messages
	nonces   map[string]string // nonce → message id
	faults   faults.Injector
	limits   Limits
	limiter  faults.Limiter
	calls    []Call
	lastID   uint64
}

// New starts a fake that accepts the bot token token, with DefaultLimits.
// Close it when done.
func New(token string) *Server {
	s := &Server{
		token:    token,
		channels: map[string]Channel{},
		byID:     map[string]int{},
		nonces:   map[string]string{},
		limits:   DefaultLimits,
	}
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the API base to configure clients with (it ends in /api/v10).
func (s *Server) URL() string { return s.ts.URL + "/api/v10" }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// AddChannel makes a channel known, or replaces it.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[c.ID] = c
}

// SetLimits replaces the rate limits (DefaultLimits at first).
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// Violations are the requests that came while their caller had been told
// to wait: by a 429, or by an answer announcing Remaining 0.
func (s *Server) Violations() []faults.Violation { return s.limiter.Violations() }

// MarkForeign makes a message look written by another user: the bot may
// no longer edit it.
func (s *Server) MarkForeign(messageID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.byID[messageID]; ok {
		s.messages[i].Foreign = true
	}
}

// RateLimitNext makes the next n authenticated calls answer 429 with
// retry_after (seconds, float) in the body and Retry-After (whole seconds,
// rounded up) in the header.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// FailNext makes the next n authenticated calls answer status (e.g. 502)
// with Discord's error body.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// Messages returns copies of the messages created so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Files = append([]File(nil), m.Files...)
		for j := range m.Files {
			m.Files[j].Data = append([]byte(nil), m.Files[j].Data...)
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

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	s.serve(rec, r)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Status: rec.status})
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Discord sits behind Cloudflare, which blocks clients without a
	// proper User-Agent with a plain-text error, not Discord's JSON.
	if !strings.HasPrefix(r.UserAgent(), "DiscordBot (") {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "error code: 1010")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v10/")
	if !ok {
		writeError(w, http.StatusNotFound, 0, "404: Not Found", nil)
		return
	}
	if r.Header.Get("Authorization") != "Bot "+s.token {
		writeError(w, http.StatusUnauthorized, 0, "401: Unauthorized", nil)
		return
	}
	parts := strings.Split(rest, "/")
	var route string
	switch {
	case rest == "users/@me":
		route = "GET /users/@me"
	case len(parts) == 2 && parts[0] == "channels":
		route = "GET /channels/" + parts[1]
	case len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		route = "POST /channels/" + parts[1] + "/messages"
	case len(parts) == 4 && parts[0] == "channels" && parts[2] == "messages":
		route = "PATCH /channels/" + parts[1] + "/messages/{id}"
	default:
		writeError(w, http.StatusNotFound, 0, "404: Not Found", nil)
		return
	}
	if verb, _, _ := strings.Cut(route, " "); r.Method != verb {
		writeError(w, http.StatusMethodNotAllowed, 0, "405: Method Not Allowed", nil)
		return
	}
	if s.rateLimited(w, route) || s.injected(w, route) {
		return
	}
	switch {
	case rest == "users/@me":
		writeJSON(w, http.StatusOK, map[string]any{"id": BotUserID, "username": "panelcast", "discriminator": "0", "bot": true})
	case len(parts) == 2:
		s.getChannel(w, parts[1])
	case len(parts) == 3:
		s.createMessage(w, r, parts[1])
	default:
		s.editMessage(w, r, parts[1], parts[3])
	}
}

// rateLimited counts the request against the global limit and its route's
// bucket, and sets the bucket's headers; over a limit it answers 429 as
// Discord does. An answer announcing Remaining 0 tells the caller to wait
// for the reset.
func (s *Server) rateLimited(w http.ResponseWriter, route string) bool {
	s.mu.Lock()
	l := s.limits
	s.mu.Unlock()
	h := w.Header()
	if wait := s.limiter.Take(faults.Rule{Key: "global", Limit: l.Global}); wait > 0 {
		h.Set("X-RateLimit-Global", "true")
		h.Set("X-RateLimit-Scope", "global")
		tooMany(w, wait, true)
		return true
	}
	if l.Route.N <= 0 || l.Route.Per <= 0 {
		return false
	}
	wait := s.limiter.Take(faults.Rule{Key: route, Limit: l.Route})
	remaining, reset := s.limiter.State(route, l.Route)
	if wait > 0 {
		reset = wait
	}
	// Rounded up, so that a caller waiting what it is told is never early.
	resetAfter := math.Ceil(reset.Seconds()*1000) / 1000
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.Route.N))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().UnixMilli())/1000+resetAfter, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(resetAfter, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", fmt.Sprintf("%x", sha256.Sum256([]byte(route)))[:16])
	if wait > 0 {
		h.Set("X-RateLimit-Scope", "user")
		tooMany(w, wait, false)
		return true
	}
	if remaining == 0 {
		s.limiter.Tell(route, reset)
	}
	return false
}

// tooMany writes Discord's 429: retry_after in seconds with decimals in
// the body, Retry-After in whole seconds, both rounded up.
func tooMany(w http.ResponseWriter, wait time.Duration, global bool) {
	sec := math.Ceil(wait.Seconds()*1000) / 1000
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(sec))))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message": "You are being rate limited.", "retry_after": sec, "global": global})
}

// injected answers with an injected failure or rate limit, if one is due.
func (s *Server) injected(w http.ResponseWriter, route string) bool {
	limited, wait, failStatus := s.faults.Next()
	if failStatus != 0 {
		writeError(w, failStatus, 0, fmt.Sprintf("%d: %s", failStatus, http.StatusText(failStatus)), nil)
		return true
	}
	if limited {
		h := w.Header()
		h.Set("X-RateLimit-Limit", "5")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(wait.Seconds(), 'f', 3, 64))
		h.Set("X-RateLimit-Bucket", "fakebucket")
		h.Set("X-RateLimit-Scope", "user")
		s.limiter.Tell(route, wait)
		tooMany(w, wait, false)
		return true
	}
	return false
}

func (s *Server) getChannel(w http.ResponseWriter, id string) {
	s.mu.Lock()
	c, ok := s.channels[id]
	s.mu.Unlock()
	switch {
	case !isSnowflake(id):
		invalidForm(w, "channel_id", "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", id))
	case !ok:
		writeError(w, http.StatusNotFound, 10003, "Unknown Channel", nil)
	case c.GuildID == "":
		writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "type": 1, "recipients": []any{}})
	case c.Perms&PermView == 0:
		writeError(w, http.StatusForbidden, 50001, "Missing Access", nil)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": c.ID, "type": 0, "guild_id": c.GuildID, "name": "channel-" + c.ID})
	}
}

type payload struct {
	Content     string            `json:"content"`
	Nonce       json.RawMessage   `json:"nonce"`
	Enforce     bool              `json:"enforce_nonce"`
	Embeds      []json.RawMessage `json:"embeds"`
	Attachments []struct {
		ID          json.RawMessage `json:"id"`
		Filename    string          `json:"filename"`
		Description string          `json:"description"`
	} `json:"attachments"`
	Reference *struct {
		MessageID       string `json:"message_id"`
		FailIfNotExists *bool  `json:"fail_if_not_exists"`
	} `json:"message_reference"`
}

var filesField = regexp.MustCompile(`^files\[(\d+)\]$`)

// createMessage applies POST /channels/{id}/messages in Discord's order:
// the channel and the bot's right to post there, the body and its limits,
// then, holding the lock, the message replied to and the nonce.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, channelID string) {
	c, ok := s.postableChannel(w, channelID)
	if !ok {
		return
	}
	dm := c.GuildID == ""
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	p, files, status := parseBody(w, r)
	if status != 0 {
		return
	}
	nonce, ok := checkMessage(w, p, files)
	if !ok {
		return
	}
	if !dm && len(files) > 0 && c.Perms&PermAttach == 0 {
		writeError(w, http.StatusForbidden, 50013, "Missing Permissions", nil)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	replyTo, ok := s.replyTarget(w, p, c)
	if !ok {
		return
	}
	if p.Enforce && nonce != "" {
		if id, seen := s.nonces[nonce]; seen {
			writeJSON(w, http.StatusOK, s.messageJSON(s.messages[s.byID[id]]))
			return
		}
	}
	m := Message{ID: s.newID(), ChannelID: channelID, Content: p.Content, ReplyTo: replyTo, Nonce: nonce, Files: files}
	s.byID[m.ID] = len(s.messages)
	s.messages = append(s.messages, m)
	if nonce != "" {
		s.nonces[nonce] = m.ID
	}
	writeJSON(w, http.StatusOK, s.messageJSON(m))
}

// postableChannel is the channel a message is posted to, if the bot may
// see it and send there (a DM always); otherwise it answers why not.
func (s *Server) postableChannel(w http.ResponseWriter, channelID string) (Channel, bool) {
	if !isSnowflake(channelID) {
		invalidForm(w, "channel_id", "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", channelID))
		return Channel{}, false
	}
	s.mu.Lock()
	c, ok := s.channels[channelID]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, 10003, "Unknown Channel", nil)
		return Channel{}, false
	}
	dm := c.GuildID == ""
	if !dm && c.Perms&PermView == 0 {
		writeError(w, http.StatusForbidden, 50001, "Missing Access", nil)
		return Channel{}, false
	}
	if !dm && c.Perms&PermSend == 0 {
		writeError(w, http.StatusForbidden, 50013, "Missing Permissions", nil)
		return Channel{}, false
	}
	return c, true
}

// checkMessage holds a new message to Discord's limits and returns its
// nonce as text; on a breach it answers as Discord does.
func checkMessage(w http.ResponseWriter, p payload, files []File) (string, bool) {
	if utf16Len(p.Content) > MaxContent {
		invalidForm(w, "content", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxContent))
		return "", false
	}
	nonce, ok := nonceString(p.Nonce)
	if !ok {
		invalidForm(w, "nonce", "BASE_TYPE_BAD_TYPE", "Must be an integer or a string.")
		return "", false
	}
	if len(nonce) > MaxNonce {
		invalidForm(w, "nonce", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxNonce))
		return "", false
	}
	if len(files) > MaxFiles || len(p.Attachments) > MaxFiles {
		invalidForm(w, "attachments", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxFiles))
		return "", false
	}
	for _, f := range files {
		if len(f.Data) > MaxFileBytes {
			writeError(w, http.StatusRequestEntityTooLarge, 40005, "Request entity too large", nil)
			return "", false
		}
	}
	for _, a := range p.Attachments {
		if utf16Len(a.Description) > MaxDescription {
			invalidForm(w, "attachments", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("description: Must be %d or fewer in length.", MaxDescription))
			return "", false
		}
	}
	if err := matchAttachments(p, files); err != "" {
		invalidForm(w, "attachments", "ATTACHMENT_NOT_FOUND", err)
		return "", false
	}
	if strings.TrimSpace(p.Content) == "" && len(files) == 0 && len(p.Embeds) == 0 {
		writeError(w, http.StatusBadRequest, 50006, "Cannot send an empty message", nil)
		return "", false
	}
	return nonce, true
}

// replyTarget is the ID of the message p replies to in c, "" for none or
// for a missing one that fail_if_not_exists=false lets go; it answers when
// the reply is refused. s.mu is held.
func (s *Server) replyTarget(w http.ResponseWriter, p payload, c Channel) (string, bool) {
	if p.Reference == nil {
		return "", true
	}
	if c.GuildID != "" && c.Perms&PermReadHistory == 0 {
		writeError(w, http.StatusForbidden, 50013, "Missing Permissions", nil)
		return "", false
	}
	i, found := s.byID[p.Reference.MessageID]
	found = found && s.messages[i].ChannelID == c.ID
	switch {
	case found:
		return p.Reference.MessageID, true
	case p.Reference.FailIfNotExists == nil || *p.Reference.FailIfNotExists:
		invalidForm(w, "message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
		return "", false
	}
	return "", true
}

// editMessage applies PATCH /channels/{id}/messages/{id} with JSON
// content: only the bot's own messages, and their attachments stay.
func (s *Server) editMessage(w http.ResponseWriter, r *http.Request, channelID, messageID string) {
	if !isSnowflake(channelID) || !isSnowflake(messageID) {
		invalidForm(w, "message_id", "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", messageID))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		invalidForm(w, "_content_type", "CONTENT_TYPE_INVALID", "Expected application/json.")
		return
	}
	var p struct {
		Content *string `json:"content"`
	}
	if json.NewDecoder(io.LimitReader(r.Body, MaxRequestBytes)).Decode(&p) != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[channelID]
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, 10003, "Unknown Channel", nil)
		return
	case c.GuildID != "" && c.Perms&PermView == 0:
		writeError(w, http.StatusForbidden, 50001, "Missing Access", nil)
		return
	}
	i, ok := s.byID[messageID]
	if !ok || s.messages[i].ChannelID != channelID {
		writeError(w, http.StatusNotFound, codeUnknownMessage, "Unknown Message", nil)
		return
	}
	m := &s.messages[i]
	switch {
	case m.Foreign:
		writeError(w, http.StatusForbidden, 50005, "Cannot edit a message authored by another user", nil)
		return
	case p.Content == nil:
		writeJSON(w, http.StatusOK, s.messageJSON(*m))
		return
	case utf16Len(*p.Content) > MaxContent:
		invalidForm(w, "content", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", MaxContent))
		return
	case strings.TrimSpace(*p.Content) == "" && len(m.Files) == 0:
		writeError(w, http.StatusBadRequest, 50006, "Cannot send an empty message", nil)
		return
	}
	m.Content = *p.Content
	m.Edits++
	out := s.messageJSON(*m)
	out["edited_timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	writeJSON(w, http.StatusOK, out)
}

// codeUnknownMessage is Discord's "Unknown Message".
const codeUnknownMessage = 10008

// parseBody reads a JSON or multipart body. On a bad body it answers and
// returns a non-zero status.
func parseBody(w http.ResponseWriter, r *http.Request) (payload, []File, int) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		p, status := parseJSONBody(w, r)
		return p, nil, status
	case "multipart/form-data":
		return parseMultipartBody(w, r)
	}
	invalidForm(w, "_content_type", "CONTENT_TYPE_INVALID", "Expected application/json or multipart/form-data.")
	return payload{}, nil, http.StatusBadRequest
}

func parseJSONBody(w http.ResponseWriter, r *http.Request) (payload, int) {
	var p payload
	raw, err := io.ReadAll(r.Body)
	if tooLarge(w, err) {
		return p, http.StatusRequestEntityTooLarge
	}
	if err != nil || json.Unmarshal(raw, &p) != nil {
		writeError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.", nil)
		return p, http.StatusBadRequest
	}
	return p, 0
}

// parseMultipartBody reads a payload_json part, required, and files[n]
// parts, each name once.
func parseMultipartBody(w http.ResponseWriter, r *http.Request) (payload, []File, int) {
	var p payload
	mr, err := r.MultipartReader()
	if err != nil {
		invalidForm(w, "_body", "MULTIPART_INVALID", "The multipart body could not be read.")
		return p, nil, http.StatusBadRequest
	}
	var files []File
	seen := map[string]bool{}
	havePayload := false
	for {
		part, data, err := nextPart(mr)
		if errors.Is(err, io.EOF) {
			break
		}
		if tooLarge(w, err) {
			return p, nil, http.StatusRequestEntityTooLarge
		}
		if err != nil {
			invalidForm(w, "_body", "MULTIPART_INVALID", "The multipart body could not be read.")
			return p, nil, http.StatusBadRequest
		}
		name := part.FormName()
		if seen[name] {
			invalidForm(w, name, "DUPLICATE_FIELD", "Each part must have a unique name.")
			return p, nil, http.StatusBadRequest
		}
		seen[name] = true
		switch {
		case name == "payload_json":
			if json.Unmarshal(data, &p) != nil {
				invalidForm(w, "payload_json", "JSON_INVALID", "payload_json is not valid JSON.")
				return p, nil, http.StatusBadRequest
			}
			havePayload = true
		case filesField.MatchString(name):
			if part.FileName() == "" {
				invalidForm(w, name, "FILE_NAME_MISSING", "File parts need a filename in Content-Disposition.")
				return p, nil, http.StatusBadRequest
			}
			files = append(files, File{Field: name, Name: part.FileName(), ContentType: part.Header.Get("Content-Type"), Data: data})
		default:
			invalidForm(w, name, "UNKNOWN_FIELD", "Only payload_json and files[n] parts are accepted.")
			return p, nil, http.StatusBadRequest
		}
	}
	if !havePayload {
		invalidForm(w, "payload_json", "BASE_TYPE_REQUIRED", "This field is required.")
		return p, nil, http.StatusBadRequest
	}
	return p, files, 0
}

// nextPart reads the next part whole; io.EOF after the last.
func nextPart(mr *multipart.Reader) (*multipart.Part, []byte, error) {
	part, err := mr.NextPart()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(part)
	return part, data, err
}

func tooLarge(w http.ResponseWriter, err error) bool {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, 40005, "Request entity too large", nil)
		return true
	}
	return false
}

// matchAttachments pairs the attachments list with the files[n] parts and
// names each file after its entry. It returns what is wrong, or "".
func matchAttachments(p payload, files []File) string {
	if len(p.Attachments) == 0 {
		return ""
	}
	byIndex := map[string]*File{}
	for i := range files {
		byIndex[filesField.FindStringSubmatch(files[i].Field)[1]] = &files[i]
	}
	listed := map[string]bool{}
	for _, a := range p.Attachments {
		id := strings.Trim(string(a.ID), `"`)
		f, ok := byIndex[id]
		if !ok {
			return fmt.Sprintf("Attachment id %s has no files[%s] part.", id, id)
		}
		listed[id] = true
		if a.Filename != "" {
			f.Name = a.Filename
		}
		f.Description = a.Description
	}
	for id := range byIndex {
		if !listed[id] {
			return fmt.Sprintf("Part files[%s] is not listed in attachments.", id)
		}
	}
	return ""
}

// nonceString reads a nonce given as a JSON string or integer.
func nonceString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str, true
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// newID makes a snowflake: milliseconds since Discord's epoch (2015) in the
// high bits, kept increasing.
func (s *Server) newID() string {
	id := uint64(time.Now().UnixMilli()-1420070400000) << 22
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return strconv.FormatUint(id, 10)
}

// messageJSON renders m as Discord's REST message object, which, unlike the
// gateway's, carries no guild_id.
func (s *Server) messageJSON(m Message) map[string]any {
	atts := []map[string]any{}
	for i, f := range m.Files {
		url := fmt.Sprintf("%s/attachments/%s/%s%d/%s", s.ts.URL, m.ChannelID, m.ID, i, f.Name)
		att := map[string]any{"id": fmt.Sprintf("%s%d", m.ID, i), "filename": f.Name,
			"size": len(f.Data), "content_type": f.ContentType, "url": url, "proxy_url": url}
		if f.Description != "" {
			att["description"] = f.Description
		}
		atts = append(atts, att)
	}
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "type": 0, "content": m.Content,
		"author":      map[string]any{"id": BotUserID, "username": "panelcast", "bot": true},
		"attachments": atts, "embeds": []any{}, "mentions": []any{}, "mention_roles": []any{},
		"pinned": false, "mention_everyone": false, "tts": false, "flags": 0,
		"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "edited_timestamp": nil,
	}
	if m.Nonce != "" {
		out["nonce"] = m.Nonce
	}
	if m.ReplyTo != "" {
		out["type"] = 19
		out["message_reference"] = map[string]any{"type": 0, "channel_id": m.ChannelID, "message_id": m.ReplyTo}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, message string, errs any) {
	body := map[string]any{"code": code, "message": message}
	if errs != nil {
		body["errors"] = errs
	}
	writeJSON(w, status, body)
}

// invalidForm answers 400 with code 50035 and the per-field error tree.
func invalidForm(w http.ResponseWriter, field, code, message string) {
	writeError(w, http.StatusBadRequest, 50035, "Invalid Form Body", map[string]any{
		field: map[string]any{"_errors": []any{map[string]any{"code": code, "message": message}}},
	})
}

func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 || s[0] == '+' || s[0] == '-' {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
