package discord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/discordfake"
	"github.com/panelcast/panelcast/internal/fakechat/faults"
	"github.com/panelcast/panelcast/pkg/chat"
)

const (
	token   = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gabcde.secret-token-value"
	guildID = "1200000000000000001"
	chanID  = "1200000000000000002"
)

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The fake runs Discord's limits scaled down to milliseconds; the sender
// reads the route buckets from the headers and is told the global limit.
// No test may send while told to wait.
var (
	testRouteLimit  = faults.Limit{N: 5, Per: 100 * time.Millisecond}
	testGlobalLimit = chat.Limit{N: 50, Per: 100 * time.Millisecond}
)

func newPair(t *testing.T) (*discordfake.Server, *Sender) {
	t.Helper()
	fake := discordfake.New(token)
	t.Cleanup(fake.Close)
	fake.SetLimits(discordfake.Limits{Route: testRouteLimit, Global: faults.Limit{N: testGlobalLimit.N, Per: testGlobalLimit.Per}})
	fake.AddChannel(discordfake.Channel{ID: chanID, GuildID: guildID, Perms: discordfake.PermAll})
	s, err := New(Config{Token: token, APIURL: fake.URL(), GlobalLimit: testGlobalLimit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if v := fake.Violations(); len(v) > 0 {
			t.Errorf("requests sent while told to wait: %+v", v)
		}
	})
	return fake, s
}

func chatErr(t *testing.T, err error) *chat.Error {
	t.Helper()
	var ce *chat.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *chat.Error", err, err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatalf("error shows the token: %v", err)
	}
	return ce
}

