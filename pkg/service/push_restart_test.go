package service

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/secret"
)

// The child of TestPushRestartDeliversEachPushOnce is this test binary with
// these variables set.
const (
	restartChildEnv = "PANELCAST_PUSH_RESTART_CHILD"
	restartPushes   = 6
)

// TestPushRestartChild is the Panelcast that TestPushRestartDeliversEachPushOnce
// kills: it queues pushes and sends them until it is killed.
func TestPushRestartChild(t *testing.T) {
	env := os.Getenv(restartChildEnv)
	if env == "" {
		t.Skip("runs only as the child of TestPushRestartDeliversEachPushOnce")
	}
	parts := strings.Split(env, "\n")
	c := config.Default()
	c.GrafanaURL, c.SlackAPIURL, c.OutboxPath = parts[0], parts[1], parts[2]
	c.GrafanaToken, c.SlackBotToken = secret.New(grafanaToken), secret.New(slackToken)
	s := New(context.Background(), Options{Config: c, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if s.startErr != nil {
		t.Fatal(s.startErr)
	}
	if err := s.startDelivery(workerOptions()); err != nil {
		t.Fatal(err)
	}
	for i := range restartPushes {
		st, err := s.Push(context.Background(), PushRequest{To: addresses["slack"], Text: "push " + strconv.Itoa(i),
			Panel: scenesPanel("restart")}, "")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("queued", st.ID)
	}
	time.Sleep(time.Minute) // the parent kills it long before
	t.Fatal("the parent did not kill this process")
}

// A Panelcast is killed with SIGKILL while pushes are queued, rendering and
// in the middle of Slack's upload; a new one on the same outbox delivers
// every push, and Slack ends with exactly one message per push.
func TestPushRestartDeliversEachPushOnce(t *testing.T) {
	e := newPushEnv(t)
	slack := e.fronts["slack"]
	slack.hold = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/files.completeUploadExternal") }

	cmd := exec.Command(os.Args[0], "-test.run=^TestPushRestartChild$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), restartChildEnv+"="+strings.Join([]string{e.cfg.GrafanaURL, e.cfg.SlackAPIURL, e.cfg.OutboxPath}, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	queued := make(chan string, restartPushes)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if id, ok := strings.CutPrefix(lines.Text(), "queued "); ok {
				queued <- id
			}
		}
	}()
	var ids []string
	timeout := time.After(60 * time.Second)
	for len(ids) < restartPushes {
		select {
		case id := <-queued:
			ids = append(ids, id)
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("the child queued %d pushes; its log:\n%s", len(ids), stderr.String())
		}
	}
	// Kill once two uploads are waiting to be completed: those pushes are
	// mid-send, others are rendering or queued.
	for held := 0; held < 2; held++ {
		select {
		case <-slack.held:
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("the child completed %d uploads; its log:\n%s", held, stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The held requests die with their client; wait for both, so none can
	// reach Slack after all.
	for range 2 {
		select {
		case <-slack.dropped:
		case <-time.After(10 * time.Second):
			t.Fatal("a held upload outlived the killed process")
		}
	}
	slack.mu.Lock()
	slack.hold = nil
	slack.mu.Unlock()
	if n := len(e.slack.Messages()); n != 0 {
		t.Fatalf("%d messages landed before the restart; the test means to kill before any", n)
	}

	s := e.start(t)
	texts := map[string]int{}
	for _, id := range ids {
		if st := waitFinal(t, s, id, 90*time.Second); st.State != "sent" {
			t.Errorf("push %s after the restart: %+v", id, st)
		}
	}
	for _, m := range e.landed("slack") {
		texts[m.text]++
		checkPanelPicture(t, m.text, m.image, 600, 300)
	}
	for i := range restartPushes {
		if n := texts["push "+strconv.Itoa(i)]; n != 1 {
			t.Errorf("push %d landed %d times, want once", i, n)
		}
	}
	if len(texts) != restartPushes {
		t.Errorf("Slack holds %v", texts)
	}
}
