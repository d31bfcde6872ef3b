package grafanatest

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/demo"
)

// Generation is which Grafana the stand-in's dashboard APIs behave as.
type Generation int

// Grafana generations, as far as reading a dashboard goes.
const (
	// Grafana9 is Grafana 9 to 12.1: dashboards only through
	// /api/dashboards/uid/<uid>; /apis/dashboard.grafana.app answers 404.
	Grafana9 Generation = iota
	// Grafana12 is Grafana 12.2 to 12.4: dashboards stored in schema v1,
	// served by the legacy API and by the resource API
	// /apis/dashboard.grafana.app/<version>/namespaces/default/dashboards/<uid>
	// in v0alpha1 and v1beta1 (classic model) and v2alpha1 and v2beta1
	// (schema v2, converted on read).
	Grafana12
	// Grafana13 is Grafana 13: dashboards stored in schema v2 (v2beta1).
	// The legacy API answers 406 naming the resource to read instead; the
	// resource API serves v1 and v2 too, and a read in a classic version
	// answers status.conversion.failed, as when Grafana cannot convert a
	// dashboard back to schema v1.
	Grafana13
)

// Generations are every Generation, oldest first, for tests that run once
// per Grafana.
var Generations = []Generation{Grafana9, Grafana12, Grafana13}

func (g Generation) String() string {
	switch g {
	case Grafana9:
		return "grafana9-12.1"
	case Grafana12:
		return "grafana12.2"
	case Grafana13:
		return "grafana13"
	}
	return "generation" + strconv.Itoa(int(g))
}

// versions are the versions of dashboard.grafana.app the generation serves.
func (g Generation) versions() []string {
	switch g {
	case Grafana12:
		return []string{"v0alpha1", "v1beta1", "v2alpha1", "v2beta1"}
	case Grafana13:
		return []string{"v0alpha1", "v1beta1", "v1", "v2alpha1", "v2beta1", "v2"}
	}
	return nil
}

// storedVersion is the version dashboards are stored in.
func (g Generation) storedVersion() string {
	if g == Grafana13 {
		return "v2beta1"
	}
	return "v1beta1"
}

// APIFault spoils the dashboard APIs' answers for one dashboard (legacy and
// resource alike) while its pages still work, as a proxy in the way or a
// Grafana bug would.
type APIFault int

// Faults of Options.Faults.
const (
	// FaultServerError answers 500 {"message":"internal server error"}.
	FaultServerError APIFault = iota + 1
	// FaultGarbage answers 200 with a body that is no JSON.
	FaultGarbage
	// FaultNotAcceptable answers 406 {"message":"dashboard api version not
	// supported"} without naming a resource, and the resource API 404.
	FaultNotAcceptable
)

// Namespace is the resource API's namespace of the stand-in's organisation.
const Namespace = "default"

// fault answers a dashboard read the way opts.Faults says; false when the
// dashboard has none.
func (s *Server) fault(w http.ResponseWriter, uid string, resource bool) bool {
	switch s.faults[uid] {
	case FaultServerError:
		demo.WriteJSON(w, http.StatusInternalServerError, message("internal server error"))
	case FaultGarbage:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Bad gateway, try later</body></html>"))
	case FaultNotAcceptable:
		if resource {
			k8sStatus(w, http.StatusNotFound, "NotFound", `dashboards.dashboard.grafana.app "`+uid+`" not found`)
			return true
		}
		demo.WriteJSON(w, http.StatusNotAcceptable, message("dashboard api version not supported"))
	default:
		return false
	}
	return true
}

// apiGroup is GET /apis/dashboard.grafana.app/, Kubernetes' API group
// discovery, which Grafana's frontend reads to pick versions.
func (s *Server) apiGroup(w http.ResponseWriter, _ *http.Request) {
	versions := s.generation.versions()
	if versions == nil {
		demo.WriteJSON(w, http.StatusNotFound, message("Not found"))
		return
	}
	var list []map[string]string
	for _, v := range versions {
		list = append(list, map[string]string{"groupVersion": "dashboard.grafana.app/" + v, "version": v})
	}
	demo.WriteJSON(w, http.StatusOK, map[string]any{"kind": "APIGroup", "apiVersion": "v1", "name": "dashboard.grafana.app",
		"versions": list, "preferredVersion": list[slices.Index(versions, "v1beta1")]})
}

