// Package mattermost posts Panelcast messages to Mattermost (API v4) with a
// bot or personal access token: the picture is uploaded to /api/v4/files and
// attached to a post, so nothing needs a public URL.
package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

// maxAnswer caps how much of an answer is read; Mattermost's are small.
const maxAnswer = 1 << 20

const (
	// MaxFiles is how many files one post takes, as the API reference
	// documents for file_ids (the server itself checks only that the ids'
	// JSON stays within 300 characters, about 10).
	MaxFiles = 5
	// MaxMessage is a post's longest message in characters (the server's
	// PostMessageMaxRunesV2; older databases allow only 4000).
	MaxMessage = 16383
)

// Config configures a Sender.
type Config struct {
	// URL is the server's base URL, e.g. https://chat.example.com.
	URL string
	// Token is a bot or personal access token.
	Token string
	// Team is the team's URL name; channel names and permalinks need it.
	Team string
	// HTTPClient makes the requests; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger receives debug lines and warnings; default slog.Default().
	Logger *slog.Logger
	// Pace holds what the server announced about its limiter; nil keeps
	// it in this Sender. Replicas posting with one token share one.
	Pace chat.PaceState
}

// Sender posts to Mattermost. It is safe for concurrent use.
type Sender struct {
	base   string
	token  string
	team   string
	client *http.Client
	log    *slog.Logger

	pacer    chat.Pacer
	mu       sync.Mutex
	channels map[string]string // channel name → id
}

var _ chat.Sender = (*Sender)(nil)

