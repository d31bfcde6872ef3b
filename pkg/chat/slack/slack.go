// Package slack posts Panelcast messages to Slack with a bot token: pictures
// through Slack's external upload flow, text through chat.postMessage.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/panelcast/panelcast/pkg/chat"
)

// DefaultAPIURL is Slack's Web API base.
const DefaultAPIURL = "https://slack.com/api/"

// DefaultShareWait bounds how long Send waits for Slack to report the message
// that carries an upload.
const DefaultShareWait = 3 * time.Second

// listPageSize is what Slack recommends for paged methods (at most 200).
const listPageSize = 200

// requiredScopes are the bot scopes Send needs; groups:read (private channel
// names) is optional.
var requiredScopes = []string{"chat:write", "files:write", "files:read", "channels:read"}

// Config configures a Sender.
type Config struct {
	// Token is the bot token (xoxb-…).
	Token string
	// APIURL is the Web API base; default DefaultAPIURL. A missing trailing
	// slash is added, as slack-go needs one.
	APIURL string
	// HTTPClient makes the requests; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger receives debug lines and warnings; default slog.Default().
	Logger *slog.Logger
	// ShareWait bounds the wait for an upload's message ts; default
	// DefaultShareWait.
	ShareWait time.Duration
}

// Sender posts to Slack. It is safe for concurrent use.
type Sender struct {
	api       *slack.Client
	token     string
	log       *slog.Logger
	shareWait time.Duration

	mu         sync.Mutex
	channels   map[string]string // channel name → id
	publicOnly bool              // the token lacks groups:read
	botName    string
	listing    sync.Mutex // one conversations.list walk at a time
	botLookup  sync.Mutex // one auth.test for the bot name at a time
}

var _ chat.Sender = (*Sender)(nil)

// New checks cfg and returns a Sender. It makes no request.
func New(cfg Config) (*Sender, error) {
	token := strings.TrimSpace(cfg.Token)
	if token == "" {
		return nil, errors.New("slack: no bot token: set slack_bot_token to the app's xoxb- token")
	}
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("slack: API URL %q is not an http(s) URL: set slack_api_url like %s", apiURL, DefaultAPIURL)
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	wait := cfg.ShareWait
	if wait <= 0 {
		wait = DefaultShareWait
	}
	return &Sender{
		api:       slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(client)),
		token:     token,
		log:       log.With("provider", "slack"),
		shareWait: wait,
		channels:  map[string]string{},
	}, nil
}

// Name is "slack".
func (s *Sender) Name() string { return "slack" }

// Send posts m. With a picture it uploads the file and shares it with the
// text as its comment; MessageID is then the ts of the message that carries
// the file, which Slack reports shortly after the upload. If Slack has not
// reported it within ShareWait, Send still succeeds (the message is out) and
// leaves MessageID empty rather than risk a duplicate post on retry.
func (s *Sender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	if m.Image == nil && strings.TrimSpace(m.Text) == "" {
		return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "no_text",
			Hint: "the message has neither text nor a picture; give it one"}
	}
	if m.Image != nil && len(m.Image) == 0 {
		return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "empty_image",
			Hint: "the picture has no bytes; render it again"}
	}
	ref, err := parseChannel(m.Channel)
	if err != nil {
		return chat.Receipt{}, err
	}
	channelID, err := s.resolve(ctx, ref)
	if err != nil {
		return chat.Receipt{}, err
	}
	if m.Image == nil {
		return s.postText(ctx, ref, channelID, m)
	}
	return s.postImage(ctx, ref, channelID, m)
}

func (s *Sender) postText(ctx context.Context, ref channelRef, channelID string, m chat.Message) (chat.Receipt, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if m.ThreadID != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadID))
	}
	_, ts, err := s.api.PostMessageContext(ctx, channelID, opts...)
	if err != nil {
		return chat.Receipt{}, s.fail(ctx, err, ref, channelID)
	}
	r := chat.Receipt{MessageID: ts, ChannelID: channelID}
	r.Permalink = s.permalink(ctx, channelID, ts)
	s.log.DebugContext(ctx, "posted text", "channel", channelID, "ts", ts)
	return r, nil
}

