package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/console"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/service"
)

// InboxPermalink is where an inbox message's permalink points: the
// console's inbox, relative, so it works behind a proxy's sub-path.
const InboxPermalink = "#inbox/"

// healthMaxAge is how old the console's health checks may be: it polls,
// and every chat's credential check is a call to its API.
const healthMaxAge = time.Minute

// maxAPIBody bounds the console's JSON bodies (a sign-in, a render), as
// httpapi bounds a push's.
const maxAPIBody = 1 << 20

// mountConsole serves the console (/ and /console/), its API (/api/...)
// and the chat routes (/push, /alerts) behind one access check. Requests
// that change something are refused when they come from another site
// (http.CrossOriginProtection), since a browser sends the session cookie,
// or nothing at all on an open loopback, with them.
func (s *Server) mountConsole(mux *http.ServeMux, a *access) {
	page := console.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /console/", page)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeAPIError(w, http.StatusForbidden, "this request came from another site: the console's API takes changes only from the console's own page")
	}))
	guard := func(h http.Handler) http.Handler {
		return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := a.authorize(r); err != nil {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeAPIError(w, http.StatusUnauthorized, httpapi.Sentence(err))
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
	mux.Handle("/api/session", cop.Handler(methods{
		http.MethodGet:    s.session(a),
		http.MethodPost:   s.signIn(a),
		http.MethodDelete: s.signOut(a),
	}))
	mux.Handle("/api/health", guard(methods{http.MethodGet: s.consoleHealth}))
	mux.Handle("/api/render", guard(methods{http.MethodPost: s.renderPanel}))
	mux.Handle("/api/outbox", guard(methods{http.MethodGet: s.outbox}))
	mux.Handle("/api/outbox/{id}/retry", guard(methods{http.MethodPost: s.retry}))
	mux.Handle("/api/inbox", guard(methods{http.MethodGet: s.inbox}))
	mux.Handle("/api/inbox/{id}/images/{n}", guard(methods{http.MethodGet: s.inboxImage}))
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, fmt.Sprintf("%s is no route of Panelcast's API: see the API table in docs/console.md", r.URL.Path))
	}))
	// httpapi checks access itself (the same check), so that its refusals
	// read as its other answers.
	httpapi.Mount(mux, cop.Handler(httpapi.New(s.svc, httpapi.Options{Authorize: a.authorize})))
}

// methods routes a path's requests by method; others get 405 with Allow.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := m[r.Method]
	if h == nil && r.Method == http.MethodHead {
		h = m[http.MethodGet]
	}
	if h == nil {
		allow := make([]string, 0, len(m))
		for k := range m {
			allow = append(allow, k)
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeAPIError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allow, " or "), r.Method))
		return
	}
	h(w, r)
}

type sessionJSON struct {
	Authenticated bool `json:"authenticated"`
	Required      bool `json:"required"`
}

func (s *Server) session(a *access) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, sessionJSON{Authenticated: a.authenticated(r), Required: a.required(r)})
	}
}

func (s *Server) signIn(a *access) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Token string `json:"token"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || body.Token == "" {
			writeAPIError(w, http.StatusBadRequest, `send the token as JSON: {"token": "<api_token>"}`)
			return
		}
		c, err := a.signIn(body.Token, secureRequest(r))
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, service.ErrUnauthorized) {
				code = http.StatusUnauthorized
			}
			s.log.WarnContext(r.Context(), "console sign-in refused", "error", err)
			writeAPIError(w, code, httpapi.Sentence(err))
			return
		}
		http.SetCookie(w, c)
		s.log.InfoContext(r.Context(), "console signed in")
		httpapi.WriteJSON(w, http.StatusOK, sessionJSON{Authenticated: true, Required: true})
	}
}

func (s *Server) signOut(a *access) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.signOut(r, secureRequest(r))
		http.SetCookie(w, c)
		if err != nil {
			s.log.ErrorContext(r.Context(), "console sign-out failed", "error", err)
			writeAPIError(w, httpapi.StatusFor(err), httpapi.Sentence(err))
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, sessionJSON{Required: a.required(r)})
	}
}

func (s *Server) consoleHealth(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, s.svc.RecentHealth(r.Context(), healthMaxAge))
}

// renderPanel is POST /api/render {"panel": {...}}: the picture, and how
// long the render took in X-Render-Duration-Ms.
func (s *Server) renderPanel(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.DecodeRender(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, err.Error())
		return
	}
	start := time.Now()
	img, err := s.svc.RenderPanel(r.Context(), p, "")
	if err != nil {
		writeAPIError(w, httpapi.StatusFor(err), httpapi.Sentence(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(img)))
	h.Set("X-Render-Duration-Ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	_, _ = w.Write(img)
}

type jobsJSON struct {
	Jobs []service.Message `json:"jobs"`
}

func (s *Server) outbox(w http.ResponseWriter, r *http.Request) {
	limit, ok := listLimit(w, r)
	if !ok {
		return
	}
	jobs, err := s.svc.Messages(r.Context(), limit)
	if err != nil {
		writeAPIError(w, httpapi.StatusFor(err), httpapi.Sentence(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, jobsJSON{Jobs: jobs})
}

func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	st, err := s.svc.RetryMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		writeAPIError(w, httpapi.StatusFor(err), httpapi.Sentence(err))
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]string{"id": st.ID, "state": st.State})
}

type inboxMessageJSON struct {
	ID        string    `json:"id"`
	Channel   string    `json:"channel"`
	Text      string    `json:"text"`
	ThreadID  string    `json:"threadId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Images are paths relative to the console's page.
	Images []string `json:"images"`
}

func (s *Server) inbox(w http.ResponseWriter, r *http.Request) {
	limit, ok := listLimit(w, r)
	if !ok {
		return
	}
	msgs, err := s.svc.Inbox(r.Context(), r.URL.Query().Get("channel"), limit)
	if err != nil {
		writeAPIError(w, httpapi.StatusFor(err), httpapi.Sentence(err))
		return
	}
	out := make([]inboxMessageJSON, 0, len(msgs))
	for _, m := range msgs {
		j := inboxMessageJSON{ID: m.ID, Channel: m.Channel, Text: m.Text, ThreadID: m.ThreadID, CreatedAt: m.CreatedAt, Images: []string{}}
		for n := range m.Pictures {
			j.Images = append(j.Images, "api/inbox/"+url.PathEscape(m.ID)+"/images/"+strconv.Itoa(n))
		}
		out = append(out, j)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"messages": out})
}

func (s *Server) inboxImage(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		writeAPIError(w, http.StatusNotFound, fmt.Sprintf("%q is not a picture number: pictures are numbered from 0", r.PathValue("n")))
		return
	}
	img, err := s.svc.InboxImage(r.Context(), r.PathValue("id"), n)
	if err != nil {
		writeAPIError(w, httpapi.StatusFor(err), httpapi.Sentence(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("X-Content-Type-Options", "nosniff")
	// A stored picture never changes; it is private to who may read it.
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	h.Set("Content-Length", strconv.Itoa(len(img)))
	_, _ = w.Write(img)
}

// listLimit reads ?limit= (1..delivery.MaxListLimit; absent takes the
// default), or answers 400.
func listLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return 0, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > delivery.MaxListLimit {
		writeAPIError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d, got %q", delivery.MaxListLimit, quote.Clip(raw)))
		return 0, false
	}
	return n, true
}

// writeAPIError answers the API's way: {"error": "<sentence>"}.
func writeAPIError(w http.ResponseWriter, status int, msg string) {
	httpapi.WriteJSON(w, status, map[string]string{"error": msg})
}
