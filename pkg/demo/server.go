package demo

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	// assets holds the page shell and what Grafana's frontend is built
	// into: grafana.js and grafana.css from frontend/ (npm run build,
	// committed), and under public/ the fonts and icons it asks for.
	//go:embed assets
	assets embed.FS

	pageTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))
)

// Assets are the built frontend (grafana.js, grafana.css) and the files
// Grafana serves under public/ that it asks for (public/fonts/…,
// public/build/img/…).
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // fs.Sub fails only for an invalid path name
	}
	return sub
}

// Server serves the demo dashboard until Close.
type Server struct {
	// URL is https://localhost:<port>: the host name is localhost, as in a
	// Grafana root_url, never the certificate's name.
	URL string
	// Key is what a caller presents as cookie renderKey or as
	// "Authorization: Bearer <Key>" (a service-account token).
	Key string

	srv    *http.Server
	served chan struct{}
}

// Start serves the demo over https on a free loopback port, with a fresh
// key and a self-signed certificate for CertificateName. log gets what the
// HTTP server reports (failed TLS handshakes: the certificate is for
// another name), at debug level.
func Start(log *slog.Logger) (*Server, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("demo: generate its key: %w", err)
	}
	cert, err := NewCertificate()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen on a loopback port: %w", err)
	}
	s := &Server{
		URL:    "https://" + net.JoinHostPort("localhost", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)),
		Key:    "glsa_demo_" + hex.EncodeToString(b),
		served: make(chan struct{}),
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		// Chromium's requests to a Grafana page are small; a bound keeps
		// any one request's memory small too.
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	tlsLn := tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	})
	go func() {
		defer close(s.served)
		// Serve returns ErrServerClosed after Close; nothing else can be
		// reported from here.
		_ = s.srv.Serve(tlsLn)
	}()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.served
}

// PanelURL is the URL Grafana gives a renderer for the demo's panel
// PanelID over the last six hours.
func (s *Server) PanelURL() string {
	q := url.Values{"orgId": {"1"}, "panelId": {strconv.Itoa(PanelID)}, "from": {"now-6h"}, "to": {"now"}, "render": {"1"}}
	return s.URL + "/d-solo/" + DashboardUID + "/panel?" + q.Encode()
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	files := http.StripPrefix("/public/build/", http.FileServerFS(Assets()))
	mux.Handle("GET /public/build/grafana.js", files)
	mux.Handle("GET /public/build/grafana.css", files)
	mux.Handle("GET /public/fonts/", http.StripPrefix("/", http.FileServerFS(Assets())))
	mux.Handle("GET /public/build/img/", http.StripPrefix("/", http.FileServerFS(Assets())))
	mux.HandleFunc("POST /api/ds/query", s.guard(query))
	mux.HandleFunc("GET /api/dashboards/uid/{uid}", s.guard(dashboardAPI))
	for _, prefix := range []string{"/d/", "/d-solo/"} {
		mux.HandleFunc("GET "+prefix+"{uid}", s.guard(page))
		mux.HandleFunc("GET "+prefix+"{uid}/{slug...}", s.guard(page))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusNotFound, message("Not found: the demo serves only dashboard "+DashboardUID))
	})
	return mux
}

// guard answers 401 to a request with neither the key's renderKey cookie
// nor its bearer token, as Grafana answers a request without a session.
func (s *Server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			if c, err := r.Cookie("renderKey"); err == nil {
				key = c.Value
			}
		}
		if subtle.ConstantTimeCompare([]byte(key), []byte(s.Key)) != 1 {
			WriteJSON(w, http.StatusUnauthorized, message("Unauthorized: the demo takes the key panelcast started it with"))
			return
		}
		next(w, r)
	}
}

// PageData fills the page shell.
type PageData struct {
	Title string
	// ScriptQuery is appended to grafana.js's URL, e.g. "?boot=300".
	ScriptQuery string
	// Settings are added to the boot data's settings.
	Settings map[string]any
}

// WritePage writes the page shell Grafana's frontend boots in: the
// stylesheet, the fonts, window.grafanaBootData and grafana.js.
func WritePage(w http.ResponseWriter, d PageData) {
	settings := map[string]any{"appUrl": "/"}
	for k, v := range d.Settings {
		settings[k] = v
	}
	var b strings.Builder
	err := pageTemplate.Execute(&b, map[string]any{
		"Title":       d.Title,
		"Background":  template.CSS(Hex(Background)),
		"ScriptQuery": d.ScriptQuery,
		// What Grafana's frontend reads at start-up (config.bootData).
		"BootData": map[string]any{
			"user":     map[string]any{"theme": "dark", "timezone": "browser", "locale": "en-US"},
			"settings": settings,
		},
	})
	if err != nil {
		http.Error(w, "render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

func page(w http.ResponseWriter, _ *http.Request) {
	WritePage(w, PageData{Title: Title})
}

// dashboardAPI is GET /api/dashboards/uid/<uid>: the demo dashboard in
// Grafana's JSON model, in the General folder.
func dashboardAPI(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("uid") != DashboardUID {
		WriteJSON(w, http.StatusNotFound, message("Dashboard not found"))
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"dashboard": map[string]any{"uid": DashboardUID, "title": Title, "panels": Panels(),
			"templating": map[string]any{"list": Variables()}},
		"meta": map[string]any{"slug": strings.ToLower(Title), "folderUid": "", "folderTitle": "General"},
	})
}

// dsQuery is what a demo query asks for: Grafana's frontend posts
// {"queries": [...], "from": "<ms>", "to": "<ms>"}, and the page puts the
// instance variable's values into each query.
type dsQuery struct {
	from, to  time.Time
	instances []string
}

// readQuery reads a /api/ds/query body (at most 1 MiB of it); a missing
// or unreadable range is the last six hours.
func readQuery(r io.Reader) dsQuery {
	var body struct {
		Queries []struct {
			Instance []string `json:"instance"`
		} `json:"queries"`
		From string `json:"from"`
		To   string `json:"to"`
	}
	// A body that is not JSON is a query without these details.
	_ = json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&body)
	now := time.Now()
	q := dsQuery{from: now.Add(-6 * time.Hour), to: now}
	if len(body.Queries) > 0 {
		q.instances = body.Queries[0].Instance
	}
	from, errFrom := strconv.ParseInt(body.From, 10, 64)
	to, errTo := strconv.ParseInt(body.To, 10, 64)
	if errFrom == nil && errTo == nil && from < to {
		q.from, q.to = time.UnixMilli(from), time.UnixMilli(to)
	}
	return q
}

// query is POST /api/ds/query.
func query(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r.Body)
	WriteJSON(w, http.StatusOK, map[string]any{
		"results": map[string]any{"A": map[string]any{"status": http.StatusOK, "frames": Frames(q.from, q.to, q.instances)}},
	})
}

func message(m string) map[string]string { return map[string]string{"message": m} }

// WriteJSON answers v as JSON, as Grafana's HTTP API does.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Hex is a colour as CSS and Grafana's dashboards write it, #rrggbb.
func Hex(c interface{ RGBA() (r, g, b, a uint32) }) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}