func (s *Sender) postImage(ctx context.Context, ref channelRef, channelID string, m chat.Message) (chat.Receipt, error) {
	name := m.Filename
	if name == "" {
		name = "panel.png"
	}
	f, err := s.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:          bytes.NewReader(m.Image),
		FileSize:        len(m.Image),
		Filename:        name,
		Title:           name,
		InitialComment:  m.Text,
		Channel:         channelID,
		ThreadTimestamp: m.ThreadID,
	})
	if err != nil {
		return chat.Receipt{}, s.fail(ctx, err, ref, channelID)
	}
	r := chat.Receipt{ChannelID: channelID}
	ts, filePermalink := s.awaitShare(ctx, f.ID, channelID)
	r.MessageID = ts
	if ts != "" {
		r.Permalink = s.permalink(ctx, channelID, ts)
	}
	if r.Permalink == "" {
		r.Permalink = filePermalink
	}
	s.log.DebugContext(ctx, "posted picture", "channel", channelID, "file", f.ID, "ts", ts)
	return r, nil
}

// awaitShare polls files.info until the file's share into channelID shows
// the message ts, or the wait runs out. It also returns the file's permalink
// as a fallback link.
func (s *Sender) awaitShare(ctx context.Context, fileID, channelID string) (ts, permalink string) {
	deadline := time.Now().Add(s.shareWait)
	pause := 100 * time.Millisecond
	for {
		file, _, _, err := s.api.GetFileInfoContext(ctx, fileID, 1, 1)
		if err != nil {
			// The message is out; a lookup failure must not fail the send,
			// or a retry would post it twice.
			s.log.WarnContext(ctx, "the upload is posted but its message id is unknown: thread replies to it will not thread",
				"file", fileID, "error", s.fail(ctx, err, channelRef{}, channelID))
			return "", permalink
		}
		permalink = file.Permalink
		if ts := shareTS(file.Shares, channelID); ts != "" {
			return ts, permalink
		}
		if time.Now().Add(pause).After(deadline) {
			s.log.WarnContext(ctx, "Slack did not report the upload's message in time: thread replies to it will not thread",
				"file", fileID, "waited", s.shareWait)
			return "", permalink
		}
		select {
		case <-ctx.Done():
			return "", permalink
		case <-time.After(pause):
		}
		pause = min(pause*2, 500*time.Millisecond)
	}
}

// shareTS finds the ts of the message that shared a file into channelID.
func shareTS(sh slack.Share, channelID string) string {
	for _, byChannel := range []map[string][]slack.ShareFileInfo{sh.Public, sh.Private} {
		if infos := byChannel[channelID]; len(infos) > 0 && infos[0].Ts != "" {
			return infos[0].Ts
		}
	}
	return ""
}

// permalink asks Slack for a message's link; a failure only costs the link.
func (s *Sender) permalink(ctx context.Context, channelID, ts string) string {
	link, err := s.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: channelID, Ts: ts})
	if err != nil {
		s.log.WarnContext(ctx, "no permalink for the message", "channel", channelID, "ts", ts,
			"error", s.fail(ctx, err, channelRef{}, channelID))
		return ""
	}
	return link
}

// Check verifies the token with auth.test and, where Slack reports the
// token's scopes, that the ones Send needs are granted.
func (s *Sender) Check(ctx context.Context) error {
	resp, err := s.api.AuthTestContext(ctx)
	if err != nil {
		return s.fail(ctx, err, channelRef{}, "")
	}
	s.mu.Lock()
	s.botName = resp.User
	s.mu.Unlock()
	granted := resp.Header.Get("X-OAuth-Scopes")
	if granted == "" {
		return nil
	}
	have := map[string]bool{}
	for _, sc := range strings.Split(granted, ",") {
		have[strings.TrimSpace(sc)] = true
	}
	var missing []string
	for _, sc := range requiredScopes {
		if !have[sc] {
			missing = append(missing, sc)
		}
	}
	if len(missing) > 0 {
		return missingScope(strings.Join(missing, ","))
	}
	return nil
}

// channelRef is a parsed Message.Channel: an id, or a name without '#'.
type channelRef struct {
	id, name string
}