func TestSendPhotoWithTextThenReply(t *testing.T) {
	fake, s := newPair(t)
	ctx := context.Background()
	pic := pngBytes(t, 640, 320)

	r, err := s.Send(ctx, chat.Message{Channel: chanID, Text: "CPU high on web-1", Images: []chat.Image{{Data: pic, Filename: "cpu.png"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ChannelID != chanID || r.MessageID == "" {
		t.Fatalf("receipt %+v", r)
	}
	if want := "https://discord.com/channels/" + guildID + "/" + chanID + "/" + r.MessageID; r.Permalink != want {
		t.Fatalf("permalink %q, want %q", r.Permalink, want)
	}

	reply, err := s.Send(ctx, chat.Message{Channel: chanID, Text: "resolved", Images: []chat.Image{{Data: pic}}, ThreadID: r.MessageID})
	if err != nil {
		t.Fatal(err)
	}

	msgs := fake.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	first := msgs[0]
	if first.ChannelID != chanID || first.Content != "CPU high on web-1" || first.ReplyTo != "" {
		t.Fatalf("first message %+v", first)
	}
	if len(first.Files) != 1 || first.Files[0].Field != "files[0]" || first.Files[0].Name != "cpu.png" || first.Files[0].ContentType != "image/png" {
		t.Fatalf("first message files %+v", first.Files)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(first.Files[0].Data))
	if err != nil || cfg.Width != 640 || cfg.Height != 320 {
		t.Fatalf("uploaded picture is not the 640x320 PNG: %v %+v", err, cfg)
	}
	if msgs[1].ID != reply.MessageID || msgs[1].ReplyTo != r.MessageID || msgs[1].Files[0].Name != "panel.png" {
		t.Fatalf("reply %+v", msgs[1])
	}
}

func TestSendTextOnly(t *testing.T) {
	fake, s := newPair(t)
	if _, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	m := fake.Messages()[0]
	if m.Content != "hello" || len(m.Files) != 0 {
		t.Fatalf("message %+v", m)
	}
}

func TestIdempotencyKeyPostsOnce(t *testing.T) {
	fake, s := newPair(t)
	m := chat.Message{Channel: chanID, Text: "once", Images: []chat.Image{{Data: pngBytes(t, 10, 10)}}, IdempotencyKey: "push-7f3c-attempt-independent-key-that-is-long"}
	r1, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if r1.MessageID != r2.MessageID || len(fake.Messages()) != 1 {
		t.Fatalf("retry posted again: %s vs %s, %d messages", r1.MessageID, r2.MessageID, len(fake.Messages()))
	}
	if got := fake.Messages()[0].Nonce; got != nonce(m.IdempotencyKey) {
		t.Fatalf("nonce %q", got)
	}
}

func TestPermalinkDMAndLookupOnce(t *testing.T) {
	fake, s := newPair(t)
	const dm = "1300000000000000009"
	fake.AddChannel(discordfake.Channel{ID: dm})
	for range 2 {
		r, err := s.Send(context.Background(), chat.Message{Channel: dm, Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if want := "https://discord.com/channels/@me/" + dm + "/" + r.MessageID; r.Permalink != want {
			t.Fatalf("permalink %q, want %q", r.Permalink, want)
		}
	}
	lookups := 0
	for _, c := range fake.Calls() {
		if c.Method == http.MethodGet && c.Path == "/api/v10/channels/"+dm {
			lookups++
		}
	}
	if lookups != 1 {
		t.Fatalf("%d channel lookups, want 1 (cached)", lookups)
	}
}

func TestPermalinkLeftEmptyWhenLookupFails(t *testing.T) {
	_, s := newPair(t)
	s.hc = &http.Client{Transport: failAfterFirst{http.DefaultTransport, new(int)}}
	r, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.MessageID == "" || r.Permalink != "" {
		t.Fatalf("receipt %+v, want a message id and no permalink", r)
	}
}

// failAfterFirst lets the first request through and fails the rest.
type failAfterFirst struct {
	rt http.RoundTripper
	n  *int
}

func (f failAfterFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	*f.n++
	if *f.n > 1 {
		return nil, errors.New("connection reset")
	}
	return f.rt.RoundTrip(r)
}

func TestLongTextIsCut(t *testing.T) {
	fake, s := newPair(t)
	long := strings.Repeat("word ", 600) // 3000 characters
	if _, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: long, Images: []chat.Image{{Data: pngBytes(t, 5, 5)}}}); err != nil {
		t.Fatal(err)
	}
	got := fake.Messages()[0].Content
	if chat.UTF16Len(got) > MaxContent || !strings.HasSuffix(got, "word…") {
		t.Fatalf("content of %d units ending %q", chat.UTF16Len(got), got[len(got)-10:])
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	fake, s := newPair(t)
	cases := []struct {
		name string
		m    chat.Message
		code string
		hint string
	}{
		{"channel name", chat.Message{Channel: "#ops", Text: "x"}, "invalid_channel", "Copy Channel ID"},
		{"no channel", chat.Message{Channel: " ", Text: "x"}, "invalid_channel", "discord:<channel id>"},
		{"too large", chat.Message{Channel: chanID, Images: []chat.Image{{Data: make([]byte, MaxFileBytes+1)}}}, "image_too_large",
			"image is 10.0 MiB; Discord allows 10 MiB without boosts: lower width/height/scale."},
		{"empty", chat.Message{Channel: chanID, Text: "  "}, "empty_message", "neither text nor a picture"},
		{"bad thread", chat.Message{Channel: chanID, Text: "x", ThreadID: "1700000000.123"}, "invalid_thread", "not a Discord message id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Send(context.Background(), c.m)
			ce := chatErr(t, err)
			if ce.Code != c.code || !strings.Contains(ce.Hint, c.hint) || ce.Temporary {
				t.Fatalf("got %+v, want code %s with %q", ce, c.code, c.hint)
			}
		})
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d requests made, want none", n)
	}
}

func TestErrorsFromDiscord(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *discordfake.Server)
		token string
		m     chat.Message
		code  string
		hint  string
		temp  bool
		wait  time.Duration
	}{
		{name: "bad token", token: "wrong", m: chat.Message{Channel: chanID, Text: "x"}, code: "401", hint: "check discord_bot_token"},
		{name: "unknown channel", m: chat.Message{Channel: "1999999999999999999", Text: "x"}, code: "10003", hint: "check the channel id"},
		{name: "no access", setup: func(f *discordfake.Server) {
			f.AddChannel(discordfake.Channel{ID: chanID, GuildID: guildID})
		}, m: chat.Message{Channel: chanID, Text: "x"}, code: "50001", hint: "give the bot View Channel, Send Messages, Attach Files"},
		{name: "cannot attach", setup: func(f *discordfake.Server) {
			f.AddChannel(discordfake.Channel{ID: chanID, GuildID: guildID, Perms: discordfake.PermView | discordfake.PermSend})
		}, m: chat.Message{Channel: chanID, Text: "x", Images: []chat.Image{{Data: []byte("png")}}}, code: "50013", hint: "Read Message History in channel " + chanID},
		{name: "rate limited", setup: func(f *discordfake.Server) { f.RateLimitNext(1, 1500*time.Millisecond) },
			m: chat.Message{Channel: chanID, Text: "x"}, code: "429", hint: "rate limiting", temp: true, wait: 1500 * time.Millisecond},
		{name: "bad gateway", setup: func(f *discordfake.Server) { f.FailNext(1, http.StatusBadGateway) },
			m: chat.Message{Channel: chanID, Text: "x"}, code: "502", hint: "server error", temp: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, s := newPair(t)
			if c.setup != nil {
				c.setup(fake)
			}
			if c.token != "" {
				s.auth = "Bot " + c.token
			}
			_, err := s.Send(context.Background(), c.m)
			ce := chatErr(t, err)
			if ce.Code != c.code || !strings.Contains(ce.Hint, c.hint) || ce.Temporary != c.temp || ce.RetryAfter != c.wait {
				t.Fatalf("got %+v", ce)
			}
			if temp, wait := chat.IsTemporary(err); temp != c.temp || wait != c.wait {
				t.Fatalf("IsTemporary = %v, %v", temp, wait)
			}
			if !strings.HasSuffix(err.Error(), ".") {
				t.Fatalf("error does not end in a sentence: %q", err)
			}
		})
	}
}

func TestReplyToVanishedMessageStillPosts(t *testing.T) {
	fake, s := newPair(t)
	if _, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: "resolved", ThreadID: "1234567890123456789"}); err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages()[0]; m.ReplyTo != "" || m.Content != "resolved" {
		t.Fatalf("message %+v", m)
	}
}

