package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
	"github.com/panelcast/panelcast/internal/fakechat/telegramfake"
	"github.com/panelcast/panelcast/pkg/chat"
)

const (
	token  = "7000000001:AAH-secret_token-value"
	secret = "AAH-secret_token-value"
	group  = int64(-1001234567890)
)

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.Gray{Y: 200})
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Both sides run Telegram's limits scaled down to milliseconds, and no
// test may send while told to wait.
var (
	testChatLimit   = chat.Limit{N: 1, Per: 20 * time.Millisecond}
	testGroupLimit  = chat.Limit{N: 20, Per: 400 * time.Millisecond}
	testGlobalLimit = chat.Limit{N: 30, Per: 20 * time.Millisecond}
)

func fakeLimits(l ...chat.Limit) telegramfake.Limits {
	conv := func(l chat.Limit) faults.Limit { return faults.Limit{N: l.N, Per: l.Per} }
	return telegramfake.Limits{Chat: conv(l[0]), Group: conv(l[1]), Global: conv(l[2])}
}

func newPair(t *testing.T) (*telegramfake.Server, *Sender) {
	t.Helper()
	fake := telegramfake.New(token)
	t.Cleanup(fake.Close)
	fake.SetLimits(fakeLimits(testChatLimit, testGroupLimit, testGlobalLimit))
	fake.AddChat(telegramfake.Chat{ID: group, Title: "ops", Topics: []int64{45}})
	s, err := New(Config{Token: token, APIURL: fake.URL(), ChatLimit: testChatLimit, GroupLimit: testGroupLimit, GlobalLimit: testGlobalLimit})
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

// chatErr checks err is a *chat.Error whose text holds no part of the token.
func chatErr(t *testing.T, err error) *chat.Error {
	t.Helper()
	noToken(t, err)
	var ce *chat.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *chat.Error", err, err)
	}
	return ce
}

func noToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the token: %v", err)
	}
}

func TestSendPhotoToTopicThenReply(t *testing.T) {
	fake, s := newPair(t)
	ctx := context.Background()
	pic := pngBytes(t, 800, 400)

	r, err := s.Send(ctx, chat.Message{Channel: "-1001234567890/45", Text: "CPU high on web-1", Images: []chat.Image{{Data: pic, Filename: "cpu.png"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := chat.Receipt{MessageID: "1000", ChannelID: "-1001234567890/45", Permalink: "https://t.me/c/1234567890/45/1000"}
	if r != want {
		t.Fatalf("receipt %+v, want %+v", r, want)
	}
	if _, err := s.Send(ctx, chat.Message{Channel: r.ChannelID, Text: "resolved", Images: []chat.Image{{Data: pic}}, ThreadID: r.MessageID}); err != nil {
		t.Fatal(err)
	}

	msgs := fake.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	m := msgs[0]
	if m.Method != "sendPhoto" || m.ChatID != group || m.ThreadID != 45 || m.Text != "CPU high on web-1" || m.ReplyTo != 0 {
		t.Fatalf("first message %+v", m)
	}
	if m.File.Field != "photo" || m.File.Name != "cpu.png" || m.File.ContentType != "image/png" {
		t.Fatalf("file %+v", m.File)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(m.File.Data))
	if err != nil || cfg.Width != 800 || cfg.Height != 400 {
		t.Fatalf("uploaded picture is not the 800x400 PNG: %v %+v", err, cfg)
	}
	if msgs[1].ReplyTo != 1000 || msgs[1].ThreadID != 45 || msgs[1].File.Name != "panel.png" {
		t.Fatalf("reply %+v", msgs[1])
	}
}

func TestSendTextOnly(t *testing.T) {
	fake, s := newPair(t)
	r, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Permalink != "https://t.me/c/1234567890/1000" || r.ChannelID != "-1001234567890" {
		t.Fatalf("receipt %+v", r)
	}
	m := fake.Messages()[0]
	if m.Method != "sendMessage" || m.Text != "hello" || m.File != nil || m.ThreadID != 0 {
		t.Fatalf("message %+v", m)
	}
}

func TestLongTextFollowsThePicture(t *testing.T) {
	fake, s := newPair(t)
	text := strings.TrimSpace(strings.Repeat("label=value ", 250)) // 2999 characters
	r, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890/45", Text: text, Images: []chat.Image{{Data: pngBytes(t, 10, 10)}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 2 || r.MessageID != "1000" {
		t.Fatalf("%d messages, receipt %+v", len(msgs), r)
	}
	caption, rest := msgs[0].Text, msgs[1]
	if chat.UTF16Len(caption) > MaxCaption || !strings.HasSuffix(caption, "label=value…") {
		t.Fatalf("caption of %d units ends %q", chat.UTF16Len(caption), caption[len(caption)-20:])
	}
	if rest.Method != "sendMessage" || rest.ReplyTo != 1000 || rest.ThreadID != 45 {
		t.Fatalf("rest %+v", rest)
	}
	if got := strings.TrimSuffix(caption, "…") + " " + rest.Text; got != text {
		t.Fatalf("text lost in the split:\n%q\n%q", got, text)
	}
}

func TestVeryLongTextIsCut(t *testing.T) {
	fake, s := newPair(t)
	if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: strings.Repeat("x", 9000), Images: []chat.Image{{Data: pngBytes(t, 10, 10)}}}); err != nil {
		t.Fatal(err)
	}
	if rest := fake.Messages()[1].Text; chat.UTF16Len(rest) != MaxText || !strings.HasSuffix(rest, "…") {
		t.Fatalf("rest has %d units", chat.UTF16Len(rest))
	}
	if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: strings.Repeat("😀", 3000)}); err != nil {
		t.Fatal(err)
	}
}

