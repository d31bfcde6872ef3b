package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/panelcast/panelcast/pkg/service"
)

// healthCacheTTL is how old a health check an org role below Admin may be
// shown: checking runs a probe render and asks every chat provider, which a
// Viewer calling in a loop must not be able to make Panelcast do.
const healthCacheTTL = time.Minute

// sharedCheckTimeout bounds a check run for everyone.
const sharedCheckTimeout = 30 * time.Second

// healthResource is GET /health among the plugin's resources. An org Admin
// gets a fresh check; anyone else the last check when it is under
// healthCacheTTL old, else one new check shared by everyone who asks
// meanwhile. checkedAt says when it ran.
type healthResource struct {
	svc *service.Service

	mu sync.Mutex // held while a shared check runs
	at time.Time
	h  service.Health
}

type healthAnswer struct {
	service.Health
	CheckedAt time.Time `json:"checkedAt"`
}

func (hr *healthResource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var a healthAnswer
	if u := backend.UserFromContext(r.Context()); u != nil && u.Role == "Admin" {
		a = healthAnswer{hr.svc.Health(r.Context()), time.Now()}
		hr.mu.Lock()
		hr.at, hr.h = a.CheckedAt, a.Health
		hr.mu.Unlock()
	} else {
		hr.mu.Lock()
		if time.Since(hr.at) >= healthCacheTTL {
			// The check is everyone's: one caller leaving does not cut it.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), sharedCheckTimeout)
			hr.h, hr.at = hr.svc.Health(ctx), time.Now()
			cancel()
		}
		a = healthAnswer{hr.h, hr.at}
		hr.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	if !a.OK {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(a)
}