// frontendSettings is GET /api/frontend/settings, of which the stand-in has
// the build version and, from Grafana 12.2, the resource API's namespace.
func (s *Server) frontendSettings(w http.ResponseWriter, _ *http.Request) {
	settings := map[string]any{"appUrl": s.URL + "/", "buildInfo": map[string]any{"version": map[Generation]string{
		Grafana9: "12.1.0", Grafana12: "12.2.0", Grafana13: "13.0.0"}[s.generation]}}
	if s.generation >= Grafana12 {
		settings["namespace"] = Namespace
	}
	settings["rendererAvailable"], settings["rendererVersion"] = true, RendererVersion
	demo.WriteJSON(w, http.StatusOK, settings)
}

// RendererVersion is the renderer the stand-in's frontend settings name.
const RendererVersion = "4.0.0"

// RenderedColor fills every picture the stand-in's /render draws.
var RenderedColor = color.RGBA{R: 0x2a, G: 0x7f, B: 0x62, A: 0xff}

// renderPage is GET /render/<page>, Grafana's own render of one of its
// pages as the caller (reqSignedIn; a service-account token will do): a
// PNG of the query's width x height (Grafana's defaults 800 x 400), in
// RenderedColor, for any /d-solo/ or /d/ page of a dashboard the stand-in
// has, or what Options.Renderer draws. The test reads the page's query from
// the visit.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request) {
	page := r.PathValue("page")
	kind, rest, _ := strings.Cut(page, "/")
	uid, _, _ := strings.Cut(rest, "/")
	if _, ok := dashboardFor(uid); (kind != "d-solo" && kind != "d") || !ok {
		demo.WriteJSON(w, http.StatusNotFound, message("Dashboard not found"))
		return
	}
	width, werr := strconv.Atoi(cmp.Or(r.URL.Query().Get("width"), "800"))
	height, herr := strconv.Atoi(cmp.Or(r.URL.Query().Get("height"), "400"))
	if werr != nil || herr != nil || width < 1 || height < 1 || width > 4000 || height > 4000 {
		demo.WriteJSON(w, http.StatusBadRequest, message("Render parameters error"))
		return
	}
	if s.renderer != nil {
		q := r.URL.Query()
		q.Set("render", "1")
		out, err := s.renderer(r.Context(), s.URL+"/"+page+"?"+q.Encode(), s.RenderKey, width, height)
		if err != nil {
			demo.WriteJSON(w, http.StatusInternalServerError, message("Failed to render: "+err.Error()))
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(out)
		return
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{RenderedColor}, image.Point{}, draw.Src)
	w.Header().Set("Content-Type", "image/png")
	_ = png.Encode(w, img)
}

// folder is GET /api/folders/<uid>.
func (s *Server) folder(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	for _, f := range s.access.Folders {
		if f.UID == uid {
			demo.WriteJSON(w, http.StatusOK, map[string]any{"uid": f.UID, "title": f.Title, "url": "/dashboards/f/" + f.UID + "/"})
			return
		}
	}
	demo.WriteJSON(w, http.StatusNotFound, message("folder not found"))
}

