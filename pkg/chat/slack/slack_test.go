package slack

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
	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/pkg/chat"
)

const testToken = "xoxb-123-456-s3cr3tT0k3n"

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

// testChannelLimit is Slack's message rate scaled down to milliseconds;
// the tiers stay as documented. No test may call while told to wait.
var testChannelLimit = chat.Limit{N: 1, Per: 20 * time.Millisecond}

func newFake(t *testing.T) *slackfake.Server {
	t.Helper()
	f := slackfake.New(testToken)
	t.Cleanup(f.Close)
	f.SetShareDelay(150 * time.Millisecond)
	f.SetLimits(slackfake.Limits{Post: faults.Limit{N: testChannelLimit.N, Per: testChannelLimit.Per}, Methods: slackfake.DefaultLimits.Methods})
	t.Cleanup(func() {
		if v := f.Violations(); len(v) > 0 {
			t.Errorf("calls made while told to wait: %+v", v)
		}
	})
	return f
}

func newSender(t *testing.T, f *slackfake.Server, token string) *Sender {
	t.Helper()
	s, err := New(Config{Token: token, APIURL: f.APIURL(), ShareWait: 2 * time.Second, ChannelLimit: testChannelLimit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendPictureResolvesNameWithPaging(t *testing.T) {
	f := newFake(t)
	f.SetPageSize(2)
	for i, name := range []string{"general", "random", "dev", "alerts"} {
		f.AddChannel("C00000000"+string(rune('A'+i)), name, false)
	}
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	pic := testPNG(t)

	r, err := s.Send(context.Background(), chat.Message{Channel: "#ops", Text: "CPU high", Images: []chat.Image{{Data: pic, Filename: "cpu.png"}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ChannelID != "C0000OPS1" || m.Text != "CPU high" || m.ThreadTS != "" || m.Method != "files.completeUploadExternal" {
		t.Fatalf("message = %+v", m)
	}
	if len(m.Files) != 1 || m.Files[0].Name != "cpu.png" {
		t.Fatalf("files = %+v", m.Files)
	}
	checkPNG(t, m.Files[0].Data)
	if r.ChannelID != "C0000OPS1" || r.MessageID != m.TS {
		t.Fatalf("receipt = %+v, want channel C0000OPS1 and ts %s", r, m.TS)
	}
	if want := "/archives/C0000OPS1/p" + strings.ReplaceAll(m.TS, ".", ""); !strings.HasSuffix(r.Permalink, want) {
		t.Fatalf("permalink %q does not end in %q", r.Permalink, want)
	}
	// Five channels in pages of two: ops is on the third page.
	if n := f.Calls("conversations.list"); n != 3 {
		t.Fatalf("conversations.list called %d times, want 3", n)
	}

	if _, err := s.Send(context.Background(), chat.Message{Channel: "ops", Text: "again"}); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("conversations.list"); n != 3 {
		t.Fatalf("a cached name was looked up again: conversations.list called %d times", n)
	}
}

func TestThreadReplies(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	ctx := context.Background()

	first, err := s.Send(ctx, chat.Message{Channel: "C0000OPS1", Text: "firing", Images: []chat.Image{{Data: testPNG(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	if first.MessageID == "" {
		t.Fatal("no message id for the upload")
	}
	textReply, err := s.Send(ctx, chat.Message{Channel: "C0000OPS1", Text: "resolved", ThreadID: first.MessageID})
	if err != nil {
		t.Fatal(err)
	}
	picReply, err := s.Send(ctx, chat.Message{Channel: "#ops", Text: "resolved, now", Images: []chat.Image{{Data: testPNG(t)}}, ThreadID: first.MessageID})
	if err != nil {
		t.Fatal(err)
	}

	msgs := f.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3", len(msgs))
	}
	if msgs[1].ThreadTS != first.MessageID || msgs[1].Text != "resolved" || msgs[1].Method != "chat.postMessage" {
		t.Fatalf("text reply = %+v", msgs[1])
	}
	if msgs[2].ThreadTS != first.MessageID || len(msgs[2].Files) != 1 {
		t.Fatalf("picture reply = %+v", msgs[2])
	}
	checkPNG(t, msgs[2].Files[0].Data)
	if textReply.MessageID != msgs[1].TS || picReply.MessageID != msgs[2].TS {
		t.Fatalf("receipts %+v %+v do not match messages %s %s", textReply, picReply, msgs[1].TS, msgs[2].TS)
	}
	if !strings.Contains(picReply.Permalink, "thread_ts="+first.MessageID) {
		t.Fatalf("reply permalink %q does not point into the thread", picReply.Permalink)
	}
}

func TestTextOnlyByID(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	r, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "hello <b> & co"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if len(msgs) != 1 || msgs[0].Text != "hello <b> & co" || len(msgs[0].Files) != 0 || r.MessageID != msgs[0].TS {
		t.Fatalf("messages %+v, receipt %+v", msgs, r)
	}
	if f.Calls("conversations.list") != 0 {
		t.Fatal("an id was looked up with conversations.list")
	}
}

func TestSlowShareKeepsTheSend(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	f.SetShareDelay(1500 * time.Millisecond)
	s, err := New(Config{Token: testToken, APIURL: f.APIURL(), ShareWait: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "x", Images: []chat.Image{{Data: testPNG(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("Send waited %v for the share, the bound is 300ms", waited)
	}
	if r.MessageID != "file:"+f.Messages()[0].Files[0].ID || !strings.Contains(r.Permalink, "/files/") || len(f.Messages()) != 1 {
		t.Fatalf("receipt %+v: want the file as the message id and the file's permalink", r)
	}
	// A reply to it looks the ts up once Slack has it: retried before.
	soon, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = s.Send(soon, chat.Message{Channel: "C0000OPS1", Text: "reply", ThreadID: r.MessageID})
	var ce *chat.Error
	if !errors.As(err, &ce) || !ce.Temporary || ce.Code != "thread_unknown" {
		t.Fatalf("reply before the share: %v, want a temporary thread_unknown", err)
	}
	time.Sleep(time.Until(start.Add(1600 * time.Millisecond)))
	reply, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "reply", ThreadID: r.MessageID})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := f.Messages(); len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS || reply.MessageID != msgs[1].TS {
		t.Fatalf("reply %+v in thread %q, want %q", reply, msgs[len(msgs)-1].ThreadTS, msgs[0].TS)
	}
}

func TestPublicNamesResolveWithoutGroupsRead(t *testing.T) {
	f := newFake(t)
	f.SetScopes("chat:write", "files:write", "files:read", "channels:read")
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	r, err := s.Send(context.Background(), chat.Message{Channel: "#ops", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ChannelID != "C0000OPS1" {
		t.Fatalf("receipt %+v", r)
	}
}

func TestConcurrentSendsWalkTheListOnce(t *testing.T) {
	f := newFake(t)
	f.SetPageSize(1)
	f.AddChannel("C0000AAA1", "a", false)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.Send(context.Background(), chat.Message{Channel: "#ops", Text: "x", Images: []chat.Image{{Data: testPNG(t)}}})
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
	if n := len(f.Messages()); n != 8 {
		t.Fatalf("%d messages, want 8", n)
	}
	if n := f.Calls("conversations.list"); n != 2 {
		t.Fatalf("conversations.list called %d times, want one walk of 2 pages", n)
	}
}

func TestSendErrors(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(f *slackfake.Server)
		token     string
		msg       chat.Message
		code      string
		hint      string
		temporary bool
		retry     time.Duration
	}{
		{name: "bot not in channel", setup: func(f *slackfake.Server) { f.SetMember("C0000OPS1", false) },
			msg: chat.Message{Channel: "#ops", Text: "x", Images: []chat.Image{{Data: []byte("png")}}}, code: "not_in_channel",
			hint: "invite the bot to #ops with /invite @panelcast"},
		{name: "bot not in channel, text", setup: func(f *slackfake.Server) { f.SetMember("C0000OPS1", false) },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x"}, code: "not_in_channel",
			hint: "invite the bot to channel C0000OPS1 with /invite @panelcast"},
		{name: "unknown name", msg: chat.Message{Channel: "#nope", Text: "x"}, code: "channel_not_found",
			hint: "check the channel name; private channels need groups:read and the bot invited"},
		{name: "private channel without the bot",
			setup: func(f *slackfake.Server) { f.AddPrivateChannel("G0000SEC1", "secret", false) },
			msg:   chat.Message{Channel: "#secret", Text: "x"}, code: "channel_not_found", hint: "groups:read"},
		{name: "unknown id", msg: chat.Message{Channel: "C0000GONE", Text: "x", Images: []chat.Image{{Data: []byte("png")}}},
			code: "channel_not_found", hint: "check the channel name"},
		{name: "wrong token", token: "xoxb-wrong-0000", msg: chat.Message{Channel: "C0000OPS1", Text: "x"},
			code: "invalid_auth", hint: "check slack_bot_token"},
		{name: "revoked token", setup: func(f *slackfake.Server) { f.RevokeToken() },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x"}, code: "token_revoked", hint: "check slack_bot_token"},
		{name: "no files:write", setup: func(f *slackfake.Server) { f.SetScopes("chat:write", "channels:read") },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x", Images: []chat.Image{{Data: []byte("png")}}}, code: "missing_scope",
			hint: "add the files:write scope to the Slack app and reinstall it"},
		{name: "no channels:read", setup: func(f *slackfake.Server) { f.SetScopes("chat:write", "files:write") },
			msg: chat.Message{Channel: "#ops", Text: "x"}, code: "missing_scope", hint: "add the channels:read scope"},
		{name: "rate limited", setup: func(f *slackfake.Server) { f.RateLimitNext(1, 7*time.Second) },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x"}, code: "ratelimited", temporary: true, retry: 7 * time.Second},
		{name: "rate limited upload", setup: func(f *slackfake.Server) { f.RateLimitNext(1, 2*time.Second) },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x", Images: []chat.Image{{Data: []byte("png")}}}, code: "ratelimited",
			temporary: true, retry: 2 * time.Second},
		{name: "Slack down", setup: func(f *slackfake.Server) { f.FailNext(1, 503) },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x"}, code: "503", hint: "retry later", temporary: true},
		{name: "archived", setup: func(f *slackfake.Server) { f.Archive("C0000OPS1") },
			msg: chat.Message{Channel: "C0000OPS1", Text: "x"}, code: "is_archived", hint: "unarchive"},
		{name: "thread gone", msg: chat.Message{Channel: "C0000OPS1", Text: "x", ThreadID: "1.000001"},
			code: "invalid_thread_ts", hint: "send without a thread"},
		{name: "nothing to send", msg: chat.Message{Channel: "C0000OPS1", Text: " "}, code: "no_text"},
		{name: "empty picture", msg: chat.Message{Channel: "C0000OPS1", Text: "x", Images: []chat.Image{{Data: []byte{}}}}, code: "empty_image"},
		{name: "bad address", msg: chat.Message{Channel: "#two words", Text: "x"}, code: "invalid_channel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.AddChannel("C0000OPS1", "ops", true)
			if tc.setup != nil {
				tc.setup(f)
			}
			token := testToken
			if tc.token != "" {
				token = tc.token
			}
			_, err := newSender(t, f, token).Send(context.Background(), tc.msg)
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
	if ce.Provider != "slack" || ce.Code != code {
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
	f := slackfake.New(testToken)
	api := f.APIURL()
	f.Close()
	s, err := New(Config{Token: testToken, APIURL: api})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "x"})
	checkError(t, err, "unreachable", "check the network and slack_api_url", true, 0)
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("the token leaked into %q", err)
	}
}

func TestCheck(t *testing.T) {
	f := newFake(t)
	if err := newSender(t, f, testToken).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := newSender(t, f, "xoxb-nope").Check(context.Background())
	checkError(t, err, "invalid_auth", "check slack_bot_token", false, 0)

	f.SetScopes("chat:write", "files:write", "channels:read")
	err = newSender(t, f, testToken).Check(context.Background())
	checkError(t, err, "missing_scope", "add the files:read scope to the Slack app and reinstall it", false, 0)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Token: " "}, {Token: testToken, APIURL: "slack.com/api"}, {Token: testToken, APIURL: "ftp://x/"}} {
		_, err := New(cfg)
		if err == nil {
			t.Fatalf("New(%+v) accepted it", cfg)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Fatalf("the token leaked into %q", err)
		}
	}
	s, err := New(Config{Token: testToken, APIURL: "http://127.0.0.1:1/api"})
	if err != nil || s.Name() != "slack" {
		t.Fatalf("New: %v", err)
	}
}

func TestNoFilesReadKeepsTheSendAndLogsNoToken(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	f.SetScopes("chat:write", "files:write", "channels:read")
	var logs bytes.Buffer
	s, err := New(Config{Token: testToken, APIURL: f.APIURL(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "x", Images: []chat.Image{{Data: testPNG(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.MessageID != "" || len(f.Messages()) != 1 {
		t.Fatalf("receipt %+v: the upload is out but its ts cannot be known without files:read", r)
	}
	if !strings.Contains(logs.String(), "add the files:read scope") {
		t.Fatalf("the log does not say what to fix:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), testToken) {
		t.Fatalf("the token leaked into the log:\n%s", logs.String())
	}
}

func TestSeveralPicturesInOneMessage(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	imgs := make([]chat.Image, MaxFiles)
	for i := range imgs {
		imgs[i] = chat.Image{Data: testPNG(t), Filename: fmt.Sprintf("p%d.png", i), AltText: fmt.Sprintf("panel %d", i)}
	}
	imgs[1].Title = "Memory"
	r, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "ten panels", Images: imgs})
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if len(msgs) != 1 || msgs[0].TS != r.MessageID || len(msgs[0].Files) != MaxFiles || msgs[0].Text != "ten panels" {
		t.Fatalf("receipt %+v, messages %+v", r, msgs)
	}
	for i, file := range msgs[0].Files {
		checkPNG(t, file.Data)
		if file.Name != fmt.Sprintf("p%d.png", i) || file.AltText != fmt.Sprintf("panel %d", i) {
			t.Fatalf("file %d: %+v", i, file.Name)
		}
	}
	if msgs[0].Files[0].Title != "p0.png" || msgs[0].Files[1].Title != "Memory" {
		t.Fatalf("titles %q %q", msgs[0].Files[0].Title, msgs[0].Files[1].Title)
	}
	if n := f.Calls("files.completeUploadExternal"); n != 1 {
		t.Fatalf("%d completions, want one message for all files", n)
	}
	_, err = s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Images: append(imgs, imgs[0])})
	checkError(t, err, "too_many_images", "Slack shows at most 10", false, 0)
}

func TestMarkupIsCutAtALine(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	var b strings.Builder
	for i := range 900 {
		fmt.Fprintf(&b, "*web-%d* `cpu=9%d%%` <https://grafana/d/x?var-host=web-%d|panel>\n", i, i%10, i)
	}
	if _, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: b.String(), Markup: true}); err != nil {
		t.Fatal(err)
	}
	got := f.Messages()[0].Text
	if chat.UTF16Len(got) > MaxText || !strings.HasSuffix(got, "|panel>\n…") || !strings.HasPrefix(b.String(), strings.TrimSuffix(got, "\n…")) {
		t.Fatalf("text of %d units ends %q", chat.UTF16Len(got), got[len(got)-20:])
	}
}

func TestRootEdit(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	ctx := context.Background()
	root, err := s.Send(ctx, chat.Message{Channel: "#ops", Text: ":fire: FIRING", Images: []chat.Image{{Data: testPNG(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, chat.Message{Channel: "#ops", Text: "resolved", ThreadID: root.MessageID, RootText: "~FIRING~ :white_check_mark: RESOLVED", Markup: true}); err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages()
	if msgs[0].Text != "~FIRING~ :white_check_mark: RESOLVED" || msgs[0].Edits != 1 || len(msgs[0].Files) != 1 || msgs[1].ThreadTS != root.MessageID {
		t.Fatalf("messages %+v", msgs)
	}
	f.MarkForeign(root.MessageID)
	r, err := s.Send(ctx, chat.Message{Channel: "#ops", Text: "again", ThreadID: root.MessageID, RootText: "x"})
	checkError(t, err, "cant_update_message", "the reply was posted as message "+r.MessageID+", but editing the thread's first message failed", false, 0)
	if r.MessageID == "" || len(f.Messages()) != 3 {
		t.Fatalf("receipt %+v", r)
	}
}

func TestPacingKeepsAStormWithinTheLimits(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	f.SetShareDelay(0)
	// files.info and the upload methods at 10 per 200ms: the storm's
	// uploads outrun it and must wait.
	tier := faults.Limit{N: 10, Per: 200 * time.Millisecond}
	f.SetLimits(slackfake.Limits{Post: faults.Limit{N: testChannelLimit.N, Per: testChannelLimit.Per},
		Methods: map[string]faults.Limit{"files.info": tier, "files.getUploadURLExternal": tier, "files.completeUploadExternal": tier}})
	ptier := chat.Limit{N: tier.N, Per: tier.Per}
	s, err := New(Config{Token: testToken, APIURL: f.APIURL(), ShareWait: 5 * time.Second, ChannelLimit: testChannelLimit,
		MethodLimits: map[string]chat.Limit{"files.info": ptier, "files.getUploadURLExternal": ptier, "files.completeUploadExternal": ptier},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 25)
	for i := range 25 {
		wg.Go(func() {
			r, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: fmt.Sprint(i), Images: []chat.Image{{Data: testPNG(t)}}})
			if err == nil && r.MessageID == "" {
				err = errors.New("no ts for an upload")
			}
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
	if n := len(f.Messages()); n != 25 {
		t.Fatalf("%d messages, want 25", n)
	}
}

func TestAfterA429EverythingWaits(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	s := newSender(t, f, testToken)
	f.RateLimitNext(1, time.Second)
	_, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "x"})
	checkError(t, err, "ratelimited", "", true, time.Second)
	start := time.Now()
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: "y"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("the next call went %v after a 429 asking for 1s", d)
	}
}

// Replicas posting as one bot share its limits through Pace: together
// they keep to the channel's rate, as one Sender would.
func TestSendersOfOneBotShareItsLimits(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0000OPS1", "ops", true)
	shared := &chat.MemoryPace{}
	var wg sync.WaitGroup
	errs := make(chan error, 15)
	for range 3 {
		s, err := New(Config{Token: testToken, APIURL: f.APIURL(), ChannelLimit: testChannelLimit, Pace: shared,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			wg.Go(func() {
				_, err := s.Send(context.Background(), chat.Message{Channel: "C0000OPS1", Text: fmt.Sprint(i)})
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, limited := len(f.Messages()), f.RateLimited(); n != 15 || limited != 0 {
		t.Fatalf("%d messages and %d answers 429, want 15 and none", n, limited)
	}
}
