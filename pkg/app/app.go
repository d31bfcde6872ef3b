// Package app is the third door: Grafana starts the binary as the backend
// of the Panelcast app plugin (panelcast-app). Each organisation's app
// settings (AppInstanceSettings: jsonData and the decrypted
// secureJsonData) become one configuration and one service, which renders
// through Grafana's /render instead of a browser of its own; the door
// serves the app's resources and health check and checks its callers'
// Grafana roles.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	sdkapp "github.com/grafana/grafana-plugin-sdk-go/backend/app"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	sdkconfig "github.com/grafana/grafana-plugin-sdk-go/config"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/grafanauser"
	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// ID is the app's plugin.json id.
const ID = "panelcast-app"

// Executable is the app's plugin.json "executable": Grafana starts an app
// backend as <plugin dir>/<executable>_<os>_<arch>, with the same go-plugin
// handshake as a renderer, which it starts as plugin_start_<os>_<arch>.
const Executable = "gpx_panelcast_app"

// resources is where Grafana serves the app's resources.
const resources = "/api/plugins/" + ID + "/resources"

// Started reports whether the program, started as argv0 by Grafana, is
// the app's backend rather than the renderer plugin.
func Started(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), Executable+"_")
}

// Serve serves the app until Grafana stops it, then shuts every
// organisation's service down. environ is the process environment (where
// Grafana's data folder is).
func Serve(log *slog.Logger, environ []string) error {
	d := &door{log: log, environ: environ, live: map[*instance]bool{}}
	// The SDK's instance manager keeps one instance per organisation and
	// makes a new one when its settings' Updated time changes; the old one
	// is disposed (Dispose) a few seconds later, once calls in flight are
	// done.
	err := sdkapp.Manage(ID, d.newInstance, sdkapp.ManageOpts{})
	d.mu.Lock()
	live := d.live
	d.live = map[*instance]bool{}
	d.mu.Unlock()
	var errs []error
	for i := range live {
		errs = append(errs, i.shutdown())
	}
	return errors.Join(append([]error{err}, errs...)...)
}

type door struct {
	log     *slog.Logger
	environ []string

	mu   sync.Mutex
	live map[*instance]bool
}

// instance is one organisation's app: its service and resources, or the
// reason its settings cannot be used, which every call then answers.
type instance struct {
	door      *door
	svc       *service.Service
	resources backend.CallResourceHandler
	bad       error
	once      sync.Once
}

func (d *door) newInstance(ctx context.Context, s backend.AppInstanceSettings) (instancemgmt.Instance, error) {
	i := &instance{door: d}
	cfg, err := config.FromAppSettings(s.JSONData, s.DecryptedSecureJSONData, d.environ)
	if err == nil && cfg.GrafanaURL == "" {
		// Grafana's own address, which the plugin context carries (10.3+).
		cfg.GrafanaURL, err = sdkconfig.GrafanaConfigFromContext(ctx).AppURL()
		if err != nil {
			err = fmt.Errorf("the app does not know Grafana's URL (%v): set grafana_url in the app's settings", err)
		}
	}
	if err == nil && !cfg.GrafanaToken.IsSet() {
		// The service account Grafana manages for the app (plugin.json
		// "iam"), where Grafana made one; grafana_token, when set, wins.
		if tok, serr := sdkconfig.GrafanaConfigFromContext(ctx).PluginAppClientSecret(); serr == nil && tok != "" {
			cfg.GrafanaToken = secret.New(tok)
			d.log.Info("renders through Grafana use the app's managed service account (no grafana_token is set)")
		}
	}
	if err != nil {
		d.log.Error("the app's settings are unusable; every call is refused until they are fixed", "error", err)
		i.bad = err
		return i, nil
	}
	i.svc = service.New(ctx, service.Options{Config: cfg, Log: d.log, RenderThroughGrafana: true})
	if err := i.svc.Start(); err != nil {
		d.log.Error("chat delivery did not start; pushes are refused until it is fixed", "error", err)
	}
	i.resources = httpadapter.New(routes(i.svc))
	d.mu.Lock()
	d.live[i] = true
	d.mu.Unlock()
	d.log.Info("app settings applied", "updated", s.Updated)
	return i, nil
}

// routes are the app's resources. Every call needs push_min_role; the
// test message, for the settings page, needs Admin.
func routes(svc *service.Service) http.Handler {
	authorize := grafanauser.MinRole(svc.Config().PushMinRole, resources)
	mux := http.NewServeMux()
	mux.Handle("GET /destinations", guarded(authorize, func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, svc.Destinations())
	}))
	admin := grafanauser.MinRole("Admin", resources)
	mux.Handle("POST /test", guarded(admin, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			To string `json:"to"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			httpapi.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(`the body is not {"to": "slack:#ops"} (%v): name the address to test`, err)})
			return
		}
		st, err := svc.PushTest(r.Context(), body.To)
		if err != nil {
			httpapi.WriteJSON(w, httpapi.StatusFor(err), map[string]string{"error": httpapi.Sentence(err)})
			return
		}
		httpapi.WriteJSON(w, http.StatusAccepted, map[string]string{"id": st.ID, "state": st.State})
	}))
	httpapi.Mount(mux, httpapi.New(svc, httpapi.Options{
		Authorize:  authorize,
		GrafanaURL: grafanauser.AppURL,
		Caller:     grafanauser.Caller,
	}))
	return mux
}

// guarded runs next once authorize admits the call.
func guarded(authorize func(*http.Request) error, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := authorize(r); err != nil {
			httpapi.WriteJSON(w, httpapi.StatusFor(err), map[string]string{"error": httpapi.Sentence(err)})
			return
		}
		next(w, r)
	})
}

func (i *instance) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	if i.bad != nil {
		body, _ := json.Marshal(map[string]string{"error": i.bad.Error()})
		return sender.Send(&backend.CallResourceResponse{Status: http.StatusServiceUnavailable,
			Headers: map[string][]string{"Content-Type": {"application/json"}}, Body: body})
	}
	return i.resources.CallResource(ctx, req, sender)
}

// CheckHealth says which chats answer, whether Grafana's /render has a
// renderer, and where the outbox is.
func (i *instance) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if msg := i.badSettings(); msg != "" {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	res := i.svc.Health(ctx)
	details, _ := json.Marshal(res)
	status := backend.HealthStatusOk
	if !res.OK {
		status = backend.HealthStatusError
	}
	return &backend.CheckHealthResult{Status: status, Message: res.Message, JSONDetails: details}, nil
}

// badSettings is why the settings are unusable, "" when they are fine: a
// health check reports it as its result, not as a failed call.
func (i *instance) badSettings() string {
	if i.bad == nil {
		return ""
	}
	return i.bad.Error()
}

// Dispose closes a replaced instance's delivery cleanly: the attempts in
// flight finish, the rest stay in the outbox for the new instance.
func (i *instance) Dispose() {
	if err := i.shutdown(); err != nil {
		i.door.log.Error("closing the replaced settings' delivery failed", "error", err)
		return
	}
	i.door.log.Info("the replaced settings' delivery is closed")
}

func (i *instance) shutdown() error {
	var err error
	i.once.Do(func() {
		if i.svc == nil {
			return
		}
		i.door.mu.Lock()
		delete(i.door.live, i)
		i.door.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), i.svc.Config().ShutdownTimeout)
		defer cancel()
		err = i.svc.Shutdown(ctx, nil)
	})
	return err
}
