// Package slackfake is a stand-in for Slack's Web API that holds callers to
// the documented contract Panelcast relies on: bot-token auth (Authorization
// header or POST body, never the query string), scopes per method, the
// three-step external upload (declared length must match the bytes, a file is
// completed once, at most 10 files per message), channel membership,
// conversations.list paging, files.info shares that appear only after a
// delay, chat.update of the bot's own messages, the text limit, and the
// documented rate limits (per-method tiers, about one message per second per
// channel) answered with 429 and Retry-After. It records every message that
// lands so tests can check the channel, text, thread and the uploaded
// pictures, and every call that came while its caller had been told to wait
// (Violations).
//
// Start one with New, point a client at APIURL, and Close it when done. All
// methods are safe for concurrent use.
package slackfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

// File is an uploaded file as it arrived.
type File struct {
	ID      string
	Name    string
	Title   string
	AltText string
	Data    []byte
}

// Message is a message that landed in a channel.
type Message struct {
	// Method is the API method that posted it: "chat.postMessage" or
	// "files.completeUploadExternal".
	Method    string
	ChannelID string
	TS        string
	// ThreadTS is the parent's ts for a thread reply, "" otherwise.
	ThreadTS string
	Text     string
	Files    []File
	// Edits counts successful chat.update calls; Foreign marks a message
	// another user wrote (MarkForeign).
	Edits   int
	Foreign bool
}

// Limits are the rate limits the fake enforces; a zero Limit is none.
type Limits struct {
	// Post is each channel's message rate (chat.postMessage, and uploads
	// shared into it).
	Post faults.Limit
	// Methods are the per-method tiers, by method name.
	Methods map[string]faults.Limit
}

// The documented tiers' floors, per method per workspace per app.
var (
	Tier2 = faults.Limit{N: 20, Per: time.Minute}
	Tier3 = faults.Limit{N: 50, Per: time.Minute}
	Tier4 = faults.Limit{N: 100, Per: time.Minute}
)

// DefaultLimits are Slack's documented limits, read strictly: the tiers'
// floors ("100+ per minute" is 100), and one message per second per
// channel without the "short bursts" Slack tolerates but does not promise.
// Uploads shared into a channel count as its messages.
var DefaultLimits = Limits{
	Post: faults.Limit{N: 1, Per: time.Second},
	Methods: map[string]faults.Limit{
		"conversations.list":           Tier2,
		"chat.update":                  Tier3,
		"files.getUploadURLExternal":   Tier4,
		"files.completeUploadExternal": Tier4,
		"files.info":                   Tier4,
	},
}

// AllScopes are the scopes a fully set-up Panelcast Slack app has.
var AllScopes = []string{"chat:write", "files:write", "files:read", "channels:read", "groups:read"}

// Default values of the knobs below.
const (
	DefaultShareDelay = 300 * time.Millisecond
	DefaultPageSize   = 100
	DefaultBotName    = "panelcast"
	// MaxFilesPerMessage: Slack documents no limit for
	// files.completeUploadExternal; its apps share at most 10 files in a
	// message (and more than 14 have been seen to fail), so the fake
	// refuses more than 10 with invalid_arguments.
	MaxFilesPerMessage = 10
	// MaxText is where Slack truncates a message's text; the fake refuses
	// longer text with msg_too_long.
	MaxText = 40000
)

// Fixed identities the fake reports from auth.test and in file records.
const (
	TeamID    = "T0FAKE0001"
	BotUserID = "U0FAKE0001"
	BotID     = "B0FAKE0001"
)

type channel struct {
	id, name                  string
	private, member, archived bool
}

type pendingUpload struct {
	id, name, alt string
	length        int
	data          []byte
	uploaded      bool
}

type sharedFile struct {
	File
	created   int64
	channelID string
	ts        string
	threadTS  string
	sharedAt  time.Time
}

// Server is a fake Slack Web API.
type Server struct {
	token string
	srv   *httptest.Server

	mu         sync.Mutex
	revoked    bool
	scopes     []string
	botName    string
	shareDelay time.Duration
	pageSize   int
	channels   []*channel
	pending    map[string]*pendingUpload
	files      map[string]*sharedFile
	messages   []Message
	calls      map[string]int
	nextID     int
	tsBase     int64
	tsSeq      int
	faults     faults.Injector
	limits     Limits
	limiter    faults.Limiter
	limited    int
}

