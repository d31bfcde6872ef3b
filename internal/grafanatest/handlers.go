package grafanatest

import (
	"context"
	"crypto/subtle"
	_ "embed" // the pages' assets
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/demo"
)

var (
	//go:embed assets/app.js
	appJS []byte
	// grafanaJS is package demo's build of Grafana's frontend.
	grafanaJS = mustRead(demo.Assets(), "grafana.js")
	//go:embed assets/app.css
	appCSSTemplate string
	//go:embed assets/index.html
	indexHTML string
	//go:embed assets/login.html
	loginHTML string

	indexTemplate = template.Must(template.New("index").Parse(indexHTML))
	loginTemplate = template.Must(template.New("login").Parse(loginHTML))
	appCSS        = strings.NewReplacer(
		"$BACKGROUND", demo.Hex(Background),
		"$LOGIN", demo.Hex(LoginColor),
	).Replace(appCSSTemplate)
)

// Query-parameter defaults, in milliseconds.
const (
	defaultBootMs       = 300
	defaultQueryMs      = 300
	slowQueryMs         = 1000
	maxDelayMs          = 10 * 60 * 1000
	soloPanelID         = 2
	tallPanelHeight     = 575
	tallLastPanelHeight = TallHeight - 4*tallPanelHeight
)

// panelModel is one panel of a dashboard as the pages' script draws it.
type panelModel struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Type  string `json:"type"`
	// Height in CSS px on a dashboard; 0 fills the viewport.
	Height int `json:"height"`
	// Fill is which part the data paints: "half" (lower half) or "full".
	Fill string `json:"fill,omitempty"`
	// FieldConfig and Options are Grafana's, for panels drawn by Grafana's
	// own frontend.
	FieldConfig map[string]any `json:"fieldConfig,omitempty"`
	Options     map[string]any `json:"options,omitempty"`
}

// scenarioModel is what the dashboard API tells the page's script about its
// scenario, besides the panels.
type scenarioModel struct {
	// Signals is which readiness signals the page sets: "scenes",
	// "binding", "legacy" or "none".
	Signals string `json:"signals"`
	QueryMs int    `json:"queryMs"`
	// BindingPaintDelayMs delays the paint after the count drains.
	BindingPaintDelayMs int64  `json:"bindingPaintDelayMs,omitempty"`
	BindingMessage      string `json:"bindingMessage,omitempty"`
	// Download is set on the csv page.
	Download *downloadModel `json:"download,omitempty"`
}

type downloadModel struct {
	URL      string `json:"url"`
	FileName string `json:"fileName"`
}

type dashboardModel struct {
	Title    string
	Panels   []panelModel
	Scenario scenarioModel
	// Frontend serves the page built from Grafana's own frontend libraries
	// (assets/grafana.js) instead of assets/app.js.
	Frontend bool
}