func TestCheck(t *testing.T) {
	fake, s := newPair(t)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad, err := New(Config{Token: "Bot nope", APIURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if ce := chatErr(t, bad.Check(context.Background())); ce.Code != "401" {
		t.Fatalf("got %+v", ce)
	}
}

func TestNetworkErrors(t *testing.T) {
	fake, s := newPair(t)
	fake.Close()
	_, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: "x"})
	ce := chatErr(t, err)
	if ce.Code != "network" || !ce.Temporary || !strings.Contains(ce.Hint, "discord_api_url") {
		t.Fatalf("got %+v", ce)
	}
	if strings.Contains(err.Error(), "/channels/") {
		t.Fatalf("error repeats the request URL: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Send(ctx, chat.Message{Channel: chanID, Text: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{{}, {Token: "a b"}, {Token: "t", APIURL: "discord.com/api"}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		} else if strings.Contains(err.Error(), "a b") {
			t.Errorf("error shows the token: %v", err)
		}
	}
	s, err := New(Config{Token: "t"})
	if err != nil || s.api != DefaultAPIURL || s.auth != "Bot t" || !strings.HasPrefix(s.userAgent, "DiscordBot (https://") {
		t.Fatalf("defaults: %v %+v", err, s)
	}
}

func TestNonce(t *testing.T) {
	a, b := nonce("key-1"), nonce("key-2")
	if a == b || a != nonce("key-1") {
		t.Fatalf("nonce not stable and distinct: %s %s", a, b)
	}
	for _, n := range []string{a, b, nonce(""), nonce(strings.Repeat("x", 10000))} {
		if len(n) > 25 || !isSnowflake(n) {
			t.Fatalf("nonce %q is not a decimal of at most 25 characters", n)
		}
	}
}

func TestSeveralPicturesInOneMessage(t *testing.T) {
	fake, s := newPair(t)
	imgs := []chat.Image{
		{Data: pngBytes(t, 10, 10), Filename: "cpu.png", AltText: "CPU of web-1"},
		{Data: pngBytes(t, 20, 10), Filename: "mem.png"},
		{Data: pngBytes(t, 30, 10)},
	}
	r, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: "three", Images: imgs})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].ID != r.MessageID || len(msgs[0].Files) != 3 {
		t.Fatalf("messages %+v", msgs)
	}
	for i, f := range msgs[0].Files {
		cfg, err := png.DecodeConfig(bytes.NewReader(f.Data))
		if f.Field != fmt.Sprintf("files[%d]", i) || err != nil || cfg.Width != 10*(i+1) {
			t.Fatalf("file %d: %+v", i, f.Field)
		}
	}
	if f := msgs[0].Files; f[0].Name != "cpu.png" || f[0].Description != "CPU of web-1" || f[2].Name != "panel.png" {
		t.Fatalf("files %+v %+v", f[0].Name, f[2].Name)
	}
	tooMany := make([]chat.Image, MaxFiles+1)
	for i := range tooMany {
		tooMany[i] = chat.Image{Data: []byte("png")}
	}
	_, err = s.Send(context.Background(), chat.Message{Channel: chanID, Images: tooMany})
	if ce := chatErr(t, err); ce.Code != "too_many_images" || !strings.Contains(ce.Hint, "Discord shows at most 10") {
		t.Fatalf("got %+v", ce)
	}
}

