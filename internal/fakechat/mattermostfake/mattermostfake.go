// Package mattermostfake is a stand-in for the Mattermost API v4 calls
// Panelcast makes, holding callers to the server's contract: a Bearer (or
// Token) access token, team and channel membership, channels by team and
// name, multipart file uploads with the server's size limit, posts whose
// file_ids attach only the caller's unattached uploads in the same channel
// (others are dropped silently, as the server does), thread roots that exist
// in the same channel, at most 5 files per post, patches of the bot's own
// posts, and the rate limiter: X-RateLimit-Limit, -Remaining and -Reset on
// every answer, and 429 "limit exceeded" (plain text) with Retry-After when
// a client goes over. Errors are the server's JSON app errors. It records
// every post so tests can check the channel, text, thread and the uploaded
// pictures, and every request that came while its caller had been told to
// wait (Violations).
//
// Start one with New and Close it when done. All methods are safe for
// concurrent use.
package mattermostfake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

// Routes, as Calls counts them.
const (
	RouteMe            = "GET /api/v4/users/me"
	RouteTeamByName    = "GET /api/v4/teams/name/{team}"
	RouteChannelByName = "GET /api/v4/teams/name/{team}/channels/name/{channel}"
	RouteUploadFile    = "POST /api/v4/files"
	RouteCreatePost    = "POST /api/v4/posts"
	RoutePatchPost     = "PUT /api/v4/posts/{post_id}/patch"
)

// Limits the server enforces.
const (
	DefaultMaxFileSize = 100 << 20 // Mattermost's default MaxFileSize
	MaxFilesPerPost    = 5         // as the API reference documents file_ids
	MaxMessageRunes    = 16383
)

// DefaultRateLimit is the rate limiter's documented default of 10
// requests per second, read strictly: Mattermost adds a burst of 100
// (MaxBurst) on top, which the fake does not grant. The real limiter is
// off unless an admin enables it, and then counts per client address.
var DefaultRateLimit = faults.Limit{N: 10, Per: time.Second}

// BotUsername is the name users/me reports.
const BotUsername = "panelcast"

// File is an uploaded file as it arrived.
type File struct {
	ID   string
	Name string
	Data []byte
}

// Message is a post that was created.
type Message struct {
	PostID    string
	ChannelID string
	// RootID is the thread's root post for a reply, "" otherwise.
	RootID string
	Text   string
	// Files are the uploads that attached to the post.
	Files []File
	// PendingPostID is what the client sent, if anything.
	PendingPostID string
	// Edits counts successful patches; Foreign marks a post another user
	// wrote (MarkForeign); Deleted is set by DeletePost.
	Edits            int
	Foreign, Deleted bool
}

type channel struct {
	id, name string
	private  bool
	member   bool
}

type fileInfo struct {
	File
	channelID string
	postID    string
	created   int64
}

// Server is a fake Mattermost server.
type Server struct {
	token    string
	teamName string
	teamID   string
	botID    string
	srv      *httptest.Server
	mux      *http.ServeMux

	mu          sync.Mutex
	teamMember  bool
	channels    []*channel
	files       map[string]*fileInfo
	posts       []Message
	maxFileSize int64
	calls       map[string]int
	faults      faults.Injector
	rateLimit   faults.Limit
	limiter     faults.Limiter
}

// New starts a fake Mattermost with one team, teamName, of which the bot
// (authenticating with token) is a member, with the rate limiter on at
// DefaultRateLimit.
func New(token, teamName string) *Server {
	s := &Server{
		token: token, teamName: teamName, teamID: NewID(), botID: NewID(),
		teamMember: true, files: map[string]*fileInfo{}, calls: map[string]int{},
		maxFileSize: DefaultMaxFileSize, rateLimit: DefaultRateLimit,
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(RouteMe, s.me)
	s.mux.HandleFunc(RouteTeamByName, s.teamByName)
	s.mux.HandleFunc(RouteChannelByName, s.channelByName)
	s.mux.HandleFunc(RouteUploadFile, s.uploadFile)
	s.mux.HandleFunc(RouteCreatePost, s.createPost)
	s.mux.HandleFunc(RoutePatchPost, s.patchPost)
	s.srv = httptest.NewServer(s)
	return s
}

// NewID makes an id in Mattermost's form: 26 lower-case letters and digits.
func NewID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 26)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// URL is the server's base URL (what Panelcast's mattermost_url names).
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// TeamName is the team given to New.
func (s *Server) TeamName() string { return s.teamName }

