// Package grafanatest is Panelcast's stand-in for Grafana's pages: an HTTP(S)
// server whose dashboards and solo panels boot, query, paint and signal
// readiness the way Grafana 9–12 pages do, with the same traps (signals that
// appear only after the bundle boots, a gap before the first query, a late
// paint after the query count drains, lazily loaded panels, a login page for
// a missing renderKey, a certificate issued for another name).
//
// Integration tests point the renderer at it and check the pixels the pages
// paint; the binary's built-in demo is package demo, whose dashboard and
// assets the demo scenarios serve here with the stand-in's traps.
//
// Scenarios are chosen by the dashboard UID in the path (/d-solo/<scenario>/…
// or /d/<scenario>/…); see the Scenario* constants. Page query parameters
// (all milliseconds): boot (bundle delay, default 300), querystart (gap
// between boot and the first query, default 200), query (query duration,
// default 300, 1000 for "slow"); csv pages also take download=link.
//
// The demo scenarios are package demo's pages, built from Grafana's own
// frontend libraries and drawn as Grafana draws them; CheckDemoPicture
// recognises their pictures.
//
// Layout of the other scenarios, so tests can check pixels at fractions of
// the picture whatever its size and device scale factor: a page is
// Background; a solo panel fills the
// viewport and, once its data arrives, paints its lower half (y from 50 % to
// 100 %, full width) in SeriesColor, or in ErrorColor when its query fails.
// Text (panel title, local time, error message) stays inside the top-left
// 320×64 CSS px. A dashboard of one panel looks the same; the "tall"
// dashboard is described at ScenarioTall. Until the bundle has booted a page
// is Background with "Loading Grafana" in its centre. The login page is
// LoginColor except for its form in the top-left 320×160 CSS px.
package grafanatest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"image/color"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/panelcast/panelcast/pkg/demo"
)

// Scenarios, chosen by the dashboard UID in the page's path.
const (
	// ScenarioScenes is a Grafana 10–12 page: after boot it sets
	// window.__grafanaSceneContext and window.__grafanaRunningQueryCount = 0,
	// and only querystart ms later counts its query up, paints, counts down.
	ScenarioScenes = "scenes"
	// ScenarioSlow is ScenarioScenes with a 1000 ms query.
	ScenarioSlow = "slow"
	// ScenarioFailing is ScenarioScenes whose query answers HTTP 500
	// {"message":"datasource error"}: the panel paints ErrorColor and shows
	// the message, and the count still returns to 0.
	ScenarioFailing = "failing"
	// ScenarioNever is ScenarioScenes whose query never answers: the count
	// stays at 1 and the panel stays empty.
	ScenarioNever = "never"
	// ScenarioBinding is a Grafana 12+ page: the HTML shell sets
	// window.__grafanaRenderBindingSupported = true before the bundle loads;
	// the scenes count drains after the query, but the series is painted
	// BindingPaintDelay later, and only then, if the renderer installed the
	// runtime binding window.__grafanaImageRendererMessageChannel, the page
	// calls it with BindingMessage.
	ScenarioBinding = "binding"
	// ScenarioLegacy is a Grafana 9 page: no scenes signals;
	// window.panelsRendered is 0 after boot and 1 once the panel painted.
	ScenarioLegacy = "legacy"
	// ScenarioStatic sets no Grafana signal at all: only network and DOM
	// stability tell that it is done.
	ScenarioStatic = "static"
	// ScenarioTall, as /d/tall/…, is a dashboard TallHeight CSS px tall that
	// scrolls the document (document.body.scrollHeight is TallHeight, as
	// with newer Grafana's body scrolling), with scenes signals. Its panels
	// (elements with data-panelid, content in a .panel-content element) are,
	// from the top: four 575 px panels that paint their lower half in
	// SeriesColor, then a 100 px untitled panel painted entirely in
	// SeriesColor, so the bottom 100 px show that the whole page was
	// captured. Panels load lazily like Grafana's: a panel starts its
	// query only once it is inside the viewport (after querystart), so
	// panels below the fold stay empty until the renderer scrolls or grows
	// the viewport, and the query count rises again when they start.
	ScenarioTall = "tall"
	// ScenarioCSV is a table panel that, after its query, downloads
	// CSVFileName with CSVData the way Grafana's export does: it fetches the
	// data and saves it through a blob: URL and an <a download> clicked by
	// script. With page parameter download=link it instead clicks an
	// <a download> pointing at /api/panelcast-test/data.csv, which answers
	// with Content-Disposition: attachment.
	ScenarioCSV = "csv"
	// ScenarioDemo is package demo's dashboard, built from Grafana's own
	// frontend libraries (demo/frontend, bundled into grafana.js): @grafana/scenes
	// runs the query and keeps window.__grafanaSceneContext and
	// window.__grafanaRunningQueryCount, @grafana/ui draws two time series
	// panels with title, axes, grid, legend, the Demo series
	// in Grafana's palette and a dashed threshold, on Grafana's dark theme.
	// The count is unset until the first query starts, querystart ms after
	// boot (the data source's loading), as on Grafana's own pages. Its
	// layout is Grafana's, not the contract above.
	ScenarioDemo = "demo"
	// ScenarioDemoFailing is ScenarioDemo whose query answers HTTP 500
	// {"message":"datasource error"}: Grafana's panels show their error.
	ScenarioDemoFailing = "demo-failing"
)