func dashboardFor(uid string) (dashboardModel, bool) {
	one := func(title, typ string) []panelModel {
		return []panelModel{{ID: soloPanelID, Title: title, Type: typ, Fill: "half"}}
	}
	scenes := scenarioModel{Signals: "scenes", QueryMs: defaultQueryMs}
	switch uid {
	case ScenarioScenes:
		return dashboardModel{Title: "Scenes", Panels: one("Requests", "timeseries"), Scenario: scenes}, true
	case ScenarioSlow:
		slow := scenes
		slow.QueryMs = slowQueryMs
		return dashboardModel{Title: "Slow", Panels: one("Slow query", "timeseries"), Scenario: slow}, true
	case ScenarioFailing:
		return dashboardModel{Title: "Failing", Panels: one("Broken query", "timeseries"), Scenario: scenes}, true
	case ScenarioNever:
		return dashboardModel{Title: "Never", Panels: one("Hanging query", "timeseries"), Scenario: scenes}, true
	case ScenarioBinding:
		return dashboardModel{Title: "Binding", Panels: one("Late paint", "timeseries"), Scenario: scenarioModel{
			Signals:             "binding",
			QueryMs:             defaultQueryMs,
			BindingPaintDelayMs: BindingPaintDelay.Milliseconds(),
			BindingMessage:      BindingMessage,
		}}, true
	case ScenarioLegacy:
		return dashboardModel{Title: "Legacy", Panels: one("Graph", "graph"), Scenario: scenarioModel{Signals: "legacy", QueryMs: defaultQueryMs}}, true
	case ScenarioStatic:
		return dashboardModel{Title: "Static", Panels: one("Quiet panel", "timeseries"), Scenario: scenarioModel{Signals: "none", QueryMs: defaultQueryMs}}, true
	case ScenarioTall:
		panels := make([]panelModel, 0, 5)
		for id := 1; id <= 4; id++ {
			panels = append(panels, panelModel{ID: id, Title: "Panel " + strconv.Itoa(id), Type: "timeseries", Height: tallPanelHeight, Fill: "half"})
		}
		// Untitled, so nothing but the series is drawn in the bottom strip.
		panels = append(panels, panelModel{ID: 5, Type: "stat", Height: tallLastPanelHeight, Fill: "full"})
		return dashboardModel{Title: "Tall", Panels: panels, Scenario: scenes}, true
	case ScenarioCSV:
		csv := scenes
		csv.Download = &downloadModel{URL: "/api/panelcast-test/data.csv", FileName: CSVFileName}
		return dashboardModel{Title: "CSV", Panels: one("Table", "table"), Scenario: csv}, true
	case ScenarioDemo, ScenarioDemoFailing:
		var panels []panelModel
		for _, p := range demo.Panels() {
			panels = append(panels, panelModel{ID: p.ID, Title: p.Title, Type: p.Type, Height: p.Height, FieldConfig: p.FieldConfig, Options: p.Options})
		}
		return dashboardModel{Title: demo.Title, Panels: panels, Scenario: scenes, Frontend: true}, true
	}
	return dashboardModel{}, false
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", s.login)
	// The imitation pages' script and style stay uncacheable: their boot
	// delay stands for the start-up work of Grafana's bundle, which no
	// cache saves. Grafana's own frontend (the demo scenarios) is served
	// with Grafana's cache headers, as Grafana serves it.
	mux.HandleFunc("GET /public/build/app.js", s.bundle(appJS))
	mux.HandleFunc("GET /public/build/app.css", serveCSS([]byte(appCSS)))
	mux.Handle("GET /public/build/grafana.js", staticCache(s.bundle(grafanaJS)))
	demoFiles := http.FileServerFS(demo.Assets())
	mux.Handle("GET /public/build/grafana.css", staticCache(http.StripPrefix("/public/build/", demoFiles)))
	mux.Handle("GET /public/fonts/", staticCache(http.StripPrefix("/", demoFiles)))
	mux.Handle("GET /public/build/img/", staticCache(http.StripPrefix("/", demoFiles)))
	mux.HandleFunc("/public/", http.NotFound)

	mux.HandleFunc("/api/ds/query", s.api(s.query))
	mux.HandleFunc("GET /api/dashboards/uid/{uid}", s.api(s.dashboardAPI))
	mux.HandleFunc("GET /api/panelcast-test/dashboards/{uid}", s.api(s.pageModel))
	mux.HandleFunc("GET /apis/dashboard.grafana.app/{$}", s.api(s.apiGroup))
	mux.HandleFunc("GET /apis/dashboard.grafana.app/{version}/namespaces/{namespace}/dashboards/{uid}", s.api(s.dashboardResource))
	mux.HandleFunc("GET /api/frontend/settings", s.api(s.frontendSettings))
	mux.HandleFunc("GET /render/{page...}", s.api(s.renderPage))
	mux.HandleFunc("GET /api/folders/{uid}", s.api(s.folder))
	mux.HandleFunc("GET /api/dashboards/uid/{uid}/permissions", s.api(s.dashboardPermissions))
	mux.HandleFunc("GET /api/teams/{id}/members", s.api(s.teamMembers))
	mux.HandleFunc("GET /api/org", s.api(currentOrg))
	mux.HandleFunc("POST /api/panelcast-test/report", s.api(s.report))
	mux.HandleFunc("GET /api/panelcast-test/data.csv", s.api(serveCSV))
	notFound := s.api(func(w http.ResponseWriter, _ *http.Request) {
		demo.WriteJSON(w, http.StatusNotFound, message("Not found"))
	})
	mux.HandleFunc("/api/", notFound)
	mux.HandleFunc("/apis/", notFound)

	for _, prefix := range []string{"/d/", "/d-solo/"} {
		mux.HandleFunc("GET "+prefix+"{uid}", s.page(s.shell))
		mux.HandleFunc("GET "+prefix+"{uid}/{slug...}", s.page(s.shell))
	}
	mux.HandleFunc("/", s.page(http.NotFound))
	return s.record(mux)
}