// New starts a fake Slack that accepts token as its only valid bot token,
// with DefaultLimits.
func New(token string) *Server {
	s := &Server{
		token:      token,
		scopes:     slices.Clone(AllScopes),
		botName:    DefaultBotName,
		shareDelay: DefaultShareDelay,
		pageSize:   DefaultPageSize,
		pending:    map[string]*pendingUpload{},
		files:      map[string]*sharedFile{},
		calls:      map[string]int{},
		tsBase:     time.Now().Unix(),
		limits:     DefaultLimits,
	}
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the server's base URL, e.g. "http://127.0.0.1:4242".
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the Web API base with its trailing slash, as slack-go's
// OptionAPIURL wants it.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// AddChannel adds a public channel; member says whether the bot is in it.
func (s *Server) AddChannel(id, name string, member bool) {
	s.addChannel(&channel{id: id, name: name, member: member})
}

// AddPrivateChannel adds a private channel. Slack lists it to the bot only
// when the bot is a member.
func (s *Server) AddPrivateChannel(id, name string, member bool) {
	s.addChannel(&channel{id: id, name: name, member: member, private: true})
}

func (s *Server) addChannel(c *channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels = append(s.channels, c)
}

// SetMember invites the bot to (true) or removes it from (false) a channel.
func (s *Server) SetMember(id string, member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelByID(id); c != nil {
		c.member = member
	}
}

// Archive archives a channel: posts to it fail with is_archived.
func (s *Server) Archive(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelByID(id); c != nil {
		c.archived = true
	}
}

// SetScopes replaces the token's scopes (AllScopes by default).
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = slices.Clone(scopes)
}

// SetToken replaces the one valid bot token, as a corrected or rotated
// token does: calls with the old one fail with invalid_auth.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// RevokeToken makes every later call fail with token_revoked.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// SetBotName sets the bot user's name that auth.test reports.
func (s *Server) SetBotName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.botName = name
}

// SetShareDelay sets how long after files.completeUploadExternal the share
// (and so the message ts) shows in files.info. Real Slack takes a moment.
func (s *Server) SetShareDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shareDelay = d
}

// SetPageSize caps conversations.list pages below the caller's limit, to
// force paging with few channels.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = max(n, 1)
}

// SetLimits replaces the rate limits (DefaultLimits at first).
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// Violations are the calls that came while their caller had been told to
// wait by a 429.
func (s *Server) Violations() []faults.Violation { return s.limiter.Violations() }

// RateLimited counts the calls answered 429, injected ones included.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// MarkForeign makes the message with ts look written by another user: the
// bot may no longer update it.
func (s *Server) MarkForeign(ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.messages {
		if s.messages[i].TS == ts {
			s.messages[i].Foreign = true
		}
	}
}

// RateLimitNext makes the next n Web API calls answer HTTP 429 with
// Retry-After: retryAfter (whole seconds, rounded up) and error ratelimited.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// FailNext makes the next n Web API calls answer with an HTML page and the
// HTTP status (e.g. 503), as Slack does when it is down.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// Messages returns a copy of every message that landed, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Files = slices.Clone(m.Files)
		for j := range m.Files {
			m.Files[j].Data = slices.Clone(m.Files[j].Data)
		}
		out[i] = m
	}
	return out
}

// Calls says how often a Web API method (e.g. "conversations.list") was
// called, including calls that failed.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// ServeHTTP answers Web API calls under /api/, uploads under /upload/ and
// permalinks under /archives/ (archive.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	case strings.HasPrefix(r.URL.Path, "/upload/v1/"):
		s.serveUpload(w, r, strings.TrimPrefix(r.URL.Path, "/upload/v1/"))
	case strings.HasPrefix(r.URL.Path, "/archives/") && r.Method == http.MethodGet:
		s.serveArchive(w, r, strings.TrimPrefix(r.URL.Path, "/archives/"))
	default:
		http.NotFound(w, r)
	}
}

type apiError struct {
	status int
	code   string
	extra  map[string]any
}

func fail(code string) *apiError { return &apiError{status: http.StatusOK, code: code} }

type handler func(s *Server, r *http.Request, args url.Values) (map[string]any, *apiError)

