package grafanauser

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	sdkconfig "github.com/grafana/grafana-plugin-sdk-go/config"

	"github.com/panelcast/panelcast/pkg/service"
)

func TestMinRole(t *testing.T) {
	cases := []struct {
		name, min string
		user      *backend.User
		wantErr   error
		want      string
	}{
		{"no Grafana user", "Editor", nil, service.ErrUnauthorized, "carries no Grafana user"},
		{"viewer", "Editor", &backend.User{Login: "ann", Role: "Viewer"}, service.ErrForbidden, "pushing needs the Editor role and ann has Viewer"},
		{"no role", "Editor", &backend.User{Login: "ann"}, service.ErrForbidden, "ann has None"},
		{"editor", "Editor", &backend.User{Login: "ann", Role: "Editor"}, nil, ""},
		{"admin", "Editor", &backend.User{Login: "ann", Role: "Admin"}, nil, ""},
		{"editor below admin", "Admin", &backend.User{Login: "ann", Role: "Editor"}, service.ErrForbidden, "needs the Admin role"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/push", nil)
			if c.user != nil {
				r = r.WithContext(backend.WithUser(r.Context(), c.user))
			}
			err := MinRole(c.min, "/api/plugins/panelcast-renderer/resources")(r)
			if c.wantErr == nil {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %v saying %q", err, c.wantErr, c.want)
			}
		})
	}
}

func TestAppURL(t *testing.T) {
	r := httptest.NewRequest("POST", "/push", nil)
	ctx := sdkconfig.WithGrafanaConfig(context.Background(), sdkconfig.NewGrafanaCfg(map[string]string{sdkconfig.AppURL: "https://grafana.example.org/"}))
	if got := AppURL(r.WithContext(ctx)); got != "https://grafana.example.org/" {
		t.Errorf("AppURL = %q", got)
	}
	if got := AppURL(r); got != "" {
		t.Errorf("AppURL without Grafana's config = %q", got)
	}
}
