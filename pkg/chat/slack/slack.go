// Package slack posts Panelcast messages to Slack with a bot token: pictures
// through Slack's external upload flow, text through chat.postMessage.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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

const (
	// MaxFiles is how many pictures Panelcast shares in one message. Slack
	// documents no limit for files.completeUploadExternal; its apps take
	// 10 files per message, and more than 14 have been seen to fail with
	// internal_error.
	MaxFiles = 10
	// MaxText is where Slack truncates a message's text (it advises
	// keeping to 4,000 characters).
	MaxText = 40000
)

// Slack's documented rate limits, per method per workspace per app: the
// tiers' floors ("20+ per minute"), and for posting messages about one per
// second per channel.
var (
	DefaultChannelLimit = chat.Limit{N: 1, Per: time.Second}
	Tier2               = chat.Limit{N: 20, Per: time.Minute}
	Tier3               = chat.Limit{N: 50, Per: time.Minute}
	Tier4               = chat.Limit{N: 100, Per: time.Minute}
	// DefaultMethodLimits are the tiers of the methods Send calls; the
	// others (chat.postMessage, chat.getPermalink, auth.test) are in
	// special tiers without a fixed rate.
	DefaultMethodLimits = map[string]chat.Limit{
		"conversations.list":           Tier2,
		"chat.update":                  Tier3,
		"files.getUploadURLExternal":   Tier4,
		"files.completeUploadExternal": Tier4,
		"files.info":                   Tier4,
	}
)

// postingMethods put a message into a channel, which counts towards the
// channel's rate.
var postingMethods = map[string]bool{"chat.postMessage": true, "files.completeUploadExternal": true}

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
	// ChannelLimit paces the messages posted to each channel; zero takes
	// DefaultChannelLimit, N < 0 turns it off.
	ChannelLimit chat.Limit
	// MethodLimits replace entries of DefaultMethodLimits.
	MethodLimits map[string]chat.Limit
	// Pace holds the counts of the limits; nil keeps them in this
	// Sender. Replicas posting as one bot share one (Slack limits the
	// app's token, not the process).
	Pace chat.PaceState
}

// Sender posts to Slack. It is safe for concurrent use.
type Sender struct {
	api       *slack.Client
	token     string
	log       *slog.Logger
	shareWait time.Duration
	channel   chat.Limit
	methods   map[string]chat.Limit
	pacer     chat.Pacer

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
	methods := maps.Clone(DefaultMethodLimits)
	maps.Copy(methods, cfg.MethodLimits)
	return &Sender{
		api:       slack.New(token, slack.OptionAPIURL(apiURL), slack.OptionHTTPClient(client)),
		token:     token,
		log:       log.With("provider", "slack"),
		shareWait: wait,
		channel:   cfg.ChannelLimit.Or(DefaultChannelLimit),
		methods:   methods,
		pacer:     chat.Pacer{Provider: "slack", Bot: chat.BotID(apiURL, token), State: cfg.Pace},
		channels:  map[string]string{},
	}, nil
}

// Name is "slack".
func (s *Sender) Name() string { return "slack" }

// Limits: 10 pictures and 40,000 characters per message.
func (s *Sender) Limits() chat.Limits {
	return chat.Limits{MaxImages: MaxFiles, MaxText: MaxText, EditsRoot: true}
}

// pace waits until a call of method (into channelID, when it posts there)
// keeps within Slack's limits; done must be called once it is answered.
func (s *Sender) pace(ctx context.Context, method, channelID string) (done func(), err error) {
	rules := []chat.Rule{{Key: "method " + method, Limit: s.methods[method]}}
	if postingMethods[method] {
		rules = append(rules, chat.Rule{Key: "channel " + channelID, Limit: s.channel})
	}
	return s.pacer.Wait(ctx, rules...)
}