// AddChannel adds a public channel to the team; member says whether the
// bot is in it. An empty id gets a fresh one; the id is returned.
func (s *Server) AddChannel(id, name string, member bool) string {
	return s.addChannel(id, name, member, false)
}

// AddPrivateChannel adds a private channel, which the server hides from
// non-members.
func (s *Server) AddPrivateChannel(id, name string, member bool) string {
	return s.addChannel(id, name, member, true)
}

func (s *Server) addChannel(id, name string, member, private bool) string {
	if id == "" {
		id = NewID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels = append(s.channels, &channel{id: id, name: name, member: member, private: private})
	return id
}

// SetMember adds the bot to (true) or removes it from (false) a channel.
func (s *Server) SetMember(channelID string, member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelByID(channelID); c != nil {
		c.member = member
	}
}

// SetTeamMember adds the bot to (true) or removes it from (false) the team.
func (s *Server) SetTeamMember(member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.teamMember = member
}

// SetMaxFileSize sets the server's FileSettings.MaxFileSize in bytes.
func (s *Server) SetMaxFileSize(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxFileSize = n
}

// SetRateLimit sets the rate limiter (DefaultRateLimit at first); the zero
// Limit turns it off, as on a server where it is not enabled.
func (s *Server) SetRateLimit(l faults.Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = l
}

// Violations are the requests that came while their caller had been told
// to wait: by a 429, or by an answer announcing X-RateLimit-Remaining 0.
func (s *Server) Violations() []faults.Violation { return s.limiter.Violations() }

// MarkForeign makes a post look written by another user: the bot may no
// longer patch it.
func (s *Server) MarkForeign(postID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.postByID(postID); p != nil {
		p.Foreign = true
	}
}

// DeletePost deletes a post: patches of it fail.
func (s *Server) DeletePost(postID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.postByID(postID); p != nil {
		p.Deleted = true
	}
}

// RateLimitNext makes the next n API calls answer 429 as the server's rate
// limiter does: a plain-text "limit exceeded" with Retry-After and
// X-RateLimit-Reset in whole seconds (rounded up).
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// FailNext makes the next n API calls answer with status (e.g. 502) and an
// HTML page, as a proxy in front of a down server does.
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// Messages returns a copy of every post created, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.posts))
	for i, m := range s.posts {
		m.Files = slices.Clone(m.Files)
		for j := range m.Files {
			m.Files[j].Data = slices.Clone(m.Files[j].Data)
		}
		out[i] = m
	}
	return out
}

// Calls says how often a route (one of the Route constants) was called,
// including calls that failed.
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// ServeHTTP applies injected failures, rate limits and authentication, then
// routes the call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	w.Header().Set("X-Request-Id", NewID())
	w.Header().Set("X-Version-Id", "10.0.0.fake")

	s.mu.Lock()
	s.calls[pattern]++
	limit := s.rateLimit
	s.mu.Unlock()
	if s.limited(w, limit) {
		return
	}
	limited, wait, status := s.faults.Next()
	if status != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
		return
	}
	if limited {
		s.limiter.Tell("client", wait)
		tooMany(w, 10, wait)
		return
	}

	if !strings.HasPrefix(r.URL.Path, "/api/v4/") || pattern == "" {
		appError(w, http.StatusNotFound, "api.context.404.app_error", "Sorry, we could not find the page.", "")
		return
	}
	if tok := authToken(r); tok == "" {
		appError(w, http.StatusUnauthorized, "api.context.session_expired.app_error",
			"Invalid or expired session, please login again.", "")
		return
	} else if tok != s.token {
		// The real server puts the rejected token into detailed_error, so
		// clients must never show that field.
		appError(w, http.StatusUnauthorized, "api.context.session_expired.app_error",
			"Invalid or expired session, please login again.", "token="+tok)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// limited applies the rate limiter, as the server does before any route:
// it sets X-RateLimit-* on every answer and refuses with 429 over the
// limit. An answer announcing Remaining 0 tells the client to wait for
// the reset.
func (s *Server) limited(w http.ResponseWriter, l faults.Limit) bool {
	if l.N <= 0 || l.Per <= 0 {
		return false
	}
	rule := faults.Rule{Key: "client", Limit: l}
	if wait := s.limiter.Take(rule); wait > 0 {
		tooMany(w, l.N, wait)
		return true
	}
	remaining, reset := s.limiter.State(rule.Key, l)
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.N))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(int(math.Ceil(reset.Seconds()))))
	if remaining == 0 {
		s.limiter.Tell(rule.Key, reset)
	}
	return false
}

