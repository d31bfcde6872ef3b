package server

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/service"
)

// retryAfter is what a refused render is told to wait. Grafana itself does
// not retry (it maps 429 to "too many requests"); other callers may.
const retryAfter = "5"

// render serves GET /render (csv false) and GET /render/csv: the query
// becomes the service's render call, whose class of failure becomes the
// status Grafana understands.
func (s *Server) render(csv bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		call := service.RenderCall{Kind: service.KindPNG, AuthToken: r.Header.Get("X-Auth-Token")}
		switch {
		case csv:
			call.Kind = service.KindCSV
		case strings.EqualFold(strings.TrimSpace(q.Get("encoding")), "pdf"):
			call.Kind = service.KindPDF
		}
		call.Request, call.Invalid = ParseRenderQuery(q, csv)
		if v := r.Header.Values("Accept-Language"); len(v) > 0 {
			call.Request.Headers = map[string][]string{"Accept-Language": v}
		}
		call.Deliver = func(body []byte, filename string) error {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			switch call.Kind {
			case service.KindCSV:
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				w.Header().Set("Content-Disposition", contentDisposition(safeFilename(filename)))
			case service.KindPDF:
				w.Header().Set("Content-Type", "application/pdf")
			default:
				w.Header().Set("Content-Type", "image/png")
			}
			w.WriteHeader(http.StatusOK)
			_, err := w.Write(body)
			return err
		}
		err := s.svc.HandleRender(r.Context(), call)
		var rerr *service.RenderError
		if !errors.As(err, &rerr) {
			return // answered, or the caller went away while it was
		}
		status := httpapi.Status(rerr.Class)
		msg := rerr.Error()
		switch rerr.Class {
		case service.FailQueueFull:
			w.Header().Set("Retry-After", retryAfter)
		case service.FailShuttingDown:
			msg += ": retry on another replica"
		}
		writeError(w, status, msg)
	}
}

// safeFilename is the CSV's name as Grafana accepts it: Grafana refuses a
// Content-Disposition filename with a slash or backslash.
func safeFilename(name string) string {
	name = strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c < ' ' || c == 0x7f {
			return '_'
		}
		return c
	}, name)
	if name == "" {
		return "data.csv"
	}
	return name
}

// contentDisposition names the CSV; Grafana needs a filename to save it.
func contentDisposition(name string) string {
	if cd := mime.FormatMediaType("attachment", map[string]string{"filename": name}); cd != "" {
		return cd
	}
	return `attachment; filename="data.csv"`
}
