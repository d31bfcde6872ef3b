package mattermost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
	"github.com/panelcast/panelcast/internal/fakechat/mattermostfake"
	"github.com/panelcast/panelcast/pkg/chat"
)

const testToken = "mmtok4s3cr3tq8xw7e6r5t4y3u2"

// testPNG draws a small picture with a marked pixel, so a test can tell the
// real upload from any other bytes.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{R: uint8(x * 6), G: uint8(y * 8), B: 90, A: 255})
		}
	}
	img.Set(7, 5, color.RGBA{R: 255, G: 0, B: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checkPNG(t *testing.T, data []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the upload is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 40 || b.Dy() != 30 {
		t.Fatalf("the upload is %v, want 40x30", b)
	}
	if r, g, b, _ := img.At(7, 5).RGBA(); r>>8 != 255 || g>>8 != 0 || b>>8 != 255 {
		t.Fatalf("the marked pixel is %v, want magenta", img.At(7, 5))
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newFake starts a fake with its rate limiter on at the documented
// default; no test may send while told to wait.
func newFake(t *testing.T) (*mattermostfake.Server, string) {
	t.Helper()
	f := mattermostfake.New(testToken, "eng")
	t.Cleanup(f.Close)
	t.Cleanup(func() {
		if v := f.Violations(); len(v) > 0 {
			t.Errorf("requests sent while told to wait: %+v", v)
		}
	})
	ops := f.AddChannel("", "ops", true)
	return f, ops
}

func newSender(t *testing.T, f *mattermostfake.Server, token, team string) *Sender {
	t.Helper()
	s, err := New(Config{URL: f.URL() + "/", Token: token, Team: team, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendPictureByName(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "eng")
	r, err := s.Send(context.Background(), chat.Message{Channel: "ops", Text: "CPU high", Images: []chat.Image{{Data: testPNG(t), Filename: "cpu.png"}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d posts, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ChannelID != ops || m.Text != "CPU high" || m.RootID != "" || len(m.Files) != 1 || m.Files[0].Name != "cpu.png" {
		t.Fatalf("post = %+v", m)
	}
	checkPNG(t, m.Files[0].Data)
	if r.MessageID != m.PostID || r.ChannelID != ops || r.Permalink != f.URL()+"/eng/pl/"+m.PostID {
		t.Fatalf("receipt = %+v", r)
	}
	if m.PendingPostID != "" {
		t.Fatal("pending_post_id was sent though its deduplication is undocumented")
	}

	if _, err := s.Send(context.Background(), chat.Message{Channel: "#ops", Text: "again"}); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(mattermostfake.RouteChannelByName); n != 1 {
		t.Fatalf("the channel name was looked up %d times, want once", n)
	}
}

func TestThreadReplies(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "eng")
	ctx := context.Background()
	root, err := s.Send(ctx, chat.Message{Channel: ops, Text: "firing", Images: []chat.Image{{Data: testPNG(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	text, err := s.Send(ctx, chat.Message{Channel: ops, Text: "resolved", ThreadID: root.MessageID})
	if err != nil {
		t.Fatal(err)
	}
	pic, err := s.Send(ctx, chat.Message{Channel: "ops", Text: "now", Images: []chat.Image{{Data: testPNG(t)}}, ThreadID: root.MessageID})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if len(msgs) != 3 || msgs[1].RootID != root.MessageID || msgs[2].RootID != root.MessageID ||
		msgs[1].PostID != text.MessageID || msgs[2].PostID != pic.MessageID || len(msgs[1].Files) != 0 {
		t.Fatalf("posts %+v", msgs)
	}
	checkPNG(t, msgs[2].Files[0].Data)
}

func TestChannelIDWithoutTeam(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "")
	r, err := s.Send(context.Background(), chat.Message{Channel: ops, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Permalink != "" || r.ChannelID != ops {
		t.Fatalf("receipt %+v: without a team there is no permalink", r)
	}
	_, err = s.Send(context.Background(), chat.Message{Channel: "ops", Text: "hi"})
	checkError(t, err, "no_team", "set mattermost_team", false, 0)
}

func TestConcurrentSends(t *testing.T) {
	f, _ := newFake(t)
	s := newSender(t, f, testToken, "eng")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.Send(context.Background(), chat.Message{Channel: "ops", Text: "x", Images: []chat.Image{{Data: testPNG(t)}}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range f.Messages() {
		if len(m.Files) != 1 {
			t.Fatalf("post %+v lost its picture", m)
		}
	}
}

func TestSendErrors(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(f *mattermostfake.Server, ops string)
		token     string
		msg       func(ops string) chat.Message
		code      string
		hint      string
		temporary bool
		retry     time.Duration
	}{
		{name: "wrong token", token: "wrongtoken1234567890abcdef",
			msg:  func(ops string) chat.Message { return chat.Message{Channel: ops, Text: "x"} },
			code: "api.context.session_expired.app_error", hint: "check mattermost_token"},
		{name: "bot not in channel", setup: func(f *mattermostfake.Server, ops string) { f.SetMember(ops, false) },
			msg: func(string) chat.Message {
				return chat.Message{Channel: "ops", Text: "x", Images: []chat.Image{{Data: []byte("png")}}}
			},
			code: "api.context.permissions.app_error", hint: "add the bot to team eng and to channel ops"},
		{name: "bot in neither team nor channel", setup: func(f *mattermostfake.Server, ops string) {
			f.SetMember(ops, false)
			f.SetTeamMember(false)
		}, msg: func(string) chat.Message { return chat.Message{Channel: "ops", Text: "x"} },
			code: "api.context.permissions.app_error", hint: "add the bot to team eng"},
		{name: "unknown channel", msg: func(string) chat.Message { return chat.Message{Channel: "nope", Text: "x"} },
			code: "app.channel.get_by_name.missing.app_error", hint: "check the channel name and mattermost_team"},
		{name: "private channel without the bot",
			setup: func(f *mattermostfake.Server, _ string) { f.AddPrivateChannel("", "secret", false) },
			msg:   func(string) chat.Message { return chat.Message{Channel: "secret", Text: "x"} },
			code:  "app.channel.get_by_name.missing.app_error", hint: "private channel needs the bot"},
		{name: "picture too large", setup: func(f *mattermostfake.Server, _ string) { f.SetMaxFileSize(10) },
			msg: func(ops string) chat.Message {
				return chat.Message{Channel: ops, Text: "x", Images: []chat.Image{{Data: bytes.Repeat([]byte("x"), 11)}}}
			},
			code: "api.file.upload_file.too_large_detailed.app_error", hint: "larger than the server's MaxFileSize"},
		{name: "rate limited", setup: func(f *mattermostfake.Server, _ string) { f.RateLimitNext(1, 3*time.Second) },
			msg:  func(ops string) chat.Message { return chat.Message{Channel: ops, Text: "x"} },
			code: "429", hint: "rate-limited", temporary: true, retry: 3 * time.Second},
		{name: "server down", setup: func(f *mattermostfake.Server, _ string) { f.FailNext(1, 502) },
			msg:  func(ops string) chat.Message { return chat.Message{Channel: ops, Text: "x"} },
			code: "502", hint: "retry later", temporary: true},
		{name: "thread root gone", msg: func(ops string) chat.Message {
			return chat.Message{Channel: ops, Text: "x", ThreadID: mattermostfake.NewID()}
		}, code: "api.post.create_post.root_id.app_error", hint: "send without a thread"},
		{name: "nothing to send", msg: func(ops string) chat.Message { return chat.Message{Channel: ops} }, code: "no_text"},
		{name: "empty picture", msg: func(ops string) chat.Message {
			return chat.Message{Channel: ops, Images: []chat.Image{{Data: []byte{}}}}
		}, code: "empty_image"},
		{name: "bad address", msg: func(string) chat.Message { return chat.Message{Channel: "a/../b", Text: "x"} }, code: "invalid_channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, ops := newFake(t)
			if tc.setup != nil {
				tc.setup(f, ops)
			}
			token := testToken
			if tc.token != "" {
				token = tc.token
			}
			_, err := newSender(t, f, token, "eng").Send(context.Background(), tc.msg(ops))
			checkError(t, err, tc.code, tc.hint, tc.temporary, tc.retry)
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), token) {
				t.Fatalf("the token leaked into %q", err)
			}
		})
	}
}

func checkError(t *testing.T, err error, code, hint string, temporary bool, retry time.Duration) {
	t.Helper()
	var ce *chat.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *chat.Error", err, err)
	}
	if ce.Provider != "mattermost" || ce.Code != code {
		t.Fatalf("error %q: want code %q", err, code)
	}
	if !strings.Contains(ce.Hint, hint) {
		t.Fatalf("hint %q does not contain %q", ce.Hint, hint)
	}
	if tmp, after := chat.IsTemporary(err); tmp != temporary || after != retry {
		t.Fatalf("IsTemporary = %v, %v; want %v, %v", tmp, after, temporary, retry)
	}
}

func TestUnreachable(t *testing.T) {
	f := mattermostfake.New(testToken, "eng")
	base := f.URL()
	f.Close()
	s, err := New(Config{URL: base, Token: testToken, Team: "eng"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), chat.Message{Channel: "ops", Text: "x"})
	checkError(t, err, "unreachable", "check the network and mattermost_url", true, 0)
}

func TestCheck(t *testing.T) {
	f, _ := newFake(t)
	if err := newSender(t, f, testToken, "eng").Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := newSender(t, f, testToken, "").Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := newSender(t, f, "badbadbadbadbadbadbadbadba", "eng").Check(context.Background())
	checkError(t, err, "api.context.session_expired.app_error", "check mattermost_token", false, 0)
	if strings.Contains(err.Error(), "badbadbadbadbadbadbadbadba") {
		t.Fatalf("the token leaked into %q", err)
	}
	err = newSender(t, f, testToken, "sales").Check(context.Background())
	checkError(t, err, "app.team.get_by_name.missing.app_error", "check mattermost_team", false, 0)
	f.SetTeamMember(false)
	err = newSender(t, f, testToken, "eng").Check(context.Background())
	checkError(t, err, "api.context.permissions.app_error", "add the bot to the team", false, 0)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{URL: "https://x"}, {URL: "x.example.com", Token: testToken}, {URL: "", Token: testToken}} {
		_, err := New(cfg)
		if err == nil {
			t.Fatalf("New(%+v) accepted it", cfg)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Fatalf("the token leaked into %q", err)
		}
	}
}

func TestSeveralPicturesInOnePost(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "eng")
	imgs := make([]chat.Image, MaxFiles)
	for i := range imgs {
		imgs[i] = chat.Image{Data: testPNG(t), Filename: fmt.Sprintf("p%d.png", i)}
	}
	r, err := s.Send(context.Background(), chat.Message{Channel: ops, Text: "five", Images: imgs})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if len(msgs) != 1 || msgs[0].PostID != r.MessageID || len(msgs[0].Files) != MaxFiles {
		t.Fatalf("posts %+v", msgs)
	}
	for i, file := range msgs[0].Files {
		if file.Name != fmt.Sprintf("p%d.png", i) {
			t.Fatalf("file %d is %s: the order is lost", i, file.Name)
		}
		checkPNG(t, file.Data)
	}
	if n := f.Calls(mattermostfake.RouteUploadFile); n != 1 {
		t.Fatalf("%d uploads, want one request for all files", n)
	}
	_, err = s.Send(context.Background(), chat.Message{Channel: ops, Images: append(imgs, imgs[0])})
	checkError(t, err, "too_many_images", "Mattermost shows at most 5", false, 0)
}

func TestMarkdownIsCutAtALine(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "eng")
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "| web-%d | **9%d%%** | [panel](https://grafana/d/x?var-host=web-%d) |\n", i, i%10, i)
	}
	if _, err := s.Send(context.Background(), chat.Message{Channel: ops, Text: b.String(), Markup: true}); err != nil {
		t.Fatal(err)
	}
	got := f.Messages()[0].Text
	if chat.UTF16Len(got) > MaxMessage || !strings.HasSuffix(got, "|\n…") || !strings.HasPrefix(b.String(), strings.TrimSuffix(got, "\n…")) {
		t.Fatalf("message of %d units ends %q", chat.UTF16Len(got), got[len(got)-20:])
	}
}

func TestRootEdit(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "eng")
	ctx := context.Background()
	root, err := s.Send(ctx, chat.Message{Channel: ops, Text: ":fire: FIRING", Images: []chat.Image{{Data: testPNG(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, chat.Message{Channel: ops, Text: "resolved", ThreadID: root.MessageID, RootText: "~~FIRING~~ RESOLVED", Markup: true}); err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if msgs[0].Text != "~~FIRING~~ RESOLVED" || msgs[0].Edits != 1 || len(msgs[0].Files) != 1 || msgs[1].RootID != root.MessageID {
		t.Fatalf("posts %+v", msgs)
	}
	f.MarkForeign(root.MessageID)
	r, err := s.Send(ctx, chat.Message{Channel: ops, Text: "again", ThreadID: root.MessageID, RootText: "x"})
	checkError(t, err, "api.context.permissions.app_error", "the reply was posted as message "+r.MessageID+", but editing the thread's first message failed", false, 0)
	if r.MessageID == "" || len(f.Messages()) != 3 {
		t.Fatalf("receipt %+v", r)
	}
}

func TestPacingByTheLimitersHeaders(t *testing.T) {
	f, ops := newFake(t)
	s := newSender(t, f, testToken, "eng")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.Send(context.Background(), chat.Message{Channel: ops, Text: fmt.Sprint(i), Images: []chat.Image{{Data: testPNG(t)}}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 16 requests against 10 per second: the limiter said when to stop.
	if n := len(f.Messages()); n != 8 {
		t.Fatalf("%d posts, want 8", n)
	}
}

func TestAfterA429EverythingWaits(t *testing.T) {
	f, ops := newFake(t)
	f.SetRateLimit(faults.Limit{})
	s := newSender(t, f, testToken, "eng")
	f.RateLimitNext(1, time.Second)
	_, err := s.Send(context.Background(), chat.Message{Channel: ops, Text: "x"})
	checkError(t, err, "429", "rate-limited", true, time.Second)
	start := time.Now()
	if _, err := s.Send(context.Background(), chat.Message{Channel: ops, Text: "y"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("the next request went %v after a 429 asking for 1s", d)
	}
}