// tooMany is the limiter's refusal: plain text, whole seconds rounded up.
func tooMany(w http.ResponseWriter, n int, wait time.Duration) {
	secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(n))
	w.Header().Set("X-RateLimit-Remaining", "0")
	w.Header().Set("X-RateLimit-Reset", secs)
	w.Header().Set("Retry-After", secs)
	http.Error(w, "limit exceeded", http.StatusTooManyRequests)
}

// authToken reads the token the way the server does from a header:
// "Bearer <token>" or "Token <token>", either case.
func authToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.botID, "username": BotUsername, "is_bot": true, "roles": "system_user",
	})
}

func (s *Server) teamByName(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PathValue("team") != s.teamName {
		appError(w, http.StatusNotFound, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.", "")
		return
	}
	if !s.teamMember {
		permissionError(w, "view_team")
		return
	}
	writeJSON(w, http.StatusOK, s.teamJSON())
}

func (s *Server) teamJSON() map[string]any {
	return map[string]any{"id": s.teamID, "name": s.teamName, "display_name": s.teamName, "type": "I"}
}

func (s *Server) channelByName(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PathValue("team") != s.teamName {
		appError(w, http.StatusNotFound, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.", "")
		return
	}
	var c *channel
	for _, ch := range s.channels {
		if ch.name == r.PathValue("channel") {
			c = ch
		}
	}
	switch {
	case c == nil, c.private && !c.member:
		// Private channels are hidden from non-members behind a 404.
		appError(w, http.StatusNotFound, "app.channel.get_by_name.missing.app_error", "Unable to find the existing channel.", "")
	case !c.private && !c.member && !s.teamMember:
		permissionError(w, "read_public_channel")
	default:
		typ := "O"
		if c.private {
			typ = "P"
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": c.id, "team_id": s.teamID, "type": typ, "name": c.name, "display_name": c.name,
		})
	}
}

func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 {
		appError(w, http.StatusBadRequest, "api.file.upload_file.read_request.app_error",
			"Unable to upload file(s). Error reading or parsing request data.", "Content-Length should not be 0")
		return
	}
	up, perr := readUpload(r)
	if perr != nil {
		perr.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelByID(up.channelID); c == nil || !c.member {
		permissionError(w, "upload_file")
		return
	}
	for _, f := range up.files {
		if int64(len(f.Data)) > s.maxFileSize {
			appError(w, http.StatusRequestEntityTooLarge, "api.file.upload_file.too_large_detailed.app_error",
				fmt.Sprintf("Unable to upload file %s. %d bytes exceeds the maximum allowed %d bytes.", f.Name, len(f.Data), s.maxFileSize), "")
			return
		}
	}
	infos := make([]map[string]any, 0, len(up.files))
	for _, f := range up.files {
		fi := &fileInfo{File: File{ID: NewID(), Name: f.Name, Data: f.Data}, channelID: up.channelID, created: time.Now().UnixMilli()}
		s.files[fi.ID] = fi
		infos = append(infos, map[string]any{
			"id": fi.ID, "user_id": s.botID, "post_id": "", "channel_id": up.channelID,
			"create_at": fi.created, "update_at": fi.created, "delete_at": 0,
			"name": f.Name, "extension": strings.TrimPrefix(path.Ext(f.Name), "."),
			"size": len(f.Data), "mime_type": http.DetectContentType(f.Data),
		})
	}
	clientIDs := up.clientIDs
	if clientIDs == nil {
		clientIDs = []string{}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"file_infos": infos, "client_ids": clientIDs})
}