// Facts the pages are built on, exported so tests can state expectations.
const (
	// TallHeight is the CSS height of the "tall" dashboard.
	TallHeight = 2400
	// BindingPaintDelay is how long after the query count drains the
	// "binding" page paints its series.
	BindingPaintDelay = 400 * time.Millisecond
	// BindingMessage is what the "binding" page passes to
	// window.__grafanaImageRendererMessageChannel once it has painted; it is
	// the message Grafana's own frontend sends.
	BindingMessage = `{"type":"REPORT_RENDER_COMPLETE","data":{"success":true}}`
	// LocalTimeLayout is the Go layout of Report.LocalTime.
	LocalTimeLayout = "2006-01-02T15:04:05-07:00"
	// CSVFileName is the name the csv page gives its download.
	CSVFileName = "panel-data.csv"
	// CSVData is the content of the csv page's download.
	CSVData = "time,value\r\n2024-01-01 12:00:00,1\r\n2024-01-01 12:01:00,2\r\n2024-01-01 12:02:00,3\r\n"
	// QueryError is the message of the "failing" scenario's query error.
	QueryError = "datasource error"
	// CertificateName is the only name in the TLS certificate.
	CertificateName = demo.CertificateName
)

// ReportInstant is the fixed instant pages format in local time for
// Report.LocalTime.
var ReportInstant = time.Date(2024, time.January, 1, 12, 0, 0, 0, time.UTC)

// Colours the pages paint, exported so tests can check pixels.
var (
	// Background is Grafana's dark page background.
	Background = demo.Background
	// SeriesColor is Grafana's first classic palette colour (green), that
	// of the demo's first series.
	SeriesColor = demo.All[0].Color
	// ErrorColor is Grafana's error red.
	ErrorColor = color.RGBA{0xf2, 0x49, 0x5c, 0xff}
	// LoginColor is the login page's background, unlike anything else.
	LoginColor = color.RGBA{0x1f, 0x60, 0xc4, 0xff}
)

// Options configure Start.
type Options struct {
	// TLS serves https with a self-signed certificate issued only for
	// CertificateName, so Chromium reaching https://localhost:<port> gets a
	// certificate error, as with a real Grafana reached by another name.
	TLS bool
	// RenderKey is what the browser must present as cookie "renderKey";
	// "" generates a random one.
	RenderKey string
	// NoAuth serves pages without the renderKey cookie, for a browser that
	// cannot set one (chromium --screenshot, a person trying the demo).
	NoAuth bool
	// ServiceAccountToken, when set, is also accepted as
	// "Authorization: Bearer <token>" on pages and API calls, as Grafana
	// accepts a service-account token on any request. Visits keep the
	// header, so tests can check which requests carried it.
	ServiceAccountToken string
	// AdminToken, when set, is a second service-account token, of an
	// account with the Admin role whatever Access says of the first.
	AdminToken string
	// Addr is the address to listen on; "" means 127.0.0.1 on a free port.
	Addr string
	// Host is the host name in URL; "" means localhost. A name that is not
	// loopback-looking (e.g. grafana.test) stands for a remote Grafana:
	// the client maps it onto the listening address (Chromium's
	// --host-resolver-rules, a Go dialer).
	Host string
	// Certificate, with TLS, is served instead of the self-signed one for
	// CertificateName (e.g. one a CA issued, see NewCA).
	Certificate *tls.Certificate
	// Access is who may see which dashboard (folders, permissions, teams,
	// the service account's role); the zero value lets everyone see
	// everything, as a fresh Grafana's General folder does.
	Access Access
	// Generation is the Grafana whose dashboard APIs the stand-in serves
	// (the zero value is Grafana 9–12.1). Pages read their dashboard
	// through a stand-in route whatever it is, except the demo scenarios',
	// built from Grafana's frontend, which read /api/dashboards and so show
	// an error on Grafana13.
	Generation Generation
	// Faults spoil the API answers for the dashboards they name.
	Faults map[string]APIFault
}

// Visit is one request the server saw.
type Visit struct {
	Method  string
	Path    string
	Query   url.Values
	Cookies map[string]string
	Header  http.Header
	At      time.Time
}