// Send posts m. With pictures it uploads the files and shares them in one
// message with the text as its comment; MessageID is then the ts of that
// message, which Slack reports shortly after the upload. If Slack has not
// reported it within ShareWait, Send still succeeds (the message is out)
// and MessageID names the file ("file:F0123"): a later reply or edit with
// that ThreadID looks the ts up then, and is retried until Slack has it.
//
// Text is mrkdwn either way (Slack parses it by default); longer than
// MaxText it is cut, at a line break with m.Markup.
//
// With m.RootText and m.ThreadID, chat.update gives the thread's first
// message RootText once the reply is out; its files stay (chat.update
// only adds files given in file_ids). A failed edit comes back with the
// receipt (see chat.EditFailed), or is logged when the reply's ts is
// unknown, as an error then would make the outbox post the reply again.
//
// Calls are paced by Slack's documented limits (DefaultChannelLimit,
// DefaultMethodLimits); after a 429 every call waits the Retry-After.
func (s *Sender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	if len(m.Images) == 0 && strings.TrimSpace(m.Text) == "" {
		return chat.Receipt{}, &chat.Error{Provider: "slack", Code: "no_text",
			Hint: "the message has neither text nor a picture; give it one"}
	}
	if err := chat.CheckImages("slack", m.Images, MaxFiles); err != nil {
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
	if fileID, ok := strings.CutPrefix(m.ThreadID, filePrefix); ok {
		ts, err := s.threadOfFile(ctx, fileID, channelID)
		if err != nil {
			return chat.Receipt{}, err
		}
		m.ThreadID = ts
	}
	var r chat.Receipt
	if len(m.Images) == 0 {
		r, err = s.postText(ctx, ref, channelID, m)
	} else {
		r, err = s.postImages(ctx, ref, channelID, m)
	}
	if err != nil || m.ThreadID == "" || m.RootText == "" {
		return r, err
	}
	if err := s.editRoot(ctx, channelID, m.ThreadID, fit(m.RootText, m.Markup)); err != nil {
		if r.MessageID == "" {
			s.log.WarnContext(ctx, "the reply is posted but the thread's first message was not edited", "channel", channelID, "ts", m.ThreadID, "error", err)
			return r, nil
		}
		return r, chat.EditFailed("slack", r.MessageID, err)
	}
	return r, nil
}

// fit cuts text to MaxText: mrkdwn at a line break, so that its markup
// stays whole.
func fit(text string, markup bool) string {
	if markup {
		return chat.TruncateLines(text, MaxText)
	}
	return chat.Truncate(text, MaxText)
}

func (s *Sender) editRoot(ctx context.Context, channelID, ts, text string) error {
	done, err := s.pace(ctx, "chat.update", channelID)
	if err != nil {
		return err
	}
	_, _, _, err = s.api.UpdateMessageContext(ctx, channelID, ts, slack.MsgOptionText(text, false))
	done()
	if err != nil {
		return s.fail(ctx, err, channelRef{id: channelID}, channelID)
	}
	return nil
}

func (s *Sender) postText(ctx context.Context, ref channelRef, channelID string, m chat.Message) (chat.Receipt, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(fit(m.Text, m.Markup), false)}
	if m.ThreadID != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadID))
	}
	done, err := s.pace(ctx, "chat.postMessage", channelID)
	if err != nil {
		return chat.Receipt{}, err
	}
	_, ts, err := s.api.PostMessageContext(ctx, channelID, opts...)
	done()
	if err != nil {
		return chat.Receipt{}, s.fail(ctx, err, ref, channelID)
	}
	r := chat.Receipt{MessageID: ts, ChannelID: channelID}
	r.Permalink = s.permalink(ctx, channelID, ts)
	s.log.DebugContext(ctx, "posted text", "channel", channelID, "ts", ts)
	return r, nil
}

// postImages uploads each picture (files.getUploadURLExternal, then its
// bytes) and shares them all in one files.completeUploadExternal.
func (s *Sender) postImages(ctx context.Context, ref channelRef, channelID string, m chat.Message) (chat.Receipt, error) {
	files := make([]slack.FileSummary, len(m.Images))
	for i, img := range m.Images {
		done, err := s.pace(ctx, "files.getUploadURLExternal", channelID)
		if err != nil {
			return chat.Receipt{}, err
		}
		u, err := s.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
			FileName: img.Name(), FileSize: len(img.Data), AltTxt: chat.Truncate(img.AltText, maxAltText)})
		done()
		if err != nil {
			return chat.Receipt{}, s.fail(ctx, err, ref, channelID)
		}
		if err := s.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Reader: bytes.NewReader(img.Data), Filename: img.Name()}); err != nil {
			return chat.Receipt{}, s.fail(ctx, err, ref, channelID)
		}
		title := img.Title
		if title == "" {
			title = img.Name()
		}
		files[i] = slack.FileSummary{ID: u.FileID, Title: title}
	}
	done, err := s.pace(ctx, "files.completeUploadExternal", channelID)
	if err != nil {
		return chat.Receipt{}, err
	}
	_, err = s.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: files, Channel: channelID, InitialComment: fit(m.Text, m.Markup), ThreadTimestamp: m.ThreadID})
	done()
	if err != nil {
		return chat.Receipt{}, s.fail(ctx, err, ref, channelID)
	}
	// The files share one message: the first one's share has its ts. When
	// Slack is slow to report it (or its rate limit leaves no room to ask),
	// the message id names the file instead, and a reply looks the ts up
	// when it needs it.
	r := chat.Receipt{ChannelID: channelID}
	ts, filePermalink, later := s.awaitShare(ctx, files[0].ID, channelID, time.Now().Add(s.shareWait))
	if later {
		r.MessageID = filePrefix + files[0].ID
	}
	if ts != "" {
		r.MessageID = ts
		r.Permalink = s.permalink(ctx, channelID, ts)
	}
	if r.Permalink == "" {
		r.Permalink = filePermalink
	}
	s.log.DebugContext(ctx, "posted pictures", "channel", channelID, "files", len(files), "ts", ts)
	return r, nil
}

