package provisioning

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/panelcast/panelcast/pkg/config"
)

// The app's provisioning file sets the app's settings by the one key
// table's names, each from PANELCAST_<KEY>; expanded as Grafana expands
// it, it is a configuration the app takes, set or not.
func TestAppSettingsFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("plugins", "panelcast-app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion int `yaml:"apiVersion"`
		Apps       []struct {
			Type           string            `yaml:"type"`
			OrgID          int               `yaml:"org_id"`
			Disabled       bool              `yaml:"disabled"`
			JSONData       map[string]string `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		} `yaml:"apps"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	if f.APIVersion != 1 || len(f.Apps) != 1 || f.Apps[0].Type != "panelcast-app" {
		t.Fatalf("not the app's provisioning: %+v", f)
	}
	a := f.Apps[0]
	for half, values := range map[string]map[string]string{"jsonData": a.JSONData, "secureJsonData": a.SecureJSONData} {
		for key, v := range values {
			if want := "${PANELCAST_" + strings.ToUpper(key) + "}"; v != want {
				t.Errorf("%s.%s is %q, want %s", half, key, v, want)
			}
		}
	}
	env := map[string]string{"PANELCAST_DESTINATIONS": `[{"name": "Ops on Slack", "to": "slack:#ops"}]`, "PANELCAST_FREE_ADDRESSES": "false",
		"PANELCAST_SLACK_BOT_TOKEN": "xoxb-provisioned", "PANELCAST_ALERT_WIDTH": "800"}
	for _, set := range []map[string]string{{}, env} {
		expand := func(m map[string]string) map[string]string {
			out := map[string]string{}
			for k, v := range m {
				out[k] = os.Expand(v, func(name string) string { return set[name] })
			}
			return out
		}
		plain, _ := json.Marshal(expand(a.JSONData))
		c, err := config.FromAppSettings(plain, expand(a.SecureJSONData), nil)
		if err != nil {
			t.Fatalf("with %v: %v", set, err)
		}
		if len(set) > 0 && (len(c.Destinations) != 1 || c.FreeAddresses || c.SlackBotToken.Reveal() != "xoxb-provisioned" || c.AlertWidth != 800) {
			t.Errorf("the environment did not reach the settings: %+v", c)
		}
	}
}
