package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Grafana 12.2+ serves dashboards as resources of the API group
// dashboard.grafana.app; Grafana 13 stores them in schema v2, which the
// legacy /api/dashboards refuses (406).
const dashboardGroup = "dashboard.grafana.app"

// folderAnnotation holds a dashboard resource's folder UID.
const folderAnnotation = "grafana.app/folder"

// dashboardAPI is which way a Grafana serves dashboards, learnt once per
// Client: the versions of dashboardGroup to read (classic and schema v2;
// both empty for a Grafana before the resource API) and the namespace of
// the service account's organisation.
type dashboardAPI struct {
	classic, v2 string
	namespace   string
}

func (a dashboardAPI) resource() bool { return a.classic != "" || a.v2 != "" }

// path is the resource of dashboard uid in version.
func (a dashboardAPI) path(version, uid string) string {
	return "/apis/" + dashboardGroup + "/" + version + "/namespaces/" + url.PathEscape(a.namespace) + "/dashboards/" + url.PathEscape(uid)
}

// Versions in the order Grafana's own frontend prefers them
// (DashboardAPIVersionResolver: v1 over v1beta1, v2 over v2beta1). The
// experimental v0alpha1 of Grafana 11 does not count: such a Grafana is
// read through the legacy API.
var (
	classicVersions = []string{"v1", "v1beta1"}
	v2Versions      = []string{"v2", "v2beta1", "v2alpha1"}
)

// discover asks Grafana once which dashboard API it serves. A Grafana
// without the resource API (before 12.2, or one that hides it) answers
// 404 to the group and is read through the legacy API. Other refusals are
// not kept: the legacy API is asked this time, and answers with its reasons.
func (c *Client) discover(ctx context.Context) (dashboardAPI, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != nil {
		return *c.api, nil
	}
	var a dashboardAPI
	body, err := c.get(ctx, "/apis/"+dashboardGroup+"/", "Grafana's dashboard API", func(code int, _ []byte) *APIError {
		return c.refused(code, "Grafana's dashboard API")
	})
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		c.api = &a
		return a, nil
	case errors.As(err, &apiErr) && apiErr.Temporary():
		return a, err
	case err != nil:
		return a, nil
	}
	var group struct {
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	// An answer that is no API group (Grafana before 11 serves its
	// frontend's page for any path outside /api) means the legacy API,
	// which also says what is wrong when a proxy's page stands in the way.
	if json.Unmarshal(body, &group) != nil {
		c.api = &a
		return a, nil
	}
	served := map[string]bool{}
	for _, v := range group.Versions {
		served[v.Version] = true
	}
	a.classic, a.v2 = firstServed(classicVersions, served), firstServed(v2Versions, served)
	if a.resource() {
		if a.namespace, err = c.namespace(ctx); err != nil {
			return dashboardAPI{}, err
		}
	}
	c.api = &a
	return a, nil
}

// refused is the sentence for a status other than 200 from one of
// Grafana's APIs besides the dashboard's own.
func (c *Client) refused(code int, what string) *APIError {
	e := &APIError{Status: code}
	switch {
	case code == http.StatusUnauthorized:
		e.msg = "Grafana refused grafana_token (401): set it to a valid, unexpired service-account token"
	case code == http.StatusTooManyRequests || code >= 500:
		e.msg, e.temporary = fmt.Sprintf("Grafana answered %d when asked for %s: it will be retried", code, what), true
	default:
		e.msg = fmt.Sprintf("Grafana answered %d when asked for %s: check grafana_url", code, what)
	}
	return e
}

func firstServed(versions []string, served map[string]bool) string {
	for _, v := range versions {
		if served[v] {
			return v
		}
	}
	return ""
}

