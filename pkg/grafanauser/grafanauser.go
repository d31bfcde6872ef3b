// Package grafanauser reads the Grafana user of a plugin's resource call
// from the plugin context Grafana sends with it, for the doors Grafana
// starts (the renderer plugin and the app): the role check against
// push_min_role, the caller whose dashboard access is checked, and
// Grafana's app URL.
package grafanauser

import (
	"fmt"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	sdkconfig "github.com/grafana/grafana-plugin-sdk-go/config"

	"github.com/panelcast/panelcast/pkg/service"
)

// roleRank orders Grafana's organisation roles.
var roleRank = map[string]int{"None": 0, "Viewer": 1, "Editor": 2, "Admin": 3}

// MinRole admits a plugin resource call whose Grafana user has at least
// the organisation role min (push_min_role), read from the plugin context
// Grafana sends with every call. resources is the plugin's resource path,
// /api/plugins/<id>/resources, for the sentence that refuses a call that
// did not come through Grafana.
func MinRole(min, resources string) func(*http.Request) error {
	return func(r *http.Request) error {
		u := backend.UserFromContext(r.Context())
		if u == nil {
			return fmt.Errorf("%w: the call carries no Grafana user: call it through Grafana, %s/push or …/alerts", service.ErrUnauthorized, resources)
		}
		if roleRank[u.Role] < roleRank[min] {
			role := u.Role
			if role == "" {
				role = "None"
			}
			return fmt.Errorf("%w: pushing needs the %s role and %s has %s: ask an organisation admin for it, or lower push_min_role", service.ErrForbidden, min, u.Login, role)
		}
		return nil
	}
}

// Caller is the Grafana user of a plugin resource call, from the
// plugin context Grafana sends with it: login, e-mail, org role and
// organisation. Grafana 9–12 send no user id, and no token of the user's.
func Caller(r *http.Request) *service.Caller {
	u := backend.UserFromContext(r.Context())
	if u == nil {
		// MinRole refuses such a call first; were it let through,
		// an empty caller matches no permission and is refused.
		return &service.Caller{}
	}
	// OrgID is deprecated for Namespace, which Grafana 9 to 11 do not send.
	return &service.Caller{Login: u.Login, Email: u.Email, Role: u.Role, OrgID: backend.PluginConfigFromContext(r.Context()).OrgID} //nolint:staticcheck // see above
}

// AppURL is Grafana's root URL from the plugin context (Grafana
// 10.3+), else from GF_APP_URL, which older versions set.
func AppURL(r *http.Request) string {
	u, err := sdkconfig.GrafanaConfigFromContext(r.Context()).AppURL()
	if err != nil {
		return ""
	}
	return u
}