type upload struct {
	channelID string
	clientIDs []string
	files     []File
}

type requestError struct {
	status            int
	id, msg, detailed string
}

func (e *requestError) write(w http.ResponseWriter) { appError(w, e.status, e.id, e.msg, e.detailed) }

func invalidParam(name string) *requestError {
	return &requestError{status: http.StatusBadRequest, id: "api.context.invalid_body_param.app_error",
		msg: "Invalid or missing " + name + " in request body."}
}

// readUpload reads both documented request forms: multipart with
// channel_id, optional client_ids and "files" parts; or channel_id and
// filename in the query with the file as the body.
func readUpload(r *http.Request) (*upload, *requestError) {
	up := &upload{channelID: r.URL.Query().Get("channel_id")}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" {
		name := r.URL.Query().Get("filename")
		if name == "" {
			return nil, &requestError{status: http.StatusBadRequest, id: "api.context.invalid_url_param.app_error",
				msg: "Invalid or missing filename parameter in request URL."}
		}
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, &requestError{status: http.StatusBadRequest, id: "api.file.upload_file.read_request.app_error",
				msg: "Unable to upload file(s). Error reading or parsing request data.", detailed: err.Error()}
		}
		up.files = []File{{Name: name, Data: data}}
		return up, validChannel(up)
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &requestError{status: http.StatusBadRequest, id: "api.file.upload_file.read_request.app_error",
				msg: "Unable to upload file(s). Error reading or parsing request data.", detailed: err.Error()}
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, &requestError{status: http.StatusBadRequest, id: "api.file.upload_file.read_request.app_error",
				msg: "Unable to upload file(s). Error reading or parsing request data.", detailed: err.Error()}
		}
		switch {
		case part.FileName() != "" && part.FormName() == "files":
			up.files = append(up.files, File{Name: part.FileName(), Data: data})
		case part.FileName() != "":
			return nil, invalidParam(part.FormName())
		case part.FormName() == "channel_id":
			if up.channelID != "" && up.channelID != string(data) {
				return nil, &requestError{status: http.StatusBadRequest, id: "api.file.upload_file.multiple_channel_ids.app_error",
					msg: "Unable to upload file(s). Multiple conflicting channel_ids."}
			}
			up.channelID = string(data)
		case part.FormName() == "client_ids":
			up.clientIDs = append(up.clientIDs, string(data))
		default:
			return nil, invalidParam(part.FormName())
		}
	}
	if len(up.clientIDs) != 0 && len(up.clientIDs) != len(up.files) {
		return nil, &requestError{status: http.StatusBadRequest, id: "api.file.upload_file.incorrect_number_of_client_ids.app_error",
			msg: fmt.Sprintf("Unable to upload file(s). Have %d client_ids for %d files.", len(up.clientIDs), len(up.files))}
	}
	if len(up.files) == 0 {
		return nil, invalidParam("files")
	}
	return up, validChannel(up)
}

func validChannel(up *upload) *requestError {
	if !isID(up.channelID) {
		return &requestError{status: http.StatusBadRequest, id: "api.context.invalid_url_param.app_error",
			msg: "Invalid or missing channel_id parameter in request URL."}
	}
	return nil
}

