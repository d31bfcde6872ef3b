package config

import (
	"strings"
	"testing"
)

// The app's settings page stores plain keys in jsonData and secret ones in
// secureJsonData, by the same names as grafana.ini.
func TestFromAppSettings(t *testing.T) {
	c, err := FromAppSettings([]byte(`{"destinations": [{"name": "Ops on Slack", "to": "slack:#ops"}], "free_addresses": false,
		"push_min_role": "Admin", "default_to": "slack:#ops", "alert_width": 800}`),
		map[string]string{"slack_bot_token": "xoxb-app", "grafana_token": "glsa_app"}, []string{"GF_PATHS_DATA=/var/lib/grafana"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Destinations) != 1 || c.Destinations[0] != (Destination{"Ops on Slack", "slack:#ops"}) || c.FreeAddresses ||
		c.PushMinRole != "Admin" || c.AlertWidth != 800 || c.SlackBotToken.Reveal() != "xoxb-app" || c.GrafanaToken.Reveal() != "glsa_app" {
		t.Errorf("settings: %+v", c)
	}
	if c.Grafana == nil || len(c.Grafana.DataDirs) != 1 || c.Grafana.DataDirs[0].Path != "/var/lib/grafana" {
		t.Errorf("data folder: %+v", c.Grafana)
	}
	c, err = FromAppSettings([]byte(`{"push_min_role": "", "alert_width": null, "destinations": "[{\"name\": \"Ops\", \"to\": \"slack:#ops\"}]", "free_addresses": "false"}`),
		map[string]string{"slack_bot_token": ""}, nil)
	if err != nil || c.PushMinRole != "Editor" || c.AlertWidth != 1000 || c.SlackBotToken.IsSet() || len(c.Destinations) != 1 || c.FreeAddresses {
		t.Errorf("empty values must keep the defaults, text values be read as in grafana.ini: %+v %v", c, err)
	}
	if d := Default(); !d.FreeAddresses {
		t.Error("free_addresses must default to true")
	}
}

func TestFromAppSettingsRefusals(t *testing.T) {
	for _, tc := range []struct {
		json   string
		secure map[string]string
		want   string
	}{
		{`{"slack_bot_token": "xoxb-leak"}`, nil, "slack_bot_token: is a secret and belongs in secureJsonData"},
		{`{}`, map[string]string{"push_min_role": "Viewer"}, "push_min_role: is not a secret setting"},
		{`{"destination": []}`, nil, "destination: the app has no such setting"},
		{`{"destinations": [{"name": "x"}]}`, nil, "destinations: entry 1 needs both a name and a to address"},
		{`{"free_addresses": "maybe"}`, nil, `free_addresses: "maybe" is not true or false`},
		{`[1]`, nil, "are not a JSON object"},
	} {
		_, err := FromAppSettings([]byte(tc.json), tc.secure, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "xoxb-leak") {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.want)
		}
	}
}