// record keeps every request as a Visit, counts what is served (see
// Served) and tracks handlers in flight, so Close can wait for them.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookies := map[string]string{}
		for _, c := range r.Cookies() {
			cookies[c.Name] = c.Value
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "server closed", http.StatusServiceUnavailable)
			return
		}
		s.inFlight.Add(1)
		s.visits = append(s.visits, Visit{
			Method:  r.Method,
			Path:    r.URL.Path,
			Query:   r.URL.Query(),
			Cookies: cookies,
			Header:  r.Header.Clone(),
			At:      time.Now(),
		})
		s.mu.Unlock()
		defer s.inFlight.Done()
		// Nothing is cacheable but what Grafana lets be cached (see
		// staticCache): a renderer reusing its browser must not get a
		// faster boot than Grafana would give it.
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(s.counted(w, r), r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.noAuth {
		return true
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.saToken != "" {
		return subtle.ConstantTimeCompare([]byte(token), []byte(s.saToken)) == 1 ||
			s.adminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.adminToken)) == 1
	}
	c, err := r.Cookie("renderKey")
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.RenderKey)) == 1
}

// page guards a page as Grafana does: without a valid render key (or
// service-account token) the browser is sent to the login page, which
// answers 200 like any page.
func (s *Server) page(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			http.SetCookie(w, &http.Cookie{Name: "redirect_to", Value: r.URL.RequestURI(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		next(w, r)
	}
}

// api guards an API endpoint: 401 without a valid render key or
// service-account token.
func (s *Server) api(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			demo.WriteJSON(w, http.StatusUnauthorized, message("Unauthorized"))
			return
		}
		next(w, r)
	}
}

func (s *Server) shell(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	d, _ := dashboardFor(uid)
	title := d.Title
	if title == "" {
		title = "Dashboard"
	}
	boot := msParam(r, "boot", defaultBootMs).Milliseconds()
	settings := map[string]any{
		"panelcast": map[string]any{
			"series":        demo.Hex(SeriesColor),
			"error":         demo.Hex(ErrorColor),
			"reportInstant": ReportInstant.UnixMilli(),
		},
	}
	if d.Frontend {
		demo.WritePage(w, demo.PageData{Title: title, ScriptQuery: "?boot=" + strconv.FormatInt(boot, 10), Settings: settings})
		return
	}
	settings["appUrl"] = "/"
	s.renderHTML(w, indexTemplate, map[string]any{
		"Title":      title,
		"Background": template.CSS(demo.Hex(Background)),
		"Boot":       boot,
		"Binding":    uid == ScenarioBinding,
		// What Grafana's frontend reads at start-up (config.bootData).
		"BootData": map[string]any{
			"user":     map[string]any{"theme": "dark", "timezone": "browser", "locale": "en-US"},
			"settings": settings,
		},
	})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	s.renderHTML(w, loginTemplate, map[string]any{
		"Login": template.CSS(demo.Hex(LoginColor)),
		"Boot":  msParam(r, "boot", defaultBootMs).Milliseconds(),
	})
}

