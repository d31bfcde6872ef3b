package cli

import (
	"bytes"
	"flag"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

func parsePush(t *testing.T, args ...string) (service.PushRequest, string, error) {
	t.Helper()
	var f pushFlags
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.add(fs)
	if err := fs.Parse(args); err != nil {
		return service.PushRequest{}, "", err
	}
	return f.request()
}

func TestPushFlags(t *testing.T) {
	req, door, err := parsePush(t, "--panel", "abc123:7", "--to", "slack:#ops", "--text", "CPU", "--thread", "t1",
		"--from", "now-1h", "--until", "now", "--org", "2", "--theme", "light", "--var", "host=a", "--var", "host=b", "--var", "dc=x=y")
	if err != nil {
		t.Fatal(err)
	}
	want := service.PushRequest{To: "slack:#ops", Text: "CPU", Thread: "t1", Panel: service.Panel{
		DashboardUID: "abc123", PanelID: 7, OrgID: 2, From: "now-1h", To: "now", Theme: "light",
		Vars: map[string][]string{"host": {"a", "b"}, "dc": {"x=y"}}}}
	if !reflect.DeepEqual(req, want) || door != "" {
		t.Errorf("request %+v (door %q), want %+v", req, door, want)
	}

	req, door, err = parsePush(t, "--panel", "https://grafana.example.com:3000/d/abc/x?viewPanel=2", "--to", "telegram:-100")
	if err != nil || req.Panel.URL != "https://grafana.example.com:3000/d/abc/x?viewPanel=2" || door != "https://grafana.example.com:3000" {
		t.Errorf("URL form: %+v %q %v", req.Panel, door, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "slack:#ops"}, "--panel and --to are required"},
		{[]string{"--panel", "abc:1"}, "--panel and --to are required"},
		{[]string{"--panel", "abc", "--to", "slack:#ops"}, "neither a Grafana URL nor <dashboard uid>:<panel id>"},
		{[]string{"--panel", "abc:two", "--to", "slack:#ops"}, "neither a Grafana URL"},
		{[]string{"--panel", "https://g/d/a", "--to", "slack:#ops", "--from", "now-1h"}, "go with the uid:panelId form"},
		{[]string{"--panel", "abc:1", "--to", "slack:#ops", "--var", "novalue"}, `"novalue" is not name=value`},
	} {
		if _, _, err := parsePush(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}

// The command renders the panel, posts it and prints the permalink.
func TestPushCommand(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: "glsa_cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	slack := slackfake.New("xoxb-cli")
	defer slack.Close()
	slack.AddChannel("C0OPS00001", "ops", true)
	outbox := filepath.Join(t.TempDir(), "outbox.db")
	environ := []string{"PANELCAST_GRAFANA_TOKEN=glsa_cli", "PANELCAST_SLACK_BOT_TOKEN=xoxb-cli"}

	var stdout, stderr bytes.Buffer
	code := Main([]string{"panelcast", "push", "--panel", "scenes:2", "--to", "slack:#ops", "--text", "from the command line",
		"--grafana-url", g.URL, "--slack-api-url", slack.APIURL(), "--outbox-path", outbox, "--width", "400", "--height", "200"},
		environ, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	msgs := slack.Messages()
	if len(msgs) != 1 || msgs[0].Text != "from the command line" || len(msgs[0].Files) != 1 {
		t.Fatalf("Slack received %+v", msgs)
	}
	if link := strings.TrimSpace(stdout.String()); !strings.Contains(link, "/archives/C0OPS00001/") {
		t.Errorf("stdout %q, want the permalink", stdout.String())
	}
	if !strings.Contains(stderr.String(), "queued in "+outbox) {
		t.Errorf("stderr does not say where the push waits:\n%s", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	code = Main([]string{"panelcast", "push", "--panel", "scenes:2", "--to", "discord:123", "--grafana-url", g.URL, "--outbox-path", outbox},
		environ, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "discord is not configured: set discord_bot_token") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