// methods maps each Web API method to its handler and the scope it needs
// ("" for none; conversations.list checks scopes per type itself).
var methods = map[string]struct {
	scope string
	h     handler
}{
	"auth.test":                    {"", (*Server).authTest},
	"conversations.list":           {"", (*Server).conversationsList},
	"files.getUploadURLExternal":   {"files:write", (*Server).getUploadURL},
	"files.completeUploadExternal": {"files:write", (*Server).completeUpload},
	"files.info":                   {"files:read", (*Server).filesInfo},
	"chat.postMessage":             {"chat:write", (*Server).postMessage},
	"chat.update":                  {"chat:write", (*Server).updateMessage},
	"chat.getPermalink":            {"", (*Server).getPermalink},
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	// Read the body before taking the lock so a slow client stalls no one.
	args, bodyToken, argErr := readArgs(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++

	limited, wait, failStatus := s.faults.Next()
	if failStatus != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(failStatus)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", failStatus, http.StatusText(failStatus))
		return
	}
	if limited {
		s.limiter.Tell("*", wait)
		s.limited++
		tooMany(w, wait)
		return
	}
	if wait := s.limiter.Take(s.rules(method, args)...); wait > 0 {
		s.limited++
		tooMany(w, wait)
		return
	}

	m, known := methods[method]
	if !known {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	if argErr != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	if e := s.authenticate(r, bodyToken); e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("X-OAuth-Scopes", strings.Join(s.scopes, ","))
	if m.scope != "" {
		if e := s.needScope(m.scope); e != nil {
			writeError(w, e)
			return
		}
	}
	out, e := m.h(s, r, args)
	if e != nil {
		writeError(w, e)
		return
	}
	out["ok"] = true
	writeJSON(w, http.StatusOK, out)
}

// rules are the limits a call counts towards: its method's tier, a
// posting method also its channel's message rate. "*" carries injected
// rate limits, which hold back every call. s.mu is held.
func (s *Server) rules(method string, args url.Values) []faults.Rule {
	rules := []faults.Rule{{Key: "*"}, {Key: "method " + method, Limit: s.limits.Methods[method]}}
	channel := ""
	switch method {
	case "chat.postMessage":
		channel = args.Get("channel")
		if c := s.channelByName(strings.TrimPrefix(channel, "#")); c != nil {
			channel = c.id
		}
	case "files.completeUploadExternal":
		channel = args.Get("channel_id")
	}
	if channel != "" {
		rules = append(rules, faults.Rule{Key: "post " + channel, Limit: s.limits.Post})
	}
	return rules
}

// tooMany is Slack's 429: Retry-After in whole seconds, rounded up.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
}

// readArgs gathers arguments the ways Slack accepts them: query string,
// URL-encoded or multipart POST body, or a JSON body. Only a URL-encoded or
// multipart body may carry the token; a JSON body needs the header.
func readArgs(r *http.Request) (url.Values, string, error) {
	args := r.URL.Query()
	// Apps created since 2021 may not pass the token in the query string.
	args.Del("token")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var bodyToken string
	switch ct {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, "", err
		}
		bodyToken = r.PostForm.Get("token")
		mergeValues(args, r.PostForm)
	case "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return nil, "", err
		}
		if t := r.MultipartForm.Value["token"]; len(t) > 0 {
			bodyToken = t[0]
		}
		mergeValues(args, r.MultipartForm.Value)
	case "application/json":
		var body map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, "", err
		}
		for k, raw := range body {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				args.Set(k, str)
			} else {
				args.Set(k, string(raw))
			}
		}
	}
	args.Del("token")
	return args, bodyToken, nil
}

func mergeValues(dst url.Values, src map[string][]string) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

func (s *Server) authenticate(r *http.Request, bodyToken string) *apiError {
	tok := bodyToken
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return fail("invalid_auth")
		}
		tok = strings.TrimSpace(rest)
	}
	switch {
	case tok == "":
		return fail("not_authed")
	case tok != s.token:
		return fail("invalid_auth")
	case s.revoked:
		return fail("token_revoked")
	}
	return nil
}

func (s *Server) needScope(scope string) *apiError {
	if slices.Contains(s.scopes, scope) {
		return nil
	}
	return &apiError{status: http.StatusOK, code: "missing_scope",
		extra: map[string]any{"needed": scope, "provided": strings.Join(s.scopes, ",")}}
}