// Report is what a page reported from inside the browser, after boot and
// before its first query.
type Report struct {
	Scenario string `json:"scenario"`
	// TimeZone is Intl.DateTimeFormat().resolvedOptions().timeZone.
	TimeZone string `json:"timeZone"`
	// LocalTime is ReportInstant in the page's local time, in
	// LocalTimeLayout.
	LocalTime string `json:"localTime"`
	// Language is navigator.language.
	Language  string `json:"language"`
	UserAgent string `json:"userAgent"`
	// Width and Height are window.innerWidth and innerHeight.
	Width  int     `json:"width"`
	Height int     `json:"height"`
	DPR    float64 `json:"dpr"`
	// Binding says whether window.__grafanaImageRendererMessageChannel was
	// a function when the page booted.
	Binding bool `json:"binding"`
	// At is when the server received the report.
	At time.Time `json:"-"`
}

// Server serves Grafana-like pages until Close.
type Server struct {
	// URL is the base URL, http(s)://localhost:<port>: the host name is
	// localhost, as in a Grafana root_url, never the certificate's name.
	URL       string
	RenderKey string

	noAuth     bool
	saToken    string
	adminToken string
	access     Access
	generation Generation
	faults     map[string]APIFault
	cert       *x509.Certificate
	srv        *http.Server
	handler    http.Handler
	// done releases requests held by the server (bundle delays, slow and
	// never-answering queries) when it closes.
	done      chan struct{}
	closeOnce sync.Once
	served    chan struct{}

	mu       sync.Mutex
	visits   []Visit
	reports  []Report
	traffic  map[string]Traffic // per path class, see Served
	closed   bool
	inFlight sync.WaitGroup
}

// Start listens and serves until Close.
func Start(opts Options) (*Server, error) {
	key := opts.RenderKey
	if key == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("grafanatest: render key: %w", err)
		}
		key = hex.EncodeToString(b)
	}
	s := &Server{
		RenderKey:  key,
		noAuth:     opts.NoAuth,
		saToken:    opts.ServiceAccountToken,
		adminToken: opts.AdminToken,
		access:     opts.Access,
		generation: opts.Generation,
		faults:     opts.Faults,
		done:       make(chan struct{}),
		served:     make(chan struct{}),
	}
	s.handler = s.routes()

	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("grafanatest: listen on %s: %w", addr, err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Failed handshakes are what the TLS mode is for; logging each
		// one would only clutter test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}

	scheme := "http"
	if opts.TLS {
		cert, err := serverCertificate(opts.Certificate)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("grafanatest: %w", err)
		}
		s.cert = cert.Leaf
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		})
		scheme = "https"
	}
	host := opts.Host
	if host == "" {
		host = "localhost"
	}
	s.URL = scheme + "://" + net.JoinHostPort(host, port)

	go func() {
		defer close(s.served)
		// Serve returns ErrServerClosed after Close; nothing else can be
		// reported from here.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server, releasing held requests first so it does not hang
// on a query that never answers.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		// Close (not Shutdown): a test server owes its clients no grace,
		// and the held handlers have just been released anyway.
		_ = s.srv.Close()
		<-s.served
		s.inFlight.Wait()
	})
}

// PanelURL is the URL Grafana gives a renderer for a solo panel of the
// scenario: /d-solo/<scenario>/panel with orgId, panelId, from, to and
// render=1, each overridden by params.
func (s *Server) PanelURL(scenario string, params url.Values) string {
	return s.pageURL("/d-solo/"+url.PathEscape(scenario)+"/panel", params, url.Values{"panelId": {"2"}})
}

// DashboardURL is the URL Grafana gives a renderer for a whole dashboard of
// the scenario: /d/<scenario>/dash with orgId, from, to and render=1, each
// overridden by params.
func (s *Server) DashboardURL(scenario string, params url.Values) string {
	return s.pageURL("/d/"+url.PathEscape(scenario)+"/dash", params, url.Values{})
}

func (s *Server) pageURL(path string, params, q url.Values) string {
	q.Set("orgId", "1")
	q.Set("from", strconv.FormatInt(ReportInstant.Add(-2*time.Hour).UnixMilli(), 10))
	q.Set("to", strconv.FormatInt(ReportInstant.UnixMilli(), 10))
	q.Set("render", "1")
	for k, v := range params {
		q[k] = v
	}
	return s.URL + path + "?" + q.Encode()
}

// Visits is every request the server saw, in order of arrival.
func (s *Server) Visits() []Visit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Visit(nil), s.visits...)
}

// Reports is what pages reported from inside the browser, in order.
func (s *Server) Reports() []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Report(nil), s.reports...)
}

// Certificate is the TLS leaf certificate, or nil without TLS.
func (s *Server) Certificate() *x509.Certificate { return s.cert }
