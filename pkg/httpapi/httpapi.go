// Package httpapi is Panelcast's own HTTP API for pushes and alert
// notifications, shared by both doors so they behave the same: the plugin
// mounts it among its resources (/api/plugins/panelcast-renderer/resources/push,
// …/alerts), the server on its own mux (/push, /alerts). Who may call it is
// the door's business, passed in as a hook. It also holds the one mapping
// of the service's failures onto HTTP statuses and the JSON writer, for
// every HTTP route of either door.
//
//	POST /push       {"panel": {...}, "to": "slack:#ops", "text": "...", "thread": "..."}
//	                 → 202 {"id": "...", "state": "queued"}
//	                 or multipart/form-data: a part "request" with that JSON
//	                 and a part "picture" (image/png) sent as it is; 413
//	                 over MaxUpload
//	GET  /push/{id}  → 200 {"id", "state", "attempts", "error", "permalink"}
//	POST /alerts     a Grafana webhook contact point's or Alertmanager's body,
//	                 ?to=slack:%23ops,telegram:-100123 (optional)
//	                 → 202 {"source", "alerts", "messages": [{"id", "to", "state", ...}]}
//
// Refusals are JSON {"error": "<what to fix>"}: 400 for a push or
// notification that can never be sent as asked, 401/403 from the hook, 403
// for a dashboard the caller may not view, 404 for an unknown id, 503
// while the outbox cannot take messages.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/panelcast/panelcast/pkg/notification"
	"github.com/panelcast/panelcast/pkg/service"
)

// Options are what a door decides.
type Options struct {
	// Authorize admits or refuses a request before anything else happens,
	// with service.ErrUnauthorized (401) or service.ErrForbidden (403); its
	// error text is shown to the caller. Required: each door checks its own
	// callers (the server's bearer token, the plugin's Grafana role).
	Authorize func(*http.Request) error
	// GrafanaURL returns Grafana's address as the request knows it, used
	// when grafana_url is not set (plugin mode: Grafana's app URL). Optional.
	GrafanaURL func(*http.Request) string
	// Caller names the Grafana user behind a request, whose access to each
	// dashboard is checked before anything is queued (plugin mode: the
	// plugin context's user). Without it callers may push any dashboard the service
	// account sees (server mode, where api_token admits them).
	Caller func(*http.Request) *service.Caller
}

// maxBody bounds a push's JSON; a push is a few hundred bytes.
const maxBody = 1 << 20

type handler struct {
	svc  *service.Service
	opts Options
	mux  *http.ServeMux
}

// New returns the handler for /push, /push/{id} and /alerts. Mount it for
// each, e.g. with Mount.
func New(svc *service.Service, opts Options) http.Handler {
	if opts.Authorize == nil {
		panic("httpapi: Options.Authorize is required: each door passes its own check (the server's bearer token, grafanauser.MinRole)")
	}
	h := &handler{svc: svc, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /push", h.push)
	h.mux.HandleFunc("GET /push/{id}", h.status)
	h.mux.HandleFunc("POST /alerts", h.alerts)
	return h
}

// Mount puts h on mux at every path it serves.
func Mount(mux *http.ServeMux, h http.Handler) {
	for _, p := range []string{"/push", "/push/", "/alerts"} {
		mux.Handle(p, h)
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.opts.Authorize(r); err != nil {
		code := StatusFor(err)
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", "Bearer")
		}
		writeError(w, code, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) push(w http.ResponseWriter, r *http.Request) {
	var req service.PushRequest
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		req, err = decodeUpload(r, http.MaxBytesReader(w, r.Body, MaxUpload))
	} else {
		req, err = decode(http.MaxBytesReader(w, r.Body, maxBody))
	}
	switch {
	case errors.Is(err, errUploadTooBig):
		writeError(w, http.StatusRequestEntityTooLarge, err)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
		return
	}
	req.Caller = h.caller(r)
	st, err := h.svc.Push(r.Context(), req, h.grafanaURL(r))
	if err != nil {
		writeError(w, StatusFor(err), err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"id": st.ID, "state": st.State})
}

// alerts takes a notification. Its body is read whole first: the
// sender's timeout (Alertmanager's webhook) is short, and the answer comes
// as soon as the messages are stored.
func (h *handler) alerts(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, notification.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusBadRequest, fmt.Errorf("the body is over %d MiB: a notification that large is a mistake; lower max_alerts in the webhook's settings", notification.MaxBody>>20))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Errorf("reading the body failed: %v", err))
		return
	}
	res, err := h.svc.HandleAlerts(r.Context(), body, r.URL.Query().Get("to"), h.grafanaURL(r), h.caller(r))
	if err != nil {
		writeError(w, StatusFor(err), err)
		return
	}
	WriteJSON(w, http.StatusAccepted, res)
}

func (h *handler) grafanaURL(r *http.Request) string {
	if h.opts.GrafanaURL == nil {
		return ""
	}
	return h.opts.GrafanaURL(r)
}

func (h *handler) caller(r *http.Request) *service.Caller {
	if h.opts.Caller == nil {
		return nil
	}
	return h.opts.Caller(r)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.svc.PushStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, StatusFor(err), err)
		return
	}
	WriteJSON(w, http.StatusOK, st)
}

// StatusFor is the HTTP status of a service error, for every HTTP route of
// either door (these, the console's and Grafana's /render).
func StatusFor(err error) int { return Status(service.Classify(err)) }

// Status is the HTTP status of a class of failure. Grafana's renderer
// client reads 408 as a timeout (it shows its timeout picture) and 429 as
// a full queue. A Grafana refusal is 502, not 401 or 403, so that a
// console or script does not take Grafana's token trouble for its own.
func Status(f service.Failure) int {
	switch f {
	case service.FailBadRequest, service.FailForbiddenURL:
		return http.StatusBadRequest
	case service.FailUnauthorized:
		return http.StatusUnauthorized
	case service.FailForbidden:
		return http.StatusForbidden
	case service.FailNotFound:
		return http.StatusNotFound
	case service.FailTimeout:
		return http.StatusRequestTimeout
	case service.FailConflict:
		return http.StatusConflict
	case service.FailQueueFull:
		return http.StatusTooManyRequests
	case service.FailGrafana:
		return http.StatusBadGateway
	case service.FailNoChromium, service.FailShuttingDown, service.FailUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, code int, err error) {
	WriteJSON(w, code, map[string]string{"error": Sentence(err)})
}

// Sentence is err's text without its marker prefix ("bad push: ",
// "unauthorized: ", …), which adds nothing to the sentence that follows.
func Sentence(err error) string {
	msg := err.Error()
	for _, marker := range []error{service.ErrBadPush, service.ErrBadAlerts, service.ErrForbidden,
		service.ErrDeliveryUnavailable, service.ErrUnauthorized} {
		msg = strings.TrimPrefix(msg, marker.Error()+": ")
	}
	return msg
}

// WriteJSON answers v as JSON that is not cached, with HTML characters left
// as they are so that sentences like "Bearer <api_token>" stay readable.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, fmt.Sprintf("encode the answer: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}
