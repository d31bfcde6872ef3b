package grafanatest

import (
	"net/http"
	"strings"
)

// Traffic is what the stand-in served for one class of path: how many
// requests, and how many bytes of answer bodies it wrote for them.
type Traffic struct {
	Requests int64
	Bytes    int64
}

// Path classes of Served.
const (
	// ClassStatic is Grafana's static files: /public/… (built bundles,
	// stylesheets, fonts, images).
	ClassStatic = "static"
	// ClassPage is the HTML pages: dashboards, solo panels, the login page.
	ClassPage = "page"
	// ClassAPI is /api/… and /apis/…: dashboards, queries, settings.
	ClassAPI = "api"
)

// pathClass sorts a request path into ClassStatic, ClassPage or ClassAPI.
func pathClass(path string) string {
	switch {
	case strings.HasPrefix(path, "/public/"):
		return ClassStatic
	case strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/apis/"):
		return ClassAPI
	}
	return ClassPage
}

// Served is what the server has served so far, per path class. The
// difference of two calls is what the renders between them cost the
// stand-in: a benchmark divides it by the renders to get a render's
// requests and bytes that reached Grafana.
func (s *Server) Served() map[string]Traffic {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Traffic, len(s.traffic))
	for k, v := range s.traffic {
		out[k] = v
	}
	return out
}

// Since is what t has more than an earlier Served, per class, with every
// class present.
func Since(now, before map[string]Traffic) map[string]Traffic {
	out := map[string]Traffic{}
	for _, c := range []string{ClassStatic, ClassPage, ClassAPI} {
		out[c] = Traffic{Requests: now[c].Requests - before[c].Requests, Bytes: now[c].Bytes - before[c].Bytes}
	}
	return out
}

// counted counts r as a request of its class and wraps w so the bytes of
// its answer are counted too.
func (s *Server) counted(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	class := pathClass(r.URL.Path)
	s.mu.Lock()
	if s.traffic == nil {
		s.traffic = map[string]Traffic{}
	}
	t := s.traffic[class]
	t.Requests++
	s.traffic[class] = t
	s.mu.Unlock()
	return &countingWriter{ResponseWriter: w, s: s, class: class}
}

type countingWriter struct {
	http.ResponseWriter
	s     *Server
	class string
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.s.mu.Lock()
	t := c.s.traffic[c.class]
	t.Bytes += int64(n)
	c.s.traffic[c.class] = t
	c.s.mu.Unlock()
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// staticCache answers with the Cache-Control Grafana's static handler
// sends (pkg/api/http_server.go, mapStatic): a year for /public/build/,
// whose file names carry a content hash, an hour for the rest of /public/.
// Grafana sends it before any user is known, so the files are the same
// for everyone.
func staticCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		maxAge := "3600"
		if strings.HasPrefix(r.URL.Path, "/public/build/") {
			maxAge = "31536000"
		}
		w.Header().Set("Cache-Control", "public, max-age="+maxAge)
		next.ServeHTTP(w, r)
	})
}