// New checks cfg and returns a Sender. It makes no request.
func New(cfg Config) (*Sender, error) {
	token := strings.TrimSpace(cfg.Token)
	if token == "" {
		return nil, errors.New("mattermost: no token: set mattermost_token to a bot or personal access token")
	}
	base := strings.TrimRight(strings.TrimSpace(cfg.URL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mattermost: URL %q is not an http(s) URL: set mattermost_url like https://chat.example.com", cfg.URL)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Sender{
		base: base, token: token, team: strings.TrimSpace(cfg.Team), client: client,
		log: log.With("provider", "mattermost"), channels: map[string]string{}, pacer: chat.Pacer{Provider: "mattermost", Bot: chat.BotID(base, token), State: cfg.Pace},
	}, nil
}

// Name is "mattermost".
func (s *Sender) Name() string { return "mattermost" }

// Limits: 5 files and 16383 characters per post.
func (s *Sender) Limits() chat.Limits {
	return chat.Limits{MaxImages: MaxFiles, MaxText: MaxMessage, EditsRoot: true}
}

// Send uploads the pictures, if any, in one request and creates a post
// that carries them, as a reply when m.ThreadID is set. The message is
// Markdown either way; longer than MaxMessage it is cut (at a line break
// with m.Markup). m.IdempotencyKey is not sent: the API reference
// documents no deduplication (the server's pending_post_id cache is
// undocumented and per node).
//
// With m.RootText and m.ThreadID, the thread's root post gets RootText as
// its message once the reply is out (PUT /posts/{id}/patch; its files
// stay); a failed edit comes back with the receipt (see chat.EditFailed).
//
// Mattermost's rate limiter, when enabled, announces X-RateLimit-Remaining
// and X-RateLimit-Reset on every answer: requests then go one at a time
// and wait for the reset when none are left.
func (s *Sender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	if len(m.Images) == 0 && strings.TrimSpace(m.Text) == "" {
		return chat.Receipt{}, &chat.Error{Provider: "mattermost", Code: "no_text",
			Hint: "the message has neither text nor a picture; give it one"}
	}
	if err := chat.CheckImages("mattermost", m.Images, MaxFiles); err != nil {
		return chat.Receipt{}, err
	}
	ref, err := parseChannel(m.Channel)
	if err != nil {
		return chat.Receipt{}, err
	}
	channelID, err := s.resolve(ctx, ref)
	if err != nil {
		return chat.Receipt{}, err
	}
	op := operation{what: "post", channel: ref, team: s.team}

	var fileIDs []string
	if len(m.Images) > 0 {
		if fileIDs, err = s.upload(ctx, op, channelID, m.Images); err != nil {
			return chat.Receipt{}, err
		}
	}
	in := struct {
		ChannelID string   `json:"channel_id"`
		Message   string   `json:"message"`
		RootID    string   `json:"root_id,omitempty"`
		FileIDs   []string `json:"file_ids,omitempty"`
	}{channelID, fit(m.Text, m.Markup), m.ThreadID, fileIDs}
	body, _ := json.Marshal(in) // cannot fail: strings only
	var post struct {
		ID      string   `json:"id"`
		FileIDs []string `json:"file_ids"`
	}
	if err := s.do(ctx, op, http.MethodPost, "/api/v4/posts", "application/json", bytes.NewReader(body), &post); err != nil {
		return chat.Receipt{}, err
	}
	for _, id := range fileIDs {
		// The server drops a file it cannot attach instead of failing; the
		// post is out, so a retry would only duplicate it.
		if !slices.Contains(post.FileIDs, id) {
			s.log.ErrorContext(ctx, "Mattermost created the post without its picture", "post", post.ID, "file", id)
		}
	}
	r := chat.Receipt{MessageID: post.ID, ChannelID: channelID}
	if s.team != "" {
		r.Permalink = s.base + "/" + url.PathEscape(s.team) + "/pl/" + post.ID
	}
	s.log.DebugContext(ctx, "posted", "channel", channelID, "post", post.ID, "files", len(fileIDs))
	if m.ThreadID != "" && m.RootText != "" {
		patch, _ := json.Marshal(map[string]string{"message": fit(m.RootText, m.Markup)})
		op.what = "edit"
		if err := s.do(ctx, op, http.MethodPut, "/api/v4/posts/"+url.PathEscape(m.ThreadID)+"/patch", "application/json", bytes.NewReader(patch), nil); err != nil {
			return r, chat.EditFailed("mattermost", r.MessageID, err)
		}
	}
	return r, nil
}

// fit cuts a message to MaxMessage: Markdown at a line break, so that its
// markup stays whole.
func fit(text string, markup bool) string {
	if markup {
		return chat.TruncateLines(text, MaxMessage)
	}
	return chat.Truncate(text, MaxMessage)
}

// upload sends the pictures as one multipart form, channel_id first so
// the server can stream the files, and returns their ids in order.
func (s *Sender) upload(ctx context.Context, op operation, channelID string, images []chat.Image) ([]string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("channel_id", channelID); err != nil {
		return nil, err
	}
	for _, img := range images {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename=%q`, img.Name()))
		h.Set("Content-Type", http.DetectContentType(img.Data))
		part, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		if _, err := part.Write(img.Data); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var out struct {
		FileInfos []struct {
			ID string `json:"id"`
		} `json:"file_infos"`
	}
	op.what = "upload"
	if err := s.do(ctx, op, http.MethodPost, "/api/v4/files", mw.FormDataContentType(), &buf, &out); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(out.FileInfos))
	for _, fi := range out.FileInfos {
		if fi.ID != "" {
			ids = append(ids, fi.ID)
		}
	}
	if len(ids) != len(images) {
		return nil, &chat.Error{Provider: "mattermost", Code: "bad_response", Temporary: true,
			Hint: fmt.Sprintf("Mattermost answered the upload with %d files instead of %d; check mattermost_url", len(ids), len(images))}
	}
	return ids, nil
}

// Check verifies the token with users/me and, when a team is configured,
// that the bot can see it.
func (s *Sender) Check(ctx context.Context) error {
	op := operation{what: "check", team: s.team}
	if err := s.do(ctx, op, http.MethodGet, "/api/v4/users/me", "", nil, nil); err != nil {
		return err
	}
	if s.team == "" {
		return nil
	}
	op.what = "team"
	return s.do(ctx, op, http.MethodGet, "/api/v4/teams/name/"+url.PathEscape(s.team), "", nil, nil)
}

// channelRef is a parsed Message.Channel: an id, or a name.
type channelRef struct {
	id, name string
}

func (c channelRef) label() string {
	if c.name != "" {
		return "channel " + c.name
	}
	if c.id != "" {
		return "channel " + c.id
	}
	return "the channel"
}

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9]{26}$`)
	namePattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
)

// parseChannel reads a channel id (26 lower-case letters and digits) or a
// channel's URL name ("town-square"; a leading # or ~ is dropped).
func parseChannel(s string) (channelRef, error) {
	s = strings.TrimSpace(s)
	if idPattern.MatchString(s) {
		return channelRef{id: s}, nil
	}
	name := strings.ToLower(strings.TrimLeft(s, "#~"))
	if !namePattern.MatchString(name) {
		return channelRef{}, &chat.Error{Provider: "mattermost", Code: "invalid_channel",
			Hint: fmt.Sprintf("%q is neither a channel's URL name like town-square nor a channel id; fix the address", s)}
	}
	return channelRef{name: name}, nil
}

// resolve turns a channel name into its id, asking the server once per name.
func (s *Sender) resolve(ctx context.Context, ref channelRef) (string, error) {
	if ref.id != "" {
		return ref.id, nil
	}
	if s.team == "" {
		return "", &chat.Error{Provider: "mattermost", Code: "no_team",
			Hint: fmt.Sprintf("%s is a name, which needs a team: set mattermost_team, or address the channel by its id", ref.label())}
	}
	s.mu.Lock()
	id, ok := s.channels[ref.name]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	var ch struct {
		ID string `json:"id"`
	}
	op := operation{what: "resolve", channel: ref, team: s.team}
	p := "/api/v4/teams/name/" + url.PathEscape(s.team) + "/channels/name/" + url.PathEscape(ref.name)
	if err := s.do(ctx, op, http.MethodGet, p, "", nil, &ch); err != nil {
		return "", err
	}
	if !idPattern.MatchString(ch.ID) {
		return "", &chat.Error{Provider: "mattermost", Code: "bad_response", Temporary: true,
			Hint: "Mattermost answered the channel lookup without a channel id; check mattermost_url"}
	}
	s.mu.Lock()
	s.channels[ref.name] = ch.ID
	s.mu.Unlock()
	return ch.ID, nil
}

// limiterState reads what an answer says about the server's rate limiter:
// nothing when it is off.
func limiterState(h http.Header) *chat.Announced {
	remaining, err := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	if err != nil {
		return &chat.Announced{}
	}
	reset, _ := strconv.Atoi(h.Get("X-RateLimit-Reset"))
	return &chat.Announced{Known: true, Remaining: remaining, ResetAfter: seconds(max(reset, 0))}
}

// do makes one API call and decodes a 2xx answer into out (if not nil). Any
// other answer becomes a *chat.Error.
func (s *Sender) do(ctx context.Context, op operation, method, path, contentType string, body io.Reader, out any) error {
	// The server's limiter counts every request of this client together.
	release, err := s.pacer.Acquire(ctx, "server")
	if err != nil {
		return err
	}
	var announced *chat.Announced
	defer func() { release(announced) }()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return transportError(err, s.token)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return transportError(err, s.token)
	}
	defer resp.Body.Close()
	announced = limiterState(resp.Header)
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return transportError(err, s.token)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		s.pacer.Block(ctx, retryAfter(resp.Header, time.Now()))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound) && op.channel.name != "" {
			// The channel may have been renamed or deleted: look the name up
			// afresh next time.
			s.mu.Lock()
			delete(s.channels, op.channel.name)
			s.mu.Unlock()
		}
		return classify(resp.StatusCode, resp.Header, data, op, s.token)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &chat.Error{Provider: "mattermost", Code: "bad_response", Temporary: true,
			Hint: fmt.Sprintf("Mattermost answered %s %s with something that is not its JSON; check mattermost_url", method, path)}
	}
	return nil
}