func TestPicturesTelegramRefusesAsPhotosGoAsDocuments(t *testing.T) {
	cases := []struct {
		name string
		img  []byte
	}{
		{"ratio over 20", pngBytes(t, 2100, 100)},
		{"sides over 10000", pngBytes(t, 9600, 480)},
		{"over 10 MB", append(pngBytes(t, 10, 10), make([]byte, MaxPhotoBytes)...)},
		{"not an image", []byte("%PDF-1.7 rendered dashboard")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, s := newPair(t)
			if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: "wide", Images: []chat.Image{{Data: c.img, Filename: "panel.png"}}}); err != nil {
				t.Fatal(err)
			}
			m := fake.Messages()[0]
			if m.Method != "sendDocument" || m.File.Field != "document" || !bytes.Equal(m.File.Data, c.img) || m.Text != "wide" {
				t.Fatalf("message %s %+v", m.Method, m.File.Field)
			}
		})
	}
}

func TestPermalinks(t *testing.T) {
	fake, s := newPair(t)
	fake.AddChat(telegramfake.Chat{ID: -1009876543210, Type: "channel", Username: "panelcast_alerts"})
	fake.AddChat(telegramfake.Chat{ID: 424242, Type: "private"})
	fake.AddChat(telegramfake.Chat{ID: -4242, Type: "group"})
	cases := []struct{ channel, id, link string }{
		{"@panelcast_alerts", "-1009876543210", "https://t.me/panelcast_alerts/1000"},
		{"424242", "424242", ""},
		{"-4242", "-4242", ""},
	}
	for _, c := range cases {
		r, err := s.Send(context.Background(), chat.Message{Channel: c.channel, Text: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if r.ChannelID != c.id || r.Permalink != c.link {
			t.Fatalf("%s: receipt %+v", c.channel, r)
		}
	}
}

func TestErrorsFromTelegram(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(f *telegramfake.Server)
		token   string
		channel string
		code    string
		hint    string
		temp    bool
		wait    time.Duration
	}{
		{name: "bad token", token: "7000000001:wrong", code: "401", hint: "check telegram_bot_token"},
		{name: "unknown chat", channel: "-1009999999999", code: "400", hint: "chat not found: check the chat id in the address and add the bot to the chat."},
		{name: "not a member", setup: func(f *telegramfake.Server) {
			f.AddChat(telegramfake.Chat{ID: group, Bot: telegramfake.Left})
		}, code: "403", hint: "bot is not a member of the supergroup chat: add the bot to the chat"},
		{name: "kicked", setup: func(f *telegramfake.Server) {
			f.AddChat(telegramfake.Chat{ID: group, Bot: telegramfake.Kicked})
		}, code: "403", hint: "bot was kicked from the supergroup chat: add the bot"},
		{name: "no media rights", setup: func(f *telegramfake.Server) {
			f.AddChat(telegramfake.Chat{ID: group, NoMedia: true})
		}, code: "400", hint: "allow the bot to send messages, photos and files"},
		{name: "no such topic", channel: "-1001234567890/46", code: "400", hint: `check the topic id after "/"`},
		{name: "migrated group", setup: func(f *telegramfake.Server) {
			f.AddChat(telegramfake.Chat{ID: -4242, Type: "group", MigratedTo: group})
		}, channel: "-4242", code: "400", hint: "change the address to telegram:-1001234567890."},
		{name: "rate limited", setup: func(f *telegramfake.Server) { f.RateLimitNext(1, 1500*time.Millisecond) },
			code: "429", hint: "rate limiting", temp: true, wait: 2 * time.Second},
		{name: "bad gateway", setup: func(f *telegramfake.Server) { f.FailNext(1, http.StatusBadGateway) },
			code: "502", hint: "server error", temp: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, s := newPair(t)
			if c.setup != nil {
				c.setup(fake)
			}
			if c.token != "" {
				s.token = c.token
			}
			channel := c.channel
			if channel == "" {
				channel = "-1001234567890"
			}
			_, err := s.Send(context.Background(), chat.Message{Channel: channel, Text: "x", Images: []chat.Image{{Data: pngBytes(t, 10, 10)}}})
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

func TestRefusedBeforeSending(t *testing.T) {
	fake, s := newPair(t)
	cases := []struct {
		name string
		m    chat.Message
		code string
		hint string
	}{
		{"channel name", chat.Message{Channel: "#ops", Text: "x"}, "invalid_chat", "not a Telegram chat id"},
		{"no chat", chat.Message{Channel: "", Text: "x"}, "invalid_chat", "telegram:<chat id>"},
		{"bad topic", chat.Message{Channel: "-1001234567890/general", Text: "x"}, "invalid_chat", "is not a topic id"},
		{"too large", chat.Message{Channel: "-1001234567890", Images: []chat.Image{{Data: make([]byte, MaxDocumentBytes+1)}}}, "image_too_large",
			"image is 50.0 MB; Telegram bots can upload 50 MB at most: lower width/height/scale."},
		{"empty", chat.Message{Channel: "-1001234567890", Text: " \n"}, "empty_message", "neither text nor a picture"},
		{"bad thread", chat.Message{Channel: "-1001234567890", Text: "x", ThreadID: "1700000000.123"}, "invalid_thread", "not a Telegram message id"},
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

// rateLimitSecond puts a rate limit on the fake just before the second
// request, so the picture lands and the text after it does not.
type rateLimitSecond struct {
	fake *telegramfake.Server
	n    *int
}

func (r rateLimitSecond) RoundTrip(req *http.Request) (*http.Response, error) {
	*r.n++
	if *r.n == 2 {
		r.fake.RateLimitNext(1, time.Second)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestRestOfTextFailingKeepsTheReceipt(t *testing.T) {
	fake, s := newPair(t)
	s.hc = &http.Client{Transport: rateLimitSecond{fake, new(int)}}
	r, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: strings.Repeat("word ", 300), Images: []chat.Image{{Data: pngBytes(t, 10, 10)}}})
	ce := chatErr(t, err)
	if r.MessageID != "1000" || ce.Temporary || !strings.Contains(ce.Hint, "the picture was posted as message 1000 but the rest of its text was not (Telegram error 429)") {
		t.Fatalf("receipt %+v, error %+v", r, ce)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("%d messages, want the picture only", n)
	}
}

func TestCheck(t *testing.T) {
	_, s := newPair(t)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.token = "7000000001:other"
	if ce := chatErr(t, s.Check(context.Background())); ce.Code != "401" {
		t.Fatalf("got %+v", ce)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	ctx := context.Background()
	m := chat.Message{Channel: "-1001234567890", Text: "x"}

	t.Run("closed server", func(t *testing.T) {
		fake, s := newPair(t)
		fake.Close()
		_, err := s.Send(ctx, m)
		ce := chatErr(t, err)
		if ce.Code != "network" || !ce.Temporary {
			t.Fatalf("got %+v", ce)
		}
		noToken(t, s.Check(ctx))
	})

	t.Run("redirect loop", func(t *testing.T) {
		// http.Client's error here is a *url.Error naming the URL.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		}))
		defer srv.Close()
		s, _ := New(Config{Token: token, APIURL: srv.URL})
		_, err := s.Send(ctx, m)
		ce := chatErr(t, err)
		if !ce.Temporary || !strings.Contains(ce.Hint, "redirects") {
			t.Fatalf("got %+v", ce)
		}
	})

	t.Run("echoed by the server", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"ok":false,"error_code":400,"description":"Bad Request: odd path ` + r.URL.Path + `"}`))
		}))
		defer srv.Close()
		s, _ := New(Config{Token: token, APIURL: srv.URL})
		_, err := s.Send(ctx, m)
		ce := chatErr(t, err)
		if !strings.Contains(ce.Hint, "/bot<telegram_bot_token>/sendMessage") {
			t.Fatalf("got %+v", ce)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		_, s := newPair(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Send(cctx, m)
		noToken(t, err)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []Config{{}, {Token: "not-a-token"}, {Token: token + " x"}, {Token: token, APIURL: "api.telegram.org"}} {
		_, err := New(c)
		if err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
		noToken(t, err)
	}
	s, err := New(Config{Token: " " + token + "\n"})
	if err != nil || s.api != DefaultAPIURL || s.token != token {
		t.Fatalf("defaults: %v", err)
	}
}

func pictures(t *testing.T, sizes ...[2]int) []chat.Image {
	var out []chat.Image
	for i, s := range sizes {
		out = append(out, chat.Image{Data: pngBytes(t, s[0], s[1]), Filename: fmt.Sprintf("p%d.png", i)})
	}
	return out
}

func TestAlbum(t *testing.T) {
	fake, s := newPair(t)
	ctx := context.Background()
	root, err := s.Send(ctx, chat.Message{Channel: "-1001234567890/45", Text: "firing"})
	if err != nil {
		t.Fatal(err)
	}
	imgs := pictures(t, [2]int{40, 20}, [2]int{50, 20}, [2]int{60, 20})
	r, err := s.Send(ctx, chat.Message{Channel: "-1001234567890/45", Text: "three panels", Images: imgs, ThreadID: root.MessageID})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()[1:]
	if len(msgs) != 3 || r.MessageID != fmt.Sprint(msgs[0].MessageID) {
		t.Fatalf("receipt %+v, messages %+v", r, msgs)
	}
	for i, m := range msgs {
		cfg, err := png.DecodeConfig(bytes.NewReader(m.File.Data))
		if m.Method != "sendMediaGroup" || m.MediaGroupID != msgs[0].MediaGroupID || m.File.Field != "photo" ||
			m.ThreadID != 45 || fmt.Sprint(m.ReplyTo) != root.MessageID || err != nil || cfg.Width != 40+10*i {
			t.Fatalf("album item %d: %+v", i, m)
		}
	}
	if msgs[0].Text != "three panels" || msgs[1].Text != "" || msgs[0].ParseMode != "" {
		t.Fatalf("caption belongs on the first item only: %q %q", msgs[0].Text, msgs[1].Text)
	}
}

func TestAlbumOfDocumentsWhenOnePictureIsNoPhoto(t *testing.T) {
	fake, s := newPair(t)
	imgs := pictures(t, [2]int{40, 20}, [2]int{2100, 100})
	if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: "wide", Images: imgs}); err != nil {
		t.Fatal(err)
	}
	for _, m := range fake.Messages() {
		if m.File.Field != "document" {
			t.Fatalf("Telegram groups documents only with documents: %+v", m.File.Field)
		}
	}
}

func TestTooManyPictures(t *testing.T) {
	fake, s := newPair(t)
	imgs := make([]chat.Image, MaxImages+1)
	for i := range imgs {
		imgs[i] = chat.Image{Data: pngBytes(t, 10, 10)}
	}
	_, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Images: imgs})
	if ce := chatErr(t, err); ce.Code != "too_many_images" || ce.Temporary || !strings.Contains(ce.Hint, "Telegram shows at most 10") {
		t.Fatalf("got %+v", ce)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d requests for a message refused up front", n)
	}
	if l := s.Limits(); l.MaxImages != 10 || l.MaxText != 4096 || !l.EditsRoot {
		t.Fatalf("limits %+v", l)
	}
}

// alertHTMLText is an alert as the templates write it: several lines,
// every tag within its line, escaped text.
func alertHTMLText(lines int) string {
	var b strings.Builder
	b.WriteString("<b>🔥 FIRING</b> HighCPU &amp; friends\n")
	for i := range lines {
		fmt.Fprintf(&b, "• <code>instance=web-%d</code> value <b>9%d%%</b> &gt; 90 — <a href=\"https://grafana/d/x?var-host=web-%d&amp;from=now-1h\">panel</a>\n", i, i%10, i)
	}
	return strings.TrimSpace(b.String())
}

func TestHTMLCaptionSplitAtLines(t *testing.T) {
	fake, s := newPair(t)
	text := alertHTMLText(40) // about 2600 characters shown
	if htmlLen(text) <= MaxCaption || htmlLen(text) > MaxCaption+MaxText {
		t.Fatalf("test text shows %d characters", htmlLen(text))
	}
	r, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: text, Markup: true, Images: pictures(t, [2]int{20, 20})})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 2 || msgs[0].ParseMode != "HTML" || msgs[1].ParseMode != "HTML" || fmt.Sprint(msgs[1].ReplyTo) != r.MessageID {
		t.Fatalf("messages %+v", msgs)
	}
	caption, rest := msgs[0].Text, msgs[1].Text
	if htmlLen(caption) > MaxCaption || htmlLen(caption) < MaxCaption*9/10 {
		t.Fatalf("caption shows %d characters", htmlLen(caption))
	}
	// Cut at a line: nothing added, nothing lost, every line whole.
	if caption+"\n"+rest != text {
		t.Fatalf("the split changed the text:\n%q\n%q", caption, rest)
	}
}

func TestHTMLLongTextIsTruncatedAtALine(t *testing.T) {
	fake, s := newPair(t)
	text := alertHTMLText(100) // about 6500 characters shown
	if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: text, Markup: true}); err != nil {
		t.Fatal(err)
	}
	m := fake.Messages()[0]
	if n := htmlLen(m.Text); n > MaxText || n < MaxText*9/10 || !strings.HasSuffix(m.Text, "</a>\n…") {
		t.Fatalf("text shows %d characters and ends %q", n, m.Text[len(m.Text)-20:])
	}
	if !strings.HasPrefix(text, strings.TrimSuffix(m.Text, "\n…")) {
		t.Fatal("the kept part is not the text's beginning")
	}
}

func TestPlainTextSendsNoParseMode(t *testing.T) {
	fake, s := newPair(t)
	if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: "1 < 2 & <p>"}); err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages()[0]; m.ParseMode != "" || m.Text != "1 < 2 & <p>" {
		t.Fatalf("message %+v", m)
	}
}

func TestRootEdit(t *testing.T) {
	for _, c := range []struct {
		name    string
		root    chat.Message
		methods []string
	}{
		{"picture", chat.Message{Text: "<b>FIRING</b>", Markup: true, Images: []chat.Image{{}}}, []string{"editMessageCaption"}},
		{"album", chat.Message{Text: "<b>FIRING</b>", Markup: true, Images: []chat.Image{{}, {}}}, []string{"editMessageCaption"}},
		{"text", chat.Message{Text: "<b>FIRING</b>", Markup: true}, []string{"editMessageCaption", "editMessageText"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake, s := newPair(t)
			ctx := context.Background()
			c.root.Channel = "-1001234567890"
			for i := range c.root.Images {
				c.root.Images[i].Data = pngBytes(t, 20, 20)
			}
			root, err := s.Send(ctx, c.root)
			if err != nil {
				t.Fatal(err)
			}
			resolve := chat.Message{Channel: "-1001234567890", Text: "<b>RESOLVED</b>", Markup: true, ThreadID: root.MessageID,
				RootText: "<s>FIRING</s> <b>RESOLVED</b>", Images: []chat.Image{{Data: pngBytes(t, 20, 20)}}}
			r, err := s.Send(ctx, resolve)
			if err != nil {
				t.Fatal(err)
			}
			var methods []string
			for _, call := range fake.Calls() {
				if strings.HasPrefix(call.Method, "edit") {
					methods = append(methods, call.Method)
				}
			}
			if fmt.Sprint(methods) != fmt.Sprint(c.methods) {
				t.Fatalf("edits %v, want %v", methods, c.methods)
			}
			first := fake.Messages()[0]
			if first.Text != resolve.RootText || first.ParseMode != "HTML" || first.Edits != 1 {
				t.Fatalf("first message %+v", first)
			}
			// A retry edits to the same text: Telegram says "not modified",
			// which is no failure.
			if _, err := s.Send(ctx, resolve); err != nil {
				t.Fatalf("repeated edit: %v", err)
			}
			if r.MessageID == root.MessageID {
				t.Fatal("the reply has the root's id")
			}
		})
	}
}

func TestRootEditFailureKeepsTheReply(t *testing.T) {
	fake, s := newPair(t)
	ctx := context.Background()
	root, err := s.Send(ctx, chat.Message{Channel: "-1001234567890", Text: "firing", Images: pictures(t, [2]int{20, 20})})
	if err != nil {
		t.Fatal(err)
	}
	fake.DeleteMessage(group, 1000)
	r, err := s.Send(ctx, chat.Message{Channel: "-1001234567890", Text: "resolved", ThreadID: root.MessageID, RootText: "resolved"})
	ce := chatErr(t, err)
	if r.MessageID != "1001" || ce.Temporary || ce.Code != "400" ||
		!strings.Contains(ce.Hint, "the reply was posted as message 1001, but editing the thread's first message failed") ||
		!strings.Contains(ce.Hint, "message to edit not found") {
		t.Fatalf("receipt %+v, error %+v", r, ce)
	}
	if n := len(fake.Messages()); n != 2 {
		t.Fatalf("%d messages, want the root and the reply", n)
	}
}

func TestPacingKeepsAStormWithinTheLimits(t *testing.T) {
	fake, s := newPair(t)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 25 {
		wg.Go(func() {
			if _, err := s.Send(context.Background(), chat.Message{Channel: "-1001234567890", Text: fmt.Sprintf("alert %d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, c := range fake.Calls() {
		if c.Status == http.StatusTooManyRequests {
			t.Fatalf("a paced storm got a 429: %+v", fake.Calls())
		}
	}
	// 25 messages at 20 per 400ms in a group: the last five wait a window.
	if d := time.Since(start); d < testGroupLimit.Per {
		t.Fatalf("25 messages took %v, less than the group window", d)
	}
}

func TestAfterA429EverythingWaits(t *testing.T) {
	fake, _ := newPair(t)
	fake.SetLimits(telegramfake.Limits{Chat: faults.Limit{N: 1, Per: 300 * time.Millisecond}})
	s, err := New(Config{Token: token, APIURL: fake.URL(), ChatLimit: chat.Limit{N: -1}, GroupLimit: chat.Limit{N: -1}, GlobalLimit: chat.Limit{N: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := chat.Message{Channel: "-1001234567890", Text: "x"}
	if _, err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Not paced, so Telegram refuses: retry after 1 s.
	_, err = s.Send(ctx, m)
	if ce := chatErr(t, err); ce.Code != "429" || ce.RetryAfter != time.Second {
		t.Fatalf("got %+v", ce)
	}
	start := time.Now()
	if _, err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("the next send went %v after the 429", d)
	}
}