// namespace is the service account's: Grafana's frontend settings name it
// (Grafana Cloud's stacks-<id> included); where they do not, it follows
// from the organisation as Grafana maps it (org 1 "default", else org-<id>).
func (c *Client) namespace(ctx context.Context) (string, error) {
	body, err := c.get(ctx, "/api/frontend/settings", "Grafana's frontend settings", func(code int, _ []byte) *APIError {
		return c.refused(code, "its frontend settings")
	})
	var settings struct {
		Namespace string `json:"namespace"`
	}
	if err == nil {
		err = decode(body, &settings, "Grafana's frontend settings")
	}
	if err != nil {
		return "", err
	}
	if settings.Namespace != "" {
		return settings.Namespace, nil
	}
	org, err := c.orgID(ctx)
	if err != nil {
		return "", err
	}
	return OrgNamespace(org), nil
}

// OrgNamespace is the resource API's namespace of an organisation on a
// self-hosted Grafana.
func OrgNamespace(org int64) string {
	if org == 1 {
		return "default"
	}
	return "org-" + strconv.FormatInt(org, 10)
}

// resourceDashboard reads a dashboard through the resource API: in the
// classic model where Grafana serves one, and, when the dashboard is stored
// in schema v2 and Grafana could not convert it (status.conversion), in
// schema v2, as Grafana's frontend does.
func (c *Client) resourceDashboard(ctx context.Context, a dashboardAPI, uid string) (Dashboard, error) {
	version := a.classic
	if version == "" {
		version = a.v2
	}
	r, err := c.readResource(ctx, a.path(version, uid), uid)
	if err != nil {
		return Dashboard{}, err
	}
	conv := r.Status.Conversion
	if version == a.classic && conv.Failed && strings.HasPrefix(conv.StoredVersion, "v2") && a.v2 != "" {
		r, err = c.readResource(ctx, a.path(a.v2, uid), uid)
		if err != nil {
			return Dashboard{}, err
		}
		conv = r.Status.Conversion
	}
	if conv.Failed {
		return Dashboard{}, &APIError{Status: http.StatusOK, msg: fmt.Sprintf("Grafana could not convert dashboard %s from its stored version %s (%s): open and save the dashboard in Grafana",
			uid, conv.StoredVersion, conv.Error)}
	}
	d, err := r.dashboard()
	if err != nil {
		return Dashboard{}, notDashboard(uid, err)
	}
	if d.FolderUID != "" {
		d.FolderTitle = c.folderTitle(ctx, d.FolderUID)
	} else {
		// The legacy API's name for the root, which it reports the same way.
		d.FolderTitle = "General"
	}
	return d, nil
}

func (c *Client) readResource(ctx context.Context, path, uid string) (resourceJSON, error) {
	var r resourceJSON
	body, err := c.get(ctx, path, "dashboard "+uid, func(code int, body []byte) *APIError {
		return c.statusError(code, uid, body)
	})
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Kind != "Dashboard" {
		if err == nil {
			err = fmt.Errorf("kind %q", r.Kind)
		}
		return r, notDashboard(uid, err)
	}
	return r, nil
}

// folderTitle is a folder's title as the legacy folder API (served by every
// Grafana since 5) gives it; "" when the account may not read the folder,
// since the title only names the folder in messages.
func (c *Client) folderTitle(ctx context.Context, uid string) string {
	body, err := c.get(ctx, "/api/folders/"+url.PathEscape(uid), "folder "+uid, func(code int, _ []byte) *APIError {
		return &APIError{Status: code}
	})
	var f struct {
		Title string `json:"title"`
	}
	if err != nil || json.Unmarshal(body, &f) != nil {
		return ""
	}
	return f.Title
}

// v2Refusal finds the resource path in the legacy API's 406 for a schema v2
// dashboard: "dashboard api version not supported, use
// /apis/dashboard.grafana.app/<version>/namespaces/<ns>/dashboards/<uid>
// instead" (Grafana's pkg/api/dashboard.go).
var v2Refusal = regexp.MustCompile(`/apis/dashboard\.grafana\.app/(v2[a-z0-9]*)/namespaces/([A-Za-z0-9-]+)/dashboards/`)

