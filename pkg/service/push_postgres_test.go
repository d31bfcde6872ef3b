package service

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/pkg/secret"
)

// Two services on one PostgreSQL outbox are two replicas: a push queued on
// one is answered by the other, sent once, threaded across them, and health
// names the store without its password.
func TestPushThroughPostgres(t *testing.T) {
	e := newPushEnv(t)
	pg := pgtest.New(t)
	e.cfg.OutboxPath, e.cfg.OutboxURL = "", secret.New(pg.Database(t))
	a, b := e.start(t), e.start(t)
	ctx := context.Background()

	first, err := a.Push(ctx, PushRequest{To: addresses["slack"], Text: "first", Thread: "deploy", Panel: scenesPanel("a")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFinal(t, b, first.ID, 60*time.Second); st.State != "sent" || st.Attempts != 1 {
		t.Fatalf("first push, seen from the other replica: %+v", st)
	}
	second, err := b.Push(ctx, PushRequest{To: addresses["slack"], Text: "second", Thread: "deploy", Panel: scenesPanel("b")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFinal(t, a, second.ID, 60*time.Second); st.State != "sent" {
		t.Fatalf("second push: %+v", st)
	}
	msgs := e.landed("slack")
	if len(msgs) != 2 || msgs[0].text != "first" || msgs[1].replyTo != msgs[0].id {
		t.Errorf("slack got %+v; want first, then second replying to it", msgs)
	}

	d, err := b.OutboxDepth(ctx)
	if err != nil || d.Sent != 2 || d.Queued+d.Sending != 0 || !d.OldestPending.IsZero() {
		t.Errorf("OutboxDepth = %+v, %v", d, err)
	}
	h := b.Health(ctx)
	raw, _ := json.Marshal(h.Outbox)
	if h.Outbox == nil || h.Outbox.Store != "postgres" || h.Outbox.Path != "" || !strings.HasPrefix(h.Outbox.URL, "postgres://"+pgtest.User+"@127.0.0.1:") ||
		h.Outbox.Error != "" || strings.Contains(b.OutboxPath(), pg.Password()) {
		t.Errorf("health outbox %s", raw)
	}
	all, _ := json.Marshal(h)
	for what, text := range map[string]string{"health": string(all), "the log": e.logs.String()} {
		if strings.Contains(text, pg.Password()) {
			t.Errorf("%s shows outbox_url's password", what)
		}
		checkNoSecrets(t, what, text)
	}
}