func (s *Server) renderHTML(w http.ResponseWriter, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, fmt.Sprintf("render %s: %v", t.Name(), err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// bundle serves a page's script: it arrives boot ms late, imitating
// download and start-up of Grafana's real bundles, and holds back the page's
// load event because the shell loads it as a blocking script.
func (s *Server) bundle(js []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.sleep(r.Context(), msParam(r, "boot", defaultBootMs)) {
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(js)
	}
}

func mustRead(fsys fs.FS, name string) []byte {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err) // the file is embedded in package demo
	}
	return b
}

func serveCSS(css []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(css)
	}
}

// dashboardAPI is GET /api/dashboards/uid/<uid>, with Grafana's 403 for a
// caller whose role may not view the dashboard's folder, and Grafana 13's
// 406 for a dashboard stored in schema v2.
func (s *Server) dashboardAPI(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if _, ok := dashboardFor(uid); !ok {
		demo.WriteJSON(w, http.StatusNotFound, message("Dashboard not found"))
		return
	}
	if s.fault(w, uid, false) {
		return
	}
	if !s.mayView(s.role(r), uid) {
		demo.WriteJSON(w, http.StatusForbidden, message("Access denied to this dashboard"))
		return
	}
	if stored := s.generation.storedVersion(); strings.HasPrefix(stored, "v2") {
		demo.WriteJSON(w, http.StatusNotAcceptable, message("dashboard api version not supported, use /apis/dashboard.grafana.app/"+
			stored+"/namespaces/"+Namespace+"/dashboards/"+uid+" instead"))
		return
	}
	s.pageModel(w, r)
}

// pageModel is what the pages' script reads of its dashboard, in the
// legacy API's shape with the scenario under meta.panelcast: a stand-in
// route, so that pages work whatever API the generation serves.
func (s *Server) pageModel(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	d, ok := dashboardFor(uid)
	if !ok {
		demo.WriteJSON(w, http.StatusNotFound, message("Dashboard not found"))
		return
	}
	if !s.mayView(s.role(r), uid) {
		demo.WriteJSON(w, http.StatusForbidden, message("Access denied to this dashboard"))
		return
	}
	f := s.access.folderOf(uid)
	demo.WriteJSON(w, http.StatusOK, map[string]any{
		"dashboard": classicSpec(uid, d),
		"meta": map[string]any{"slug": strings.ToLower(d.Title), "panelcast": d.Scenario,
			"folderUid": f.UID, "folderTitle": f.Title},
	})
}

// templatingFor is a dashboard's template variables in Grafana's JSON model
// (dashboard.templating.list): the scenes dashboard has a single-value
// query variable instance and a multi-value job with All selected, so
// alert labels of those names can become var-instance and var-job; the
// demo dashboard has demo's.
func templatingFor(uid string) []any {
	if uid == ScenarioDemo || uid == ScenarioDemoFailing {
		return demo.Variables()
	}
	if uid != ScenarioScenes {
		return []any{}
	}
	query := func(name, label string, multi bool, current map[string]any) map[string]any {
		q := "label_values(up, " + name + ")"
		return map[string]any{
			"current":     current,
			"datasource":  map[string]any{"type": "prometheus", "uid": "prometheus"},
			"definition":  q,
			"hide":        0,
			"includeAll":  multi,
			"label":       label,
			"multi":       multi,
			"name":        name,
			"options":     []any{},
			"query":       map[string]any{"query": q, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
			"refresh":     1,
			"regex":       "",
			"skipUrlSync": false,
			"sort":        1,
			"type":        "query",
		}
	}
	return []any{
		query("instance", "Instance", false, map[string]any{"selected": false, "text": "web-1:9100", "value": "web-1:9100"}),
		query("job", "Job", true, map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}),
	}
}

