package chatapi

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	sdkconfig "github.com/grafana/grafana-plugin-sdk-go/config"

	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// BearerToken admits requests with "Authorization: Bearer <token>" for one
// of tokens (server mode's api_token), compared in constant time. With no
// token configured every request is refused: pushing and alert webhooks
// must be switched on.
func BearerToken(tokens []secret.Value) func(*http.Request) error {
	return func(r *http.Request) error {
		if len(tokens) == 0 {
			return fmt.Errorf("%w: pushes and alert webhooks over HTTP are off: set api_token on the Panelcast server and send it as Authorization: Bearer <token>", ErrUnauthorized)
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return fmt.Errorf("%w: send Authorization: Bearer <api_token>", ErrUnauthorized)
		}
		ok := 0
		for _, t := range tokens {
			ok |= subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(t.Reveal()))
		}
		if ok != 1 {
			return fmt.Errorf("%w: the bearer token is not one of api_token: check the token the caller sends", ErrUnauthorized)
		}
		return nil
	}
}

// roleRank orders Grafana's organisation roles.
var roleRank = map[string]int{"None": 0, "Viewer": 1, "Editor": 2, "Admin": 3}

// MinGrafanaRole admits a plugin resource call whose Grafana user has at
// least the organisation role min (push_min_role), read from the plugin
// context Grafana sends with every call.
func MinGrafanaRole(min string) func(*http.Request) error {
	return func(r *http.Request) error {
		u := backend.UserFromContext(r.Context())
		if u == nil {
			return fmt.Errorf("%w: the call carries no Grafana user: call it through Grafana, /api/plugins/panelcast-renderer/resources/push or …/alerts", ErrUnauthorized)
		}
		if roleRank[u.Role] < roleRank[min] {
			role := u.Role
			if role == "" {
				role = "None"
			}
			return fmt.Errorf("%w: pushing needs the %s role and %s has %s: ask an organisation admin for it, or lower push_min_role", ErrForbidden, min, u.Login, role)
		}
		return nil
	}
}

// GrafanaCaller is the Grafana user of a plugin resource call, from the
// plugin context Grafana sends with it: login, e-mail, org role and
// organisation. Grafana 9–12 send no user id, and no token of the user's.
func GrafanaCaller(r *http.Request) *service.Caller {
	u := backend.UserFromContext(r.Context())
	if u == nil {
		// MinGrafanaRole refuses such a call first; were it let through,
		// an empty caller matches no permission and is refused.
		return &service.Caller{}
	}
	// OrgID is deprecated for Namespace, which Grafana 9 to 11 do not send.
	return &service.Caller{Login: u.Login, Email: u.Email, Role: u.Role, OrgID: backend.PluginConfigFromContext(r.Context()).OrgID} //nolint:staticcheck // see above
}

// GrafanaAppURL is Grafana's root URL from the plugin context (Grafana
// 10.3+), else from GF_APP_URL, which older versions set.
func GrafanaAppURL(r *http.Request) string {
	u, err := sdkconfig.GrafanaConfigFromContext(r.Context()).AppURL()
	if err != nil {
		return ""
	}
	return u
}
