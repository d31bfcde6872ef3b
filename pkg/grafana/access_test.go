package grafana

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/secret"
)

// MayView decides as Grafana's guardian from what its API shows: Admins see
// everything, others need an entry for their exact role, their login or a
// team of theirs, on the dashboard or its folder. Schema v2 dashboards
// (Grafana 13) are checked alike: their permissions do not depend on the
// schema.
func TestMayView(t *testing.T) {
	for _, gen := range grafanatest.Generations {
		t.Run(gen.String(), func(t *testing.T) { testMayView(t, gen) })
	}
}

func testMayView(t *testing.T, gen grafanatest.Generation) {
	access := grafanatest.Access{
		Folders: []grafanatest.Folder{
			{UID: "fin", Title: "Finance", Dashboards: []string{grafanatest.ScenarioSlow}, Permissions: []grafanatest.Permission{
				{Role: "Admin", Level: grafanatest.Admin}, {UserLogin: "Kim", Level: grafanatest.View}, {TeamID: 7, Level: grafanatest.Edit}}},
			{UID: "ops", Title: "Ops", Dashboards: []string{grafanatest.ScenarioLegacy}, Permissions: []grafanatest.Permission{
				{Role: "Viewer", Level: grafanatest.View}, {TeamID: 99, Level: grafanatest.View}}},
		},
		Teams: []grafanatest.Team{{ID: 7, Name: "Money", Members: []string{"ann"}}},
	}
	g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: testToken, Access: access, Generation: gen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	c := &Client{BaseURL: g.URL, Token: secret.New(testToken)}
	cases := []struct {
		name, uid string
		user      User
		allowed   bool
		folder    string
		err       string
	}{
		{"Editor on General", grafanatest.ScenarioScenes, User{Login: "eve", Role: "Editor", OrgID: 1}, true, "General", ""},
		{"None role on General", grafanatest.ScenarioScenes, User{Login: "eve", Role: "None", OrgID: 1}, false, "General", ""},
		{"Editor outside Finance", grafanatest.ScenarioSlow, User{Login: "eve", Role: "Editor", OrgID: 1}, false, "Finance", ""},
		{"Admin", grafanatest.ScenarioSlow, User{Login: "root", Role: "Admin", OrgID: 1}, true, "Finance", ""},
		{"user entry, other case", grafanatest.ScenarioSlow, User{Login: "kim", Role: "Viewer", OrgID: 1}, true, "Finance", ""},
		{"team member", grafanatest.ScenarioSlow, User{Login: "ann", Role: "Editor", OrgID: 1}, true, "Finance", ""},
		{"Viewer entry admits no Editor", grafanatest.ScenarioLegacy, User{Login: "eve", Role: "Editor", OrgID: 1}, false, "Ops", ""},
		{"Viewer entry admits a Viewer", grafanatest.ScenarioLegacy, User{Login: "eve", Role: "Viewer", OrgID: 1}, true, "Ops", ""},
		{"other organisation", grafanatest.ScenarioScenes, User{Login: "eve", Role: "Admin", OrgID: 2}, false, "", "belongs to organisation 1"},
		{"missing dashboard", "nope", User{Login: "eve", Role: "Editor", OrgID: 1}, false, "", "(404)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := c.MayView(context.Background(), tc.uid, tc.user)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || a.Allowed != tc.allowed || a.Folder != tc.folder {
				t.Errorf("MayView = %+v, %v; want allowed %v in %q", a, err, tc.allowed, tc.folder)
			}
		})
	}

	// A service account short of Admin cannot tell, and says why.
	access.ServiceAccountRole = "Editor"
	weak, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: testToken, Access: access, Generation: gen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(weak.Close)
	_, err = (&Client{BaseURL: weak.URL, Token: secret.New(testToken)}).MayView(context.Background(), grafanatest.ScenarioScenes, User{Login: "eve", Role: "Editor", OrgID: 1})
	var ae *APIError
	if !errors.Is(err, ErrCannotTell) || !errors.As(err, &ae) || ae.Temporary() || !strings.Contains(err.Error(), "set grafana_admin_token to an Admin service-account token") {
		t.Errorf("weak service account: %v", err)
	}
}
