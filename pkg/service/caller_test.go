package service

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/secret"
)

// A push with a caller is queued only when Grafana says the caller may view
// its dashboard; the answer says why not otherwise, and what kind of
// failure it is (403 refused, 400 no such dashboard, 503 Grafana away).
func TestPushChecksCaller(t *testing.T) {
	g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: "glsa_caller", Access: grafanatest.Access{
		Folders: []grafanatest.Folder{{UID: "fin", Title: "Finance", Dashboards: []string{grafanatest.ScenarioSlow}}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := pushConfig()
	c.GrafanaURL, c.GrafanaToken = g.URL, secret.New("glsa_caller")
	c.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	s := planService(c)
	if err := s.startDelivery(delivery.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stopDelivery() })
	kim := &Caller{Login: "kim", Role: "Editor", OrgID: 1}
	push := func(uid string, who *Caller) error {
		_, err := s.Push(context.Background(), PushRequest{To: "slack:#ops", Caller: who,
			Panel: Panel{DashboardUID: uid, PanelID: 2}}, "")
		return err
	}
	if err := push(grafanatest.ScenarioScenes, kim); err != nil {
		t.Errorf("General dashboard: %v", err)
	}
	if err := push(grafanatest.ScenarioSlow, nil); err != nil {
		t.Errorf("no caller (api_token, CLI): %v", err)
	}
	if err := push(grafanatest.ScenarioSlow, kim); !errors.Is(err, ErrForbidden) ||
		!strings.Contains(err.Error(), "kim may not view dashboard slow (folder Finance)") {
		t.Errorf("closed folder: %v", err)
	}
	if err := push("nosuchdash", kim); !errors.Is(err, ErrBadPush) || !strings.Contains(err.Error(), "(404)") {
		t.Errorf("missing dashboard: %v", err)
	}
	g.Close()
	if err := push(grafanatest.ScenarioScenes, kim); !errors.Is(err, ErrDeliveryUnavailable) || !strings.Contains(err.Error(), "could not ask Grafana whether kim may view") {
		t.Errorf("Grafana away: %v", err)
	}
}