func isID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ChannelID     string   `json:"channel_id"`
		Message       string   `json:"message"`
		RootID        string   `json:"root_id"`
		FileIDs       []string `json:"file_ids"`
		PendingPostID string   `json:"pending_post_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		invalidParam("post").write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelByID(in.ChannelID); c == nil || !c.member {
		permissionError(w, "create_post")
		return
	}
	if in.RootID != "" {
		root := s.postByID(in.RootID)
		switch {
		case root == nil || root.RootID != "":
			appError(w, http.StatusBadRequest, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.", "")
			return
		case root.ChannelID != in.ChannelID:
			appError(w, http.StatusBadRequest, "api.post.create_post.channel_root_id.app_error",
				"Invalid ChannelId for RootId parameter.", "")
			return
		}
	}
	if len(in.FileIDs) > MaxFilesPerPost {
		appError(w, http.StatusBadRequest, "model.post.is_valid.file_ids.app_error", "Invalid file ids.", "")
		return
	}
	if utf8.RuneCountInString(in.Message) > MaxMessageRunes {
		appError(w, http.StatusBadRequest, "model.post.is_valid.message_length.app_error",
			fmt.Sprintf("Message property length is greater than the maximum allowed %d characters.", MaxMessageRunes), "")
		return
	}
	m := Message{PostID: NewID(), ChannelID: in.ChannelID, RootID: in.RootID, Text: in.Message, PendingPostID: in.PendingPostID}
	attached := []string{}
	for _, id := range in.FileIDs {
		// As on the server, a file that is not the poster's own unattached
		// upload in this channel is dropped without an error.
		f := s.files[id]
		if f == nil || f.postID != "" || f.channelID != in.ChannelID {
			continue
		}
		f.postID = m.PostID
		m.Files = append(m.Files, f.File)
		attached = append(attached, id)
	}
	s.posts = append(s.posts, m)
	now := time.Now().UnixMilli()
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": m.PostID, "create_at": now, "update_at": now, "delete_at": 0, "edit_at": 0,
		"user_id": s.botID, "channel_id": m.ChannelID, "root_id": m.RootID, "message": m.Text,
		"type": "", "props": map[string]any{}, "hashtags": "", "file_ids": attached,
		"pending_post_id": m.PendingPostID, "metadata": map[string]any{},
	})
}

// patchPost applies PUT /posts/{post_id}/patch: the bot may change the
// message of its own posts; files stay unless file_ids is given.
func (s *Server) patchPost(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message *string `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		invalidParam("post").write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.postByID(r.PathValue("post_id"))
	switch {
	case p == nil || p.Deleted:
		appError(w, http.StatusNotFound, "app.post.get.app_error", "Unable to get the post.", "")
		return
	case p.Foreign:
		permissionError(w, "edit_others_posts")
		return
	case in.Message != nil && utf8.RuneCountInString(*in.Message) > MaxMessageRunes:
		appError(w, http.StatusBadRequest, "model.post.is_valid.message_length.app_error",
			fmt.Sprintf("Message property length is greater than the maximum allowed %d characters.", MaxMessageRunes), "")
		return
	}
	if in.Message != nil {
		p.Text = *in.Message
	}
	p.Edits++
	now := time.Now().UnixMilli()
	ids := []string{}
	for _, f := range p.Files {
		ids = append(ids, f.ID)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": p.PostID, "update_at": now, "edit_at": now, "delete_at": 0, "user_id": s.botID,
		"channel_id": p.ChannelID, "root_id": p.RootID, "message": p.Text, "file_ids": ids,
	})
}

func (s *Server) channelByID(id string) *channel {
	for _, c := range s.channels {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (s *Server) postByID(id string) *Message {
	for i := range s.posts {
		if s.posts[i].PostID == id {
			return &s.posts[i]
		}
	}
	return nil
}

func permissionError(w http.ResponseWriter, permission string) {
	appError(w, http.StatusForbidden, "api.context.permissions.app_error",
		"You do not have the appropriate permissions.", "permission="+permission)
}

// appError writes the server's error shape.
func appError(w http.ResponseWriter, status int, id, msg, detailed string) {
	writeJSON(w, status, map[string]any{
		"id": id, "message": msg, "detailed_error": detailed,
		"request_id": w.Header().Get("X-Request-Id"), "status_code": status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