// dashboardResource is GET
// /apis/dashboard.grafana.app/<version>/namespaces/<ns>/dashboards/<uid>: the
// dashboard in the version asked for, converted from the stored one; a
// schema v2 dashboard read in a classic version fails its conversion.
func (s *Server) dashboardResource(w http.ResponseWriter, r *http.Request) {
	version, uid := r.PathValue("version"), r.PathValue("uid")
	if !slices.Contains(s.generation.versions(), version) {
		demo.WriteJSON(w, http.StatusNotFound, message("Not found"))
		return
	}
	d, ok := dashboardFor(uid)
	if !ok || r.PathValue("namespace") != Namespace {
		k8sStatus(w, http.StatusNotFound, "NotFound", `dashboards.dashboard.grafana.app "`+uid+`" not found`)
		return
	}
	if s.fault(w, uid, true) {
		return
	}
	if !s.mayView(s.role(r), uid) {
		k8sStatus(w, http.StatusForbidden, "Forbidden", `dashboards.dashboard.grafana.app "`+uid+`" is forbidden: access denied`)
		return
	}
	f := s.access.folderOf(uid)
	annotations := map[string]string{}
	if f.UID != "" {
		annotations["grafana.app/folder"] = f.UID
	}
	stored := s.generation.storedVersion()
	status := map[string]any{}
	var spec any
	switch {
	case strings.HasPrefix(version, "v2"):
		spec = v2Spec(uid, d, version)
		if !strings.HasPrefix(stored, "v2") {
			status["conversion"] = map[string]any{"failed": false, "storedVersion": stored}
		}
	case strings.HasPrefix(stored, "v2"):
		spec = map[string]any{}
		status["conversion"] = map[string]any{"failed": true, "storedVersion": stored,
			"error": "conversion from " + stored + " to " + version + " is not supported"}
	default:
		spec = classicSpec(uid, d)
	}
	demo.WriteJSON(w, http.StatusOK, map[string]any{
		"kind": "Dashboard", "apiVersion": "dashboard.grafana.app/" + version,
		"metadata": map[string]any{"name": uid, "namespace": Namespace, "generation": 1, "resourceVersion": "1",
			"creationTimestamp": "2024-01-01T12:00:00Z", "annotations": annotations},
		"spec": spec, "status": status,
	})
}

// classicSpec is the dashboard in Grafana's JSON model (schema v1).
func classicSpec(uid string, d dashboardModel) map[string]any {
	return map[string]any{"uid": uid, "title": d.Title, "schemaVersion": 41, "panels": d.Panels,
		"templating": map[string]any{"list": templatingFor(uid)}}
}

// v2Spec is the dashboard in schema v2 (@grafana/schema's dashboard
// v2beta1 Spec, as far as the stand-in has it): variables as kinds, panels
// as elements keyed panel-<id> laid out by a grid.
func v2Spec(uid string, d dashboardModel, version string) map[string]any {
	elements := map[string]any{}
	var items []any
	for i, p := range d.Panels {
		key := fmt.Sprintf("panel-%d", p.ID)
		viz := map[string]any{"kind": "VizConfig", "group": p.Type, "version": "", "spec": map[string]any{"options": map[string]any{}}}
		if version == "v2alpha1" {
			viz = map[string]any{"kind": p.Type, "spec": map[string]any{"options": map[string]any{}}}
		}
		elements[key] = map[string]any{"kind": "Panel", "spec": map[string]any{"id": p.ID, "title": p.Title, "description": "",
			"links": []any{}, "vizConfig": viz,
			"data": map[string]any{"kind": "QueryGroup", "spec": map[string]any{"queries": []any{}, "transformations": []any{}, "queryOptions": map[string]any{}}}}}
		items = append(items, map[string]any{"kind": "GridLayoutItem", "spec": map[string]any{"x": 0, "y": i * 8, "width": 24, "height": 8,
			"element": map[string]any{"kind": "ElementReference", "name": key}}})
	}
	var variables []any
	for _, v := range templatingFor(uid) {
		m := v.(map[string]any)
		variables = append(variables, map[string]any{"kind": "QueryVariable", "spec": map[string]any{
			"name": m["name"], "label": m["label"], "current": m["current"], "hide": "dontHide", "skipUrlSync": m["skipUrlSync"],
			"multi": m["multi"], "includeAll": m["includeAll"], "refresh": "onDashboardLoad", "options": []any{},
			"query": map[string]any{"kind": "DataQuery", "group": "prometheus", "version": "v0",
				"spec": map[string]any{"expr": m["definition"]}}}})
	}
	return map[string]any{"title": d.Title, "elements": elements, "variables": variables, "annotations": []any{},
		"cursorSync": "Off", "editable": true, "links": []any{}, "tags": []any{}, "preload": false,
		"layout":       map[string]any{"kind": "GridLayout", "spec": map[string]any{"items": items}},
		"timeSettings": map[string]any{"from": "now-6h", "to": "now", "timezone": "browser"}}
}

// k8sStatus is the Kubernetes API server's error body.
func k8sStatus(w http.ResponseWriter, code int, reason, msg string) {
	demo.WriteJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code})
}