func (s *Server) authTest(r *http.Request, _ url.Values) (map[string]any, *apiError) {
	return map[string]any{
		"url":     baseURL(r) + "/",
		"team":    "Panelcast Test",
		"user":    s.botName,
		"team_id": TeamID,
		"user_id": BotUserID,
		"bot_id":  BotID,
	}, nil
}

var scopeForType = map[string]string{
	"public_channel":  "channels:read",
	"private_channel": "groups:read",
	"mpim":            "mpim:read",
	"im":              "im:read",
}

func (s *Server) conversationsList(_ *http.Request, args url.Values) (map[string]any, *apiError) {
	types := []string{"public_channel"}
	if t := args.Get("types"); t != "" {
		types = strings.Split(t, ",")
	}
	for _, t := range types {
		scope, ok := scopeForType[strings.TrimSpace(t)]
		if !ok {
			return nil, fail("invalid_types")
		}
		if e := s.needScope(scope); e != nil {
			return nil, e
		}
	}
	wantPublic := slices.Contains(types, "public_channel")
	wantPrivate := slices.Contains(types, "private_channel")
	excludeArchived := args.Get("exclude_archived") == "true" || args.Get("exclude_archived") == "1"

	limit := 100
	if l := args.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return nil, fail("invalid_limit")
		}
		limit = min(n, 1000)
	}
	limit = min(limit, s.pageSize)

	offset := 0
	if c := args.Get("cursor"); c != "" {
		n, ok := decodeCursor(c)
		if !ok {
			return nil, fail("invalid_cursor")
		}
		offset = n
	}

	var visible []*channel
	for _, c := range s.channels {
		switch {
		case excludeArchived && c.archived:
		case c.private && wantPrivate && c.member:
			visible = append(visible, c)
		case !c.private && wantPublic:
			visible = append(visible, c)
		}
	}
	if offset > len(visible) {
		return nil, fail("invalid_cursor")
	}
	end := min(offset+limit, len(visible))
	page := make([]map[string]any, 0, end-offset)
	for _, c := range visible[offset:end] {
		page = append(page, map[string]any{
			"id": c.id, "name": c.name, "name_normalized": c.name,
			"is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
			"is_private": c.private, "is_archived": c.archived, "is_member": c.member,
			"created": s.tsBase,
		})
	}
	next := ""
	if end < len(visible) {
		next = encodeCursor(end)
	}
	return map[string]any{"channels": page, "response_metadata": map[string]any{"next_cursor": next}}, nil
}

// Cursors are opaque to callers, like Slack's; this one hides an offset.
func encodeCursor(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, bool) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
	if err != nil || n < 0 || !strings.HasPrefix(string(raw), "offset:") {
		return 0, false
	}
	return n, true
}

func (s *Server) getUploadURL(r *http.Request, args url.Values) (map[string]any, *apiError) {
	name := args.Get("filename")
	if name == "" {
		return nil, fail("invalid_arguments")
	}
	length, err := strconv.Atoi(args.Get("length"))
	switch {
	case err != nil || length < 0:
		return nil, fail("invalid_arguments")
	case length == 0:
		// Slack's documented answer to a length of 0.
		return nil, fail("missing_argument")
	}
	if len([]rune(args.Get("alt_txt"))) > 1000 {
		return nil, fail("alt_txt_too_large")
	}
	id := s.newID("F")
	s.pending[id] = &pendingUpload{id: id, name: name, length: length, alt: args.Get("alt_txt")}
	return map[string]any{"upload_url": baseURL(r) + "/upload/v1/" + id, "file_id": id}, nil
}

// serveUpload takes the bytes for a file, raw or as a multipart form, as
// Slack's upload URL does. It needs no token: the URL itself is the grant.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPost {
		http.Error(w, "upload with POST", http.StatusMethodNotAllowed)
		return
	}
	data, err := readUploadBody(r)
	if err != nil {
		http.Error(w, "unreadable upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[id]
	switch {
	case p == nil:
		http.Error(w, "no such upload", http.StatusNotFound)
	case p.uploaded:
		http.Error(w, "this upload URL was already used", http.StatusBadRequest)
	case len(data) != p.length:
		http.Error(w, fmt.Sprintf("declared length %d, received %d bytes", p.length, len(data)), http.StatusBadRequest)
	default:
		p.data, p.uploaded = data, true
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "OK - %d", len(data))
	}
}