// label names the channel for a person: "#ops" or "channel C0123".
func (c channelRef) label() string {
	if c.name != "" {
		return "#" + c.name
	}
	if c.id != "" {
		return "channel " + c.id
	}
	return "the channel"
}

// channelIDPattern is Slack's own check for conversation ids.
var channelIDPattern = regexp.MustCompile(`^[CGDZ][A-Z0-9]{8,}$`)

// parseChannel reads "#ops", "ops" or "C0123ABCD". Slack channel names are
// lower case, so an all-caps id cannot be mistaken for one.
func parseChannel(s string) (channelRef, error) {
	s = strings.TrimSpace(s)
	if channelIDPattern.MatchString(s) {
		return channelRef{id: s}, nil
	}
	name := strings.ToLower(strings.TrimPrefix(s, "#"))
	if name == "" || strings.ContainsAny(name, " #,\t\n") {
		return channelRef{}, &chat.Error{Provider: "slack", Code: "invalid_channel",
			Hint: fmt.Sprintf("%q is neither a channel name like #ops nor an id like C0123ABCD; fix the address", s)}
	}
	return channelRef{name: name}, nil
}

// resolve turns a channel name into its id, walking conversations.list only
// for names it has not seen yet.
func (s *Sender) resolve(ctx context.Context, ref channelRef) (string, error) {
	if ref.id != "" {
		return ref.id, nil
	}
	if id, ok := s.cached(ref.name); ok {
		return id, nil
	}
	s.listing.Lock()
	defer s.listing.Unlock()
	// Another Send may have walked the list while this one waited.
	if id, ok := s.cached(ref.name); ok {
		return id, nil
	}
	cursor := ""
	for {
		channels, next, err := s.listPage(ctx, cursor)
		if err != nil {
			return "", s.fail(ctx, err, ref, "")
		}
		s.mu.Lock()
		for _, c := range channels {
			s.channels[c.Name] = c.ID
		}
		id, found := s.channels[ref.name]
		s.mu.Unlock()
		if found {
			return id, nil
		}
		if next == "" {
			return "", &chat.Error{Provider: "slack", Code: "channel_not_found",
				Hint: fmt.Sprintf("the bot sees no channel named %s; check the channel name; private channels need groups:read and the bot invited", ref.label())}
		}
		cursor = next
	}
}

func (s *Sender) cached(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.channels[name]
	return id, ok
}

// listPage lists one page of public and private channels, or public ones
// only once Slack has said the token lacks groups:read.
func (s *Sender) listPage(ctx context.Context, cursor string) ([]slack.Channel, string, error) {
	s.mu.Lock()
	publicOnly := s.publicOnly
	s.mu.Unlock()
	params := &slack.GetConversationsParameters{
		Cursor: cursor, Limit: listPageSize, ExcludeArchived: true,
		Types: []string{"public_channel", "private_channel"},
	}
	if publicOnly {
		params.Types = []string{"public_channel"}
	}
	channels, next, err := s.api.GetConversationsContext(ctx, params)
	var se slack.SlackErrorResponse
	if !publicOnly && errors.As(err, &se) && se.Err == "missing_scope" && strings.Contains(se.Needed, "groups:read") {
		s.log.InfoContext(ctx, "the token lacks groups:read, so only public channel names resolve")
		s.mu.Lock()
		s.publicOnly = true
		s.mu.Unlock()
		params.Types = []string{"public_channel"}
		channels, next, err = s.api.GetConversationsContext(ctx, params)
	}
	return channels, next, err
}

// forget drops a cached name whose channel Slack no longer knows.
func (s *Sender) forget(channelID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, id := range s.channels {
		if id == channelID {
			delete(s.channels, name)
		}
	}
}

// bot names the bot for an invite hint, asking auth.test once if needed.
func (s *Sender) bot(ctx context.Context) string {
	s.botLookup.Lock()
	defer s.botLookup.Unlock()
	s.mu.Lock()
	name := s.botName
	s.mu.Unlock()
	if name != "" {
		return name
	}
	resp, err := s.api.AuthTestContext(ctx)
	if err != nil || resp.User == "" {
		return "<bot>"
	}
	s.mu.Lock()
	s.botName = resp.User
	s.mu.Unlock()
	return resp.User
}
