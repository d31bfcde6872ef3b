package grafana

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePanelRef(t *testing.T) {
	cases := []struct {
		in   string
		want PanelRef
	}{
		{"abc:2", PanelRef{DashboardUID: "abc", PanelID: 2}},
		{"  ex-pr_1:12 ", PanelRef{DashboardUID: "ex-pr_1", PanelID: 12}},
		{"abc:panel-3", PanelRef{DashboardUID: "abc", PanelID: 3}},
		{"https://grafana.example.com/d/uid1/my-dash?orgId=2&viewPanel=4", PanelRef{DashboardUID: "uid1", PanelID: 4, OrgID: 2}},
		// Scenes-based Grafana names the viewed panel panel-<id>.
		{"https://grafana.example.com/d/uid1/my-dash?orgId=1&viewPanel=panel-5", PanelRef{DashboardUID: "uid1", PanelID: 5, OrgID: 1}},
		{"http://g:3000/grafana/d-solo/uid1/x?panelId=6&var-host=a&var-host=b&var-env=prod&from=now-1h",
			PanelRef{DashboardUID: "uid1", PanelID: 6, Vars: map[string][]string{"host": {"a", "b"}, "env": {"prod"}}}},
		// Grafana 13's "direct link rendered image" names a schema v2
		// panel by its key (ShareLinkTab: panelId = panel.getPathId()).
		{"https://grafana.example.com/render/d-solo/v2dash/x?orgId=1&panelId=panel-7&hideLogo=true", PanelRef{DashboardUID: "v2dash", PanelID: 7, OrgID: 1}},
		{"/d/uid1?viewPanel=7&panelId=8", PanelRef{DashboardUID: "uid1", PanelID: 7}},
		{"/grafana/d/uid1/slug?viewPanel=7&var-=x", PanelRef{DashboardUID: "uid1", PanelID: 7}},
		{"https://grafana.example.com/d/uid%2D9/x?viewPanel=1", PanelRef{DashboardUID: "uid-9", PanelID: 1}},
	}
	for _, c := range cases {
		got, err := ParsePanelRef(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParsePanelRef(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	refusals := map[string]string{
		"":                                      "is empty",
		"abc":                                   "neither uid:panelId nor a Grafana panel URL",
		"grafana.example.com/d/abc?viewPanel=2": "neither uid:panelId nor a Grafana panel URL",
		"a/b:2":                                 "is not a Grafana dashboard UID",
		strings.Repeat("u", 41) + ":1":          "is not a Grafana dashboard UID",
		"abc:0":                                 "is not a whole number above 0",
		"abc:-2":                                "is not a whole number above 0",
		"abc:2:3":                               `panel id "2:3"`,
		"abc:":                                  `panel id ""`,
		"abc:panel-3-clone-1":                   "is not a whole number above 0",
		"https://g/d/abc":                       "names a dashboard but no panel",
		"https://g/explore?left=x":              "is not a dashboard URL",
		"https://g/d/":                          "is not a dashboard URL",
		"https://g/d/a!b?viewPanel=1":           "is not a Grafana dashboard UID",
		"https://g/d/abc?viewPanel=x":           `panel id "x"`,
		"https://g/d/abc?viewPanel=1&orgId=0":   `orgId "0"`,
		"ftp://g/d/abc?viewPanel=1":             "is not an http(s) URL",
		"https://g/d/abc?viewPanel=%zz":         "is not a URL",
	}
	for in, want := range refusals {
		if _, err := ParsePanelRef(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePanelRef(%q): err = %v, want %q", in, err, want)
		}
	}
}
