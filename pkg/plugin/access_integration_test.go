package plugin_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
)

// finance is a folder closed to the org roles: only lee (by login) and the
// team Money (ann) may view its dashboard, the stand-in's "slow".
var finance = grafanatest.Access{
	Folders: []grafanatest.Folder{{UID: "fin", Title: "Finance", Dashboards: []string{grafanatest.ScenarioSlow},
		Permissions: []grafanatest.Permission{{Role: "Admin", Level: grafanatest.Admin},
			{UserLogin: "lee", Level: grafanatest.View}, {TeamID: 7, Level: grafanatest.View}}}},
	Teams: []grafanatest.Team{{ID: 7, Name: "Money", Members: []string{"ann"}}},
}

func user(login, role string) pluginhost.User {
	return pluginhost.User{Login: login, Name: login, Email: login + "@example.com", Role: role}
}

// A push goes out as the service account, which sees every folder; the
// plugin asks Grafana whether the caller may view the dashboard before
// anything is queued, and answers 403 with the reason when not. An alert's
// picture of such a dashboard is left out, its text still goes. The check
// is the same on every generation of Grafana's dashboard API, schema v2
// dashboards included.
func TestPluginChecksWhoMayPush(t *testing.T) {
	for _, gen := range grafanatest.Generations {
		t.Run(gen.String(), func(t *testing.T) { testPluginChecksWhoMayPush(t, gen) })
	}
}

func testPluginChecksWhoMayPush(t *testing.T, gen grafanatest.Generation) {
	g, slack, h, logs := startWithSlack(t, grafanatest.Options{ServiceAccountToken: "glsa_access", Access: finance, Generation: gen},
		map[string]string{"push_min_role": "Viewer"})
	ctx := context.Background()
	headers := map[string][]string{"Content-Type": {"application/json"}}
	push := func(u pluginhost.User, panel string) (int, string, string) {
		body := `{"panel": ` + panel + `, "to": "slack:#alerts", "text": "by ` + u.Login + `"}`
		code, _, out, err := h.CallResourceAs(ctx, "POST", "push", []byte(body), u, headers)
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		var a struct{ ID, Error string }
		_ = json.Unmarshal(out, &a)
		return code, a.ID, a.Error
	}
	solo := func(uid string) string {
		return `{"dashboardUid": "` + uid + `", "panelId": 2, "width": 300, "height": 150}`
	}
	slowURL := `{"url": "` + g.PanelURL(grafanatest.ScenarioSlow, url.Values{"panelId": {"2"}}) + `"}`

	var queued []string
	for _, c := range []struct {
		who   pluginhost.User
		panel string
	}{
		{user("kim", "Editor"), solo(grafanatest.ScenarioScenes)}, // General: Editors may view
		{user("lee", "Viewer"), solo(grafanatest.ScenarioSlow)},   // a user entry
		{user("ann", "Editor"), solo(grafanatest.ScenarioSlow)},   // a team entry
		{user("root", "Admin"), solo(grafanatest.ScenarioSlow)},   // Admins see everything
	} {
		code, id, msg := push(c.who, c.panel)
		if code != 202 || id == "" {
			t.Fatalf("%s (%s) pushing %s: %d %s\nplugin log:\n%s", c.who.Login, c.who.Role, c.panel, code, msg, logs)
		}
		queued = append(queued, id)
	}
	want := "kim may not view dashboard slow (folder Finance): ask for Viewer access to it"
	for _, panel := range []string{solo(grafanatest.ScenarioSlow), slowURL} {
		if code, id, msg := push(user("kim", "Editor"), panel); code != 403 || id != "" || !strings.HasPrefix(msg, want) {
			t.Errorf("kim pushing %s: %d %q %q, want 403 %q", panel, code, id, msg, want)
		}
	}
	if code, _, msg := push(user("kim", "Editor"), `{"url": "`+g.URL+`/explore?left=x"}`); code != 400 || !strings.Contains(msg, "so that Panelcast can check that kim may view it") {
		t.Errorf("a page that is no dashboard: %d %q", code, msg)
	}

	// The alert names the Finance panel: posted by kim it goes as text.
	alert := `{"receiver": "panelcast", "status": "firing", "orgId": 1, "version": "1", "groupKey": "{}:{}",
		"alerts": [{"status": "firing", "labels": {"alertname": "Spend"}, "startsAt": "` + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339) + `",
		"fingerprint": "0123456789abcdef", "panelURL": "` + g.URL + `/d/slow?orgId=1&viewPanel=2"}]}`
	code, _, out, err := h.CallResourceAs(ctx, "POST", "alerts?to=slack:%23alerts", []byte(alert), user("kim", "Editor"), headers)
	if err != nil || code != 202 || !strings.Contains(string(out), `"panels":0`) || !strings.Contains(string(out), `"noPanel":"`+want) {
		t.Errorf("kim's alert: %d %s %v", code, out, err)
	}

	for _, id := range queued {
		var st struct{ State, Error string }
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && st.State != "sent" && st.State != "failed"; time.Sleep(100 * time.Millisecond) {
			_, _, out, _ := h.CallResource(ctx, "GET", "push/"+id, nil, "Viewer", nil)
			_ = json.Unmarshal(out, &st)
		}
		if st.State != "sent" {
			t.Errorf("push %s: %+v\nplugin log:\n%s", id, st, logs)
		}
	}
	// Nothing of kim's refused pushes was queued: four pushes and the
	// alert's text reached Slack, and slow's page was opened only for the
	// three pushes that were allowed.
	deadline := time.Now().Add(30 * time.Second)
	for len(slack.Messages()) < 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(slack.Messages()); n != 5 {
		t.Errorf("Slack got %d messages, want 5", n)
	}
	pages := 0
	for _, v := range g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/"+grafanatest.ScenarioSlow+"/") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("slow's panel was rendered %d times, want 3", pages)
	}
}