// dsQuery is what /api/ds/query reads from a request. Grafana's frontend
// posts {"queries": [...], "from": "<ms>", "to": "<ms>"}; the stand-in's
// pages say which scenario's answer they want and how late, assets/app.js
// in the URL (scenario, ms), Grafana's frontend in the query, as TestData
// reads its scenarioId from it.
type dsQuery struct {
	scenario  string
	delay     time.Duration
	from, to  time.Time
	instances []string
}

func readQuery(r *http.Request) dsQuery {
	var body struct {
		Queries []struct {
			Scenario string   `json:"scenario"`
			QueryMs  *int     `json:"queryMs"`
			Instance []string `json:"instance"`
		} `json:"queries"`
		From string `json:"from"`
		To   string `json:"to"`
	}
	// A body that is not JSON is a request without these details.
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
	q := dsQuery{
		scenario: r.URL.Query().Get("scenario"),
		delay:    msParam(r, "ms", 0),
		from:     ReportInstant.Add(-2 * time.Hour),
		to:       ReportInstant,
	}
	if q.scenario == "" && len(body.Queries) > 0 {
		q.scenario, q.instances = body.Queries[0].Scenario, body.Queries[0].Instance
		if ms := body.Queries[0].QueryMs; ms != nil && *ms >= 0 && *ms <= maxDelayMs {
			q.delay = time.Duration(*ms) * time.Millisecond
		}
	}
	from, errFrom := strconv.ParseInt(body.From, 10, 64)
	to, errTo := strconv.ParseInt(body.To, 10, 64)
	if errFrom == nil && errTo == nil && from < to {
		q.from, q.to = time.UnixMilli(from), time.UnixMilli(to)
	}
	return q
}

// query is /api/ds/query: it answers after the query's delay, fails for the
// failing scenarios, and never answers for "never" (until the client goes
// away or the server closes).
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r)
	if q.scenario == ScenarioNever {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if !s.sleep(r.Context(), q.delay) {
		return
	}
	var frames []any
	switch q.scenario {
	case ScenarioFailing, ScenarioDemoFailing:
		demo.WriteJSON(w, http.StatusInternalServerError, message(QueryError))
		return
	case ScenarioDemo:
		frames = demo.Frames(q.from, q.to, q.instances)
	default:
		end := ReportInstant.UnixMilli()
		frames = []any{map[string]any{
			"schema": map[string]any{"refId": "A", "fields": []any{
				map[string]string{"name": "time", "type": "time"},
				map[string]string{"name": "value", "type": "number"},
			}},
			"data": map[string]any{"values": []any{
				[]int64{end - 120000, end - 60000, end},
				[]float64{1, 2, 3},
			}},
		}}
	}
	demo.WriteJSON(w, http.StatusOK, map[string]any{
		"results": map[string]any{"A": map[string]any{"status": http.StatusOK, "frames": frames}},
	})
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	var rep Report
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&rep); err != nil {
		demo.WriteJSON(w, http.StatusBadRequest, message("bad report: "+err.Error()))
		return
	}
	rep.At = time.Now()
	s.mu.Lock()
	s.reports = append(s.reports, rep)
	s.mu.Unlock()
	// No body: the pages never read this answer, and Chromium reports no
	// end of a body nobody reads, so a renderer that waits for the network
	// to be idle (grafana-image-renderer) would wait for it forever.
	w.WriteHeader(http.StatusNoContent)
}

func serveCSV(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+CSVFileName+`"`)
	_, _ = w.Write([]byte(CSVData))
}

// sleep waits d unless the request ends or the server closes first; it
// reports whether the whole wait passed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// msParam reads a millisecond query parameter; missing or invalid values
// give def.
func msParam(r *http.Request, name string, def int) time.Duration {
	ms, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || ms < 0 || ms > maxDelayMs {
		ms = def
	}
	return time.Duration(ms) * time.Millisecond
}

func message(m string) map[string]string { return map[string]string{"message": m} }