func readUploadBody(r *http.Request) ([]byte, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return io.ReadAll(r.Body)
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file part in the multipart body: %w", err)
		}
		if part.FileName() != "" || part.FormName() == "file" {
			return io.ReadAll(part)
		}
	}
}

var channelIDPattern = regexp.MustCompile(`^[CGDZ][A-Z0-9]{8,}$`)

func (s *Server) completeUpload(_ *http.Request, args url.Values) (map[string]any, *apiError) {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(args.Get("files")), &list); err != nil || len(list) == 0 || len(list) > MaxFilesPerMessage {
		return nil, fail("invalid_arguments")
	}
	if utf16Len(args.Get("initial_comment")) > MaxText {
		return nil, fail("msg_too_long")
	}
	var targets []string
	if c := args.Get("channel_id"); c != "" {
		targets = append(targets, c)
	}
	if cs := args.Get("channels"); cs != "" {
		targets = append(targets, strings.Split(cs, ",")...)
	}
	threadTS := args.Get("thread_ts")
	if threadTS != "" && len(targets) != 1 {
		return nil, fail("invalid_arguments")
	}
	for _, id := range targets {
		if !channelIDPattern.MatchString(id) {
			return nil, fail("invalid_arguments")
		}
		if e := s.canPost(id, threadTS); e != nil {
			return nil, e
		}
	}
	var files []File
	for _, f := range list {
		p := s.pending[f.ID]
		if p == nil || !p.uploaded {
			return nil, fail("file_not_found")
		}
		files = append(files, File{ID: p.id, Name: p.name, Title: f.Title, AltText: p.alt, Data: p.data})
	}
	out := make([]map[string]any, 0, len(files))
	for _, f := range files {
		// Completion is once only: the pending upload is used up.
		delete(s.pending, f.ID)
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	for _, ch := range targets {
		m := s.post("files.completeUploadExternal", ch, threadTS, args.Get("initial_comment"), files)
		for _, f := range files {
			s.files[f.ID] = &sharedFile{File: f, created: time.Now().Unix(), channelID: ch,
				ts: m.TS, threadTS: threadTS, sharedAt: time.Now().Add(s.shareDelay)}
		}
	}
	if len(targets) == 0 {
		// Without a channel the file stays private to the bot.
		for _, f := range files {
			s.files[f.ID] = &sharedFile{File: f, created: time.Now().Unix()}
		}
	}
	return map[string]any{"files": out}, nil
}

// canPost checks that the bot may post into channel id, optionally as a
// reply to threadTS.
func (s *Server) canPost(id, threadTS string) *apiError {
	c := s.channelByID(id)
	switch {
	case c == nil || (c.private && !c.member):
		return fail("channel_not_found")
	case !c.member:
		return fail("not_in_channel")
	case c.archived:
		return fail("is_archived")
	}
	if threadTS == "" {
		return nil
	}
	// Slack says to thread under the parent's ts, never a reply's.
	for _, m := range s.messages {
		if m.ChannelID == id && m.TS == threadTS && m.ThreadTS == "" {
			return nil
		}
	}
	return fail("invalid_thread_ts")
}

func (s *Server) post(method, channelID, threadTS, text string, files []File) Message {
	s.tsSeq++
	m := Message{
		Method: method, ChannelID: channelID, ThreadTS: threadTS, Text: text, Files: files,
		TS: fmt.Sprintf("%d.%06d", s.tsBase, s.tsSeq),
	}
	s.messages = append(s.messages, m)
	return m
}