// resourceJSON is the part of a dashboard resource Panelcast reads.
type resourceJSON struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec   json.RawMessage `json:"spec"`
	Status struct {
		Conversion struct {
			Failed        bool   `json:"failed"`
			StoredVersion string `json:"storedVersion"`
			Error         string `json:"error"`
		} `json:"conversion"`
	} `json:"status"`
}

func (r resourceJSON) dashboard() (Dashboard, error) {
	if len(r.Spec) == 0 || string(r.Spec) == "null" {
		return Dashboard{}, errors.New(`no "spec" object`)
	}
	var d Dashboard
	var err error
	if _, version, _ := strings.Cut(r.APIVersion, "/"); strings.HasPrefix(version, "v2") {
		d, err = parseV2Spec(r.Spec)
	} else {
		d, err = parseClassicSpec(r.Spec)
	}
	if err != nil {
		return Dashboard{}, err
	}
	d.UID = r.Metadata.Name
	d.FolderUID = r.Metadata.Annotations[folderAnnotation]
	return d, nil
}

// v2SpecJSON is the part of a schema v2 dashboard (@grafana/schema's
// dashboard v2 Spec) Panelcast reads: variables are kinds with the name in
// spec.name, panels are elements keyed panel-<id>.
type v2SpecJSON struct {
	Title     string `json:"title"`
	Variables []struct {
		Kind string `json:"kind"`
		Spec struct {
			Name        string `json:"name"`
			Label       string `json:"label"`
			SkipURLSync bool   `json:"skipUrlSync"`
			Current     struct {
				Value stringOrList `json:"value"`
			} `json:"current"`
		} `json:"spec"`
	} `json:"variables"`
	Elements map[string]struct {
		Kind string `json:"kind"`
		Spec struct {
			ID        int64  `json:"id"`
			Title     string `json:"title"`
			VizConfig struct {
				// v2beta1 and v2: kind VizConfig, the plugin in group;
				// v2alpha1: the plugin in kind.
				Kind  string `json:"kind"`
				Group string `json:"group"`
			} `json:"vizConfig"`
		} `json:"spec"`
	} `json:"elements"`
}

// v2VariableTypes are schema v1's variable types for schema v2's kinds;
// other kinds lose "Variable" and are lower-cased (QueryVariable: query).
var v2VariableTypes = map[string]string{"TextVariable": "textbox", "GroupByVariable": "groupby"}

func parseV2Spec(spec []byte) (Dashboard, error) {
	var s v2SpecJSON
	if err := json.Unmarshal(spec, &s); err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{Title: s.Title}
	for _, v := range s.Variables {
		typ, ok := v2VariableTypes[v.Kind]
		if !ok {
			typ = strings.ToLower(strings.TrimSuffix(v.Kind, "Variable"))
		}
		d.Variables = append(d.Variables, Variable{Name: v.Spec.Name, Type: typ, Label: v.Spec.Label,
			Current: v.Spec.Current.Value, SkipURLSync: v.Spec.SkipURLSync})
	}
	for key, e := range s.Elements {
		id := e.Spec.ID
		if id <= 0 {
			id, _ = parsePanelID(key)
		}
		if id <= 0 {
			continue
		}
		typ := e.Spec.VizConfig.Group
		if typ == "" && e.Spec.VizConfig.Kind != "VizConfig" {
			typ = e.Spec.VizConfig.Kind
		}
		d.Panels = append(d.Panels, Panel{ID: id, Title: e.Spec.Title, Type: typ})
	}
	// Elements are a map: order them by id, for stable answers.
	sort.Slice(d.Panels, func(i, j int) bool { return d.Panels[i].ID < d.Panels[j].ID })
	return d, nil
}

// parseClassicSpec reads a dashboard resource's classic model: the JSON
// model /api/dashboards serves as "dashboard".
func parseClassicSpec(spec []byte) (Dashboard, error) {
	return parseDashboard([]byte(`{"dashboard":` + string(spec) + `}`))
}