// maxAltText is files.getUploadURLExternal's limit on alt_txt.
const maxAltText = 1000

// filePrefix marks a message id that names the uploaded file whose share
// is the message, for a message whose ts Slack had not reported yet.
const filePrefix = "file:"

// threadOfFile is the ts of the message that shared fileID, for a reply to
// it: looked up now, within the attempt's time.
func (s *Sender) threadOfFile(ctx context.Context, fileID, channelID string) (string, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.shareWait)
	}
	ts, _, later := s.awaitShare(ctx, fileID, channelID, deadline)
	if ts != "" || !later {
		// Without the ts for good (files:read was taken away), the reply
		// goes unthreaded rather than not at all.
		return ts, nil
	}
	return "", &chat.Error{Provider: "slack", Code: "thread_unknown", Temporary: true, RetryAfter: 10 * time.Second,
		Hint: "Slack has not reported the message this one replies to yet; it is retried"}
}

// awaitShare polls files.info until the file's share into channelID shows
// the message ts, or the deadline passes. It also returns the file's
// permalink as a fallback link. later says a later look may find the ts:
// the time ran out, rather than Slack refusing to tell.
func (s *Sender) awaitShare(ctx context.Context, fileID, channelID string, deadline time.Time) (ts, permalink string, later bool) {
	wait, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	pause := 100 * time.Millisecond
	for {
		done, err := s.pace(wait, "files.info", channelID)
		if err != nil {
			s.log.DebugContext(ctx, "Slack's rate limit leaves no room to ask for the upload's message now; a reply looks it up when it needs it",
				"file", fileID, "error", err)
			return "", permalink, true
		}
		file, _, _, err := s.api.GetFileInfoContext(ctx, fileID, 1, 1)
		done()
		if err != nil {
			// The message is out; a lookup failure must not fail the send,
			// or a retry would post it twice.
			s.log.WarnContext(ctx, "the upload is posted but its message id is unknown for now; a reply looks it up when it needs it",
				"file", fileID, "error", s.fail(ctx, err, channelRef{}, channelID))
			return "", permalink, false
		}
		permalink = file.Permalink
		if ts := shareTS(file.Shares, channelID); ts != "" {
			return ts, permalink, false
		}
		if time.Now().Add(pause).After(deadline) {
			s.log.DebugContext(ctx, "Slack did not report the upload's message in time; a reply looks it up when it needs it",
				"file", fileID)
			return "", permalink, true
		}
		select {
		case <-ctx.Done():
			return "", permalink, true
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
	done, err := s.pace(ctx, "chat.getPermalink", channelID)
	if err != nil {
		return ""
	}
	link, err := s.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: channelID, Ts: ts})
	done()
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
	resp, err := s.authTest(ctx)
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

func (s *Sender) authTest(ctx context.Context) (*slack.AuthTestResponse, error) {
	done, err := s.pace(ctx, "auth.test", "")
	if err != nil {
		return nil, err
	}
	defer done()
	return s.api.AuthTestContext(ctx)
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
	channels, next, err := s.listCall(ctx, params)
	var se slack.SlackErrorResponse
	if !publicOnly && errors.As(err, &se) && se.Err == "missing_scope" && strings.Contains(se.Needed, "groups:read") {
		s.log.InfoContext(ctx, "the token lacks groups:read, so only public channel names resolve")
		s.mu.Lock()
		s.publicOnly = true
		s.mu.Unlock()
		params.Types = []string{"public_channel"}
		channels, next, err = s.listCall(ctx, params)
	}
	return channels, next, err
}

func (s *Sender) listCall(ctx context.Context, params *slack.GetConversationsParameters) ([]slack.Channel, string, error) {
	done, err := s.pace(ctx, "conversations.list", "")
	if err != nil {
		return nil, "", err
	}
	defer done()
	return s.api.GetConversationsContext(ctx, params)
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
	resp, err := s.authTest(ctx)
	if err != nil || resp.User == "" {
		return "<bot>"
	}
	s.mu.Lock()
	s.botName = resp.User
	s.mu.Unlock()
	return resp.User
}
