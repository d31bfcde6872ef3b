package plugin

import (
	"net/http"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/service"
)

// healthCacheTTL is how old a health check an org role below Admin may be
// shown: checking runs a probe render and asks every chat provider, which a
// Viewer calling in a loop must not be able to make Panelcast do.
const healthCacheTTL = time.Minute

// healthResource is GET /health among the plugin's resources. An org Admin
// gets a fresh check; anyone else the service's last one when it is under
// healthCacheTTL old, else one new check shared by everyone who asks
// meanwhile (service.RecentHealth). checkedAt says when it ran.
type healthResource struct{ svc *service.Service }

func (hr healthResource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	maxAge := healthCacheTTL
	if u := backend.UserFromContext(r.Context()); u != nil && u.Role == "Admin" {
		maxAge = 0
	}
	h := hr.svc.RecentHealth(r.Context(), maxAge)
	status := http.StatusOK
	if !h.OK {
		status = http.StatusServiceUnavailable
	}
	httpapi.WriteJSON(w, status, h)
}
