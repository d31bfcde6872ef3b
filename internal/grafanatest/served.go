package grafanatest

import (
	"net/http"
	"strings"
)

// Traffic counts what the stand-in served for one class of path: requests
// and bytes of answer bodies.
type Traffic struct {
	Requests int64
	Bytes    int64
}

// The path classes of Served.
const (
	// ClassStatic is /public/…: Grafana's built bundles, styles, fonts
	// and images.
	ClassStatic = "static"
	// ClassPage is the HTML pages (dashboards, solo panels, login).
	ClassPage = "page"
	// ClassAPI is /api/… and /apis/….
	ClassAPI = "api"
)

func pathClass(path string) string {
	switch {
	case strings.HasPrefix(path, "/public/"):
		return ClassStatic
	case strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/apis/"):
		return ClassAPI
	default:
		return ClassPage
	}
}

// Served is what the server has answered so far, per path class; two
// calls' difference (Since) divided by the renders between them is what
// one render costs Grafana.
func (s *Server) Served() map[string]Traffic {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Traffic, len(s.traffic))
	for class, t := range s.traffic {
		out[class] = t
	}
	return out
}

// Since is now minus before, per class, every class present.
func Since(now, before map[string]Traffic) map[string]Traffic {
	out := make(map[string]Traffic, 3)
	for _, class := range []string{ClassStatic, ClassPage, ClassAPI} {
		out[class] = Traffic{Requests: now[class].Requests - before[class].Requests, Bytes: now[class].Bytes - before[class].Bytes}
	}
	return out
}

// counted counts the request r in its class and returns w counting the
// body bytes written to it.
func (s *Server) counted(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	class := pathClass(r.URL.Path)
	s.addTraffic(class, 1, 0)
	return &servedWriter{ResponseWriter: w, s: s, class: class}
}

func (s *Server) addTraffic(class string, requests, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.traffic == nil {
		s.traffic = map[string]Traffic{}
	}
	t := s.traffic[class]
	t.Requests += requests
	t.Bytes += bytes
	s.traffic[class] = t
}

type servedWriter struct {
	http.ResponseWriter
	s     *Server
	class string
}

func (w *servedWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.s.addTraffic(w.class, 0, int64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer
// (flushes of the held and streamed answers).
func (w *servedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