func TestMarkdownIsCutAtALine(t *testing.T) {
	fake, s := newPair(t)
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "**web-%d** `cpu=9%d%%` [panel](https://grafana/d/x?var-host=web-%d)\n", i, i%10, i)
	}
	text := b.String()
	if _, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: text, Markup: true}); err != nil {
		t.Fatal(err)
	}
	got := fake.Messages()[0].Content
	if chat.UTF16Len(got) > MaxContent || !strings.HasSuffix(got, ")\n…") || !strings.HasPrefix(text, strings.TrimSuffix(got, "\n…")) {
		t.Fatalf("content of %d units ends %q", chat.UTF16Len(got), got[len(got)-20:])
	}
}

func TestRootEdit(t *testing.T) {
	fake, s := newPair(t)
	ctx := context.Background()
	root, err := s.Send(ctx, chat.Message{Channel: chanID, Text: "🔥 FIRING", Images: []chat.Image{{Data: pngBytes(t, 5, 5)}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Send(ctx, chat.Message{Channel: chanID, Text: "resolved", ThreadID: root.MessageID, RootText: "~~🔥 FIRING~~ ✅ RESOLVED", Markup: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if msgs[0].Content != "~~🔥 FIRING~~ ✅ RESOLVED" || msgs[0].Edits != 1 || len(msgs[0].Files) != 1 || msgs[1].ReplyTo != root.MessageID || msgs[1].ID != r.MessageID {
		t.Fatalf("messages %+v", msgs)
	}

	fake.MarkForeign(root.MessageID)
	r, err = s.Send(ctx, chat.Message{Channel: chanID, Text: "again", ThreadID: root.MessageID, RootText: "x"})
	ce := chatErr(t, err)
	if r.MessageID == "" || ce.Temporary || ce.Code != "50005" || !strings.Contains(ce.Hint, "the reply was posted as message "+r.MessageID) {
		t.Fatalf("receipt %+v, error %+v", r, ce)
	}
	if temp, _ := chat.IsTemporary(err); temp {
		t.Fatal("a failed edit must not make the outbox post the reply again")
	}
}

func TestPacingByAnnouncedBuckets(t *testing.T) {
	fake, s := newPair(t)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 22 {
		wg.Go(func() {
			if _, err := s.Send(context.Background(), chat.Message{Channel: chanID, Text: fmt.Sprintf("alert %d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, c := range fake.Calls() {
		if c.Status == http.StatusTooManyRequests {
			t.Fatalf("a paced storm drew a 429: %+v", c)
		}
	}
	if n := len(fake.Messages()); n != 22 {
		t.Fatalf("%d messages, want 22", n)
	}
	// 22 messages in buckets of 5 per 100ms take at least four windows.
	if d := time.Since(start); d < 4*testRouteLimit.Per {
		t.Fatalf("took %v", d)
	}
}

func TestGlobal429StopsEveryRoute(t *testing.T) {
	fake, _ := newPair(t)
	fake.SetLimits(discordfake.Limits{Global: faults.Limit{N: 2, Per: 400 * time.Millisecond}})
	s, err := New(Config{Token: token, APIURL: fake.URL(), GlobalLimit: chat.Limit{N: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	s.guilds.Store(chanID, guildID)
	if _, err := s.Send(ctx, chat.Message{Channel: chanID, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(ctx, chat.Message{Channel: chanID, Text: "y"})
	if ce := chatErr(t, err); ce.Code != "429" || ce.RetryAfter <= 0 {
		t.Fatalf("got %+v", ce)
	}
	start := time.Now()
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("another route went %v after a global 429", d)
	}
}