func (s *Server) filesInfo(r *http.Request, args url.Values) (map[string]any, *apiError) {
	f := s.files[args.Get("file")]
	if f == nil {
		return nil, fail("file_not_found")
	}
	shares := map[string]any{}
	channels, groups := []string{}, []string{}
	if f.channelID != "" && !time.Now().Before(f.sharedAt) {
		c := s.channelByID(f.channelID)
		share := map[string]any{"ts": f.ts, "channel_name": c.name, "team_id": TeamID,
			"reply_users": []string{}, "reply_users_count": 0, "reply_count": 0}
		if f.threadTS != "" {
			share["thread_ts"] = f.threadTS
		}
		entry := map[string]any{f.channelID: []any{share}}
		if c.private {
			shares["private"] = entry
			groups = append(groups, f.channelID)
		} else {
			shares["public"] = entry
			channels = append(channels, f.channelID)
		}
	}
	base := baseURL(r)
	file := map[string]any{
		"id": f.ID, "created": f.created, "timestamp": f.created,
		"name": f.Name, "title": f.Title, "mimetype": http.DetectContentType(f.Data),
		"size": len(f.Data), "user": BotUserID, "mode": "hosted", "is_external": false,
		"url_private": base + "/files-pri/" + TeamID + "-" + f.ID + "/" + f.Name,
		"permalink":   base + "/files/" + BotUserID + "/" + f.ID + "/" + f.Name,
		"channels":    channels, "groups": groups, "ims": []string{},
		"shares": shares, "comments_count": 0,
	}
	return map[string]any{"file": file, "comments": []any{},
		"paging": map[string]any{"count": 100, "total": 0, "page": 1, "pages": 0}}, nil
}

func (s *Server) postMessage(_ *http.Request, args url.Values) (map[string]any, *apiError) {
	id := args.Get("channel")
	// chat.postMessage also takes a channel name.
	if c := s.channelByName(strings.TrimPrefix(id, "#")); c != nil {
		id = c.id
	}
	if id == "" {
		return nil, fail("channel_not_found")
	}
	text := args.Get("text")
	if text == "" && args.Get("blocks") == "" && args.Get("attachments") == "" {
		return nil, fail("no_text")
	}
	if utf16Len(text) > MaxText {
		return nil, fail("msg_too_long")
	}
	threadTS := args.Get("thread_ts")
	if e := s.canPost(id, threadTS); e != nil {
		return nil, e
	}
	m := s.post("chat.postMessage", id, threadTS, text, nil)
	msg := map[string]any{"type": "message", "text": text, "ts": m.TS, "user": BotUserID, "bot_id": BotID}
	if threadTS != "" {
		msg["thread_ts"] = threadTS
	}
	return map[string]any{"channel": id, "ts": m.TS, "message": msg}, nil
}

// updateMessage is chat.update: the bot's own message in a channel, by
// channel id and ts, gets new text; its files stay.
func (s *Server) updateMessage(_ *http.Request, args url.Values) (map[string]any, *apiError) {
	id, ts, text := args.Get("channel"), args.Get("ts"), args.Get("text")
	c := s.channelByID(id)
	switch {
	case c == nil || (c.private && !c.member):
		return nil, fail("channel_not_found")
	case c.archived:
		return nil, fail("is_inactive")
	case text == "" && args.Get("blocks") == "" && args.Get("attachments") == "":
		return nil, fail("no_text")
	case utf16Len(text) > MaxText:
		return nil, fail("msg_too_long")
	}
	for i := range s.messages {
		m := &s.messages[i]
		if m.ChannelID != id || m.TS != ts {
			continue
		}
		if m.Foreign {
			return nil, fail("cant_update_message")
		}
		m.Text = text
		m.Edits++
		return map[string]any{"channel": id, "ts": ts, "text": text,
			"message": map[string]any{"type": "message", "text": text, "user": BotUserID, "bot_id": BotID, "edited": map[string]any{"user": BotUserID}}}, nil
	}
	return nil, fail("message_not_found")
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func (s *Server) getPermalink(r *http.Request, args url.Values) (map[string]any, *apiError) {
	id, ts := args.Get("channel"), args.Get("message_ts")
	if c := s.channelByID(id); c == nil || (c.private && !c.member) {
		return nil, fail("channel_not_found")
	}
	for _, m := range s.messages {
		if m.ChannelID != id || m.TS != ts {
			continue
		}
		link := baseURL(r) + "/archives/" + id + "/p" + strings.ReplaceAll(ts, ".", "")
		if m.ThreadTS != "" {
			link += "?thread_ts=" + m.ThreadTS + "&cid=" + id
		}
		return map[string]any{"channel": id, "permalink": link}, nil
	}
	return nil, fail("message_not_found")
}

func (s *Server) channelByID(id string) *channel {
	for _, c := range s.channels {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (s *Server) channelByName(name string) *channel {
	for _, c := range s.channels {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (s *Server) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s%09d", prefix, s.nextID)
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error": e.code}
	for k, v := range e.extra {
		body[k] = v
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