// When the service account may not read permissions (its role is below
// Admin), the plugin cannot tell who may view what: it refuses pushes with
// that reason rather than guess, except an Admin's.
func TestPluginRefusesWhenItCannotTell(t *testing.T) {
	weak := finance
	weak.ServiceAccountRole = "Editor"
	_, _, h, _ := startWithSlack(t, grafanatest.Options{ServiceAccountToken: "glsa_weak", Access: weak}, nil)
	body := []byte(`{"panel": {"dashboardUid": "scenes", "panelId": 2}, "to": "slack:#alerts"}`)
	headers := map[string][]string{"Content-Type": {"application/json"}}
	code, _, out, err := h.CallResourceAs(context.Background(), "POST", "push", body, user("kim", "Editor"), headers)
	if err != nil || code != 403 || !strings.Contains(string(out), "cannot tell whether kim may view dashboard scenes") ||
		!strings.Contains(string(out), "set grafana_admin_token to an Admin service-account token") {
		t.Errorf("Editor: %d %s %v", code, out, err)
	}
	if code, _, out, err := h.CallResourceAs(context.Background(), "POST", "push", body, user("root", "Admin"), headers); err != nil || code != 202 {
		t.Errorf("Admin: %d %s %v", code, out, err)
	}
}

// With grafana_admin_token the question goes to Grafana with that token,
// and the browser, rendering as a Viewer account, never gets it.
func TestPluginAsksWithTheAdminToken(t *testing.T) {
	viewer := finance
	viewer.ServiceAccountRole = "Viewer"
	viewer.Folders = append([]grafanatest.Folder{{UID: "gen", Title: "Ops", Dashboards: []string{grafanatest.ScenarioScenes},
		Permissions: []grafanatest.Permission{{Role: "Viewer", Level: grafanatest.View}, {Role: "Editor", Level: grafanatest.View}}}},
		viewer.Folders...)
	g, slack, h, logs := startWithSlack(t, grafanatest.Options{ServiceAccountToken: "glsa_viewer", AdminToken: "glsa_admin", Access: viewer},
		map[string]string{"grafana_admin_token": "glsa_admin"})
	headers := map[string][]string{"Content-Type": {"application/json"}}
	push := func(uid string) (int, string) {
		body := []byte(`{"panel": {"dashboardUid": "` + uid + `", "panelId": 2}, "to": "slack:#alerts"}`)
		code, _, out, err := h.CallResourceAs(context.Background(), "POST", "push", body, user("kim", "Editor"), headers)
		if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	if code, out := push(grafanatest.ScenarioScenes); code != 202 {
		t.Fatalf("kim, dashboard of Ops: %d %s\nplugin log:\n%s", code, out, logs)
	}
	if code, out := push(grafanatest.ScenarioSlow); code != 403 || !strings.Contains(out, "kim may not view dashboard slow (folder Finance)") {
		t.Errorf("kim, dashboard of Finance: %d %s", code, out)
	}
	for deadline := time.Now().Add(60 * time.Second); len(slack.Messages()) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(slack.Messages()); n != 1 {
		t.Fatalf("%d messages in Slack, want 1\nplugin log:\n%s", n, logs)
	}
	asked := false
	for _, v := range g.Visits() {
		auth := v.Header.Get("Authorization")
		if strings.HasSuffix(v.Path, "/permissions") {
			asked = asked || auth == "Bearer glsa_admin"
			continue
		}
		if strings.HasPrefix(v.Path, "/d-solo/") || strings.HasPrefix(v.Path, "/api/ds/") || strings.HasPrefix(v.Path, "/public/") {
			if auth == "Bearer glsa_admin" {
				t.Errorf("the browser sent the admin token to %s", v.Path)
			}
		}
	}
	if !asked {
		t.Error("the permissions were not asked with grafana_admin_token")
	}
}

// The /health resource runs a probe render and asks every chat provider:
// an org Admin gets a fresh check, lower roles the last one for a minute,
// so a Viewer in a loop costs one check a minute.
func TestPluginHealthByRole(t *testing.T) {
	g := standIn(t)
	h, _ := startHost(t, g, map[string]string{"grafana_url": g.URL})
	ctx := context.Background()
	check := func(role string) time.Time {
		code, _, out, err := h.CallResource(ctx, "GET", "health", nil, role, nil)
		var a struct {
			OK        bool
			CheckedAt time.Time
		}
		if err != nil || code != 200 || json.Unmarshal(out, &a) != nil || !a.OK || a.CheckedAt.IsZero() {
			t.Fatalf("%s: %d %s %v", role, code, out, err)
		}
		return a.CheckedAt
	}
	first := check("Viewer")
	again := check("Editor")
	if !again.Equal(first) {
		t.Errorf("a second lower-role call ran a new check: %s, then %s", first, again)
	}
	fresh := check("Admin")
	if !fresh.After(first) {
		t.Errorf("an Admin got the cached check of %s", first)
	}
	if shared := check("Viewer"); !shared.Equal(fresh) {
		t.Errorf("after an Admin's check a Viewer got %s, want it (%s)", shared, fresh)
	}
}
