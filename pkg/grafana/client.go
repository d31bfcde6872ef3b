package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/secret"
)

// maxDashboardJSON bounds what Client reads of a dashboard; real ones are
// kilobytes to a few hundred.
const maxDashboardJSON = 4 << 20

// Client reads dashboards through Grafana's HTTP API. It learns which
// dashboard API its Grafana serves on first use, so keep one per Grafana
// and token; it is safe for concurrent use and must not be copied.
type Client struct {
	// BaseURL is Grafana's URL as Panelcast reaches it (grafana_url), with
	// or without a trailing slash.
	BaseURL string
	// Token is a service-account token, sent as a bearer token; empty sends
	// none. It never appears in an error.
	Token secret.Value
	// HTTP carries the requests, with the TLS policy for Grafana's origin;
	// nil is http.DefaultClient.
	HTTP *http.Client

	// mu guards api, which dashboard API this Grafana serves, once known.
	mu  sync.Mutex
	api *dashboardAPI
}

// Dashboard is what Panelcast needs of a dashboard.
type Dashboard struct {
	UID   string
	Title string
	// FolderUID and FolderTitle name its folder (the legacy API's
	// meta.folderUid and meta.folderTitle; the resource's grafana.app/folder
	// annotation and that folder's title): "" and "General" for the root.
	FolderUID, FolderTitle string
	Variables              []Variable
	// Panels are every panel, those inside rows included, rows excluded.
	Panels []Panel
}

// Variable is one template variable (dashboard.templating.list[]).
type Variable struct {
	Name string
	// Type is Grafana's: query, custom, textbox, constant, datasource,
	// interval, adhoc, …
	Type  string
	Label string
	// Current is the saved selection's values (current.value, which is a
	// string or a list).
	Current []string
	// SkipURLSync means Grafana ignores var-<name> in the URL for it.
	SkipURLSync bool
}

// Panel is one panel of a dashboard.
type Panel struct {
	ID    int64
	Title string
	Type  string
}

// Variable finds the dashboard's variable by name.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// AlertVars are the dashboard variables an alert's labels set, so that the
// picture shows that alert's series: every variable whose name is a label
// of the alert, or, for a variable in mapping (variable -> label, from
// ParseVarMap), the label it names. Variables Grafana does not take from
// the URL (skipUrlSync, constants) and ad hoc filters are left alone.
// unmapped lists mapping's variables the dashboard does not have, for a log.
func (d Dashboard) AlertVars(labels, mapping map[string]string) (vars map[string][]string, unmapped []string) {
	vars = map[string][]string{}
	for _, v := range d.Variables {
		if v.SkipURLSync || v.Type == "constant" || v.Type == "adhoc" {
			continue
		}
		label := v.Name
		if l, ok := mapping[v.Name]; ok {
			label = l
		}
		if value, ok := labels[label]; ok && value != "" {
			vars[v.Name] = []string{value}
		}
	}
	for name := range mapping {
		if _, ok := d.Variable(name); !ok {
			unmapped = append(unmapped, name)
		}
	}
	sort.Strings(unmapped)
	return vars, unmapped
}

// GuessVars are the dashboard variables an alert's labels may set when the
// dashboard's own variables are unknown: each variable of mapping (as for
// AlertVars) and each label named like a variable. Grafana takes
// var-<name> only for a variable the dashboard has, so the guesses that
// miss change nothing.
func GuessVars(labels, mapping map[string]string) map[string][]string {
	vars := map[string][]string{}
	mapped := map[string]bool{}
	for name, label := range mapping {
		mapped[name] = true
		if value := labels[label]; value != "" {
			vars[name] = []string{value}
		}
	}
	for name, value := range labels {
		if !mapped[name] && value != "" && IsVariableName(name) {
			vars[name] = []string{value}
		}
	}
	return vars
}

// Panel finds the dashboard's panel by id.
func (d Dashboard) Panel(id int64) (Panel, bool) {
	for _, p := range d.Panels {
		if p.ID == id {
			return p, true
		}
	}
	return Panel{}, false
}

// ErrV2Dashboard is wrapped by the APIError for a dashboard stored in
// Grafana's v2 schema that /api/dashboards/uid refuses (406) without naming
// the resource to read instead: the dashboard exists and the token may see
// it, but its details are not read.
var ErrV2Dashboard = errors.New("dashboard is in Grafana's v2 schema")

// APIError is a failed dashboard request, with a sentence that says what to
// fix.
type APIError struct {
	// Status is Grafana's HTTP status, 0 when none came.
	Status    int
	msg       string
	temporary bool
	err       error
}

func (e *APIError) Error() string { return e.msg }
func (e *APIError) Unwrap() error { return e.err }

// Temporary reports whether asking again later may succeed (Grafana
// unreachable, 429, 5xx); the other failures need a change of settings or
// dashboards.
func (e *APIError) Temporary() bool { return e.temporary }

// Dashboard fetches the dashboard with the given UID through the API the
// Grafana serves: the resource API of Grafana 12.2+ (both schemas), else
// GET /api/dashboards/uid/<uid>, following its 406 for a schema v2
// dashboard to the resource it names. Errors are *APIError.
func (c *Client) Dashboard(ctx context.Context, uid string) (Dashboard, error) {
	if !ValidUID(uid) {
		return Dashboard{}, &APIError{msg: fmt.Sprintf("%q is not a Grafana dashboard UID (1 to 40 letters, digits, - and _)", quote.Clip(uid))}
	}
	a, err := c.discover(ctx)
	if err != nil {
		return Dashboard{}, err
	}
	if a.resource() {
		return c.resourceDashboard(ctx, a, uid)
	}
	var refusal []byte
	body, err := c.get(ctx, "/api/dashboards/uid/"+url.PathEscape(uid), "dashboard "+uid, func(code int, body []byte) *APIError {
		if code == http.StatusNotAcceptable {
			refusal = body
		}
		return c.statusError(code, uid, body)
	})
	if m := v2Refusal.FindSubmatch(refusal); m != nil {
		return c.resourceDashboard(ctx, dashboardAPI{v2: string(m[1]), namespace: string(m[2])}, uid)
	}
	if err != nil {
		return Dashboard{}, err
	}
	d, err := parseDashboard(body)
	if err != nil {
		return Dashboard{}, notDashboard(uid, err)
	}
	return d, nil
}

// notDashboard is the failure of an answer that does not read as a
// dashboard.
func notDashboard(uid string, err error) *APIError {
	return &APIError{Status: http.StatusOK, msg: fmt.Sprintf("Grafana's answer for dashboard %s is not a dashboard (%v): check that grafana_url is Grafana's address, not a proxy's login page", uid, err)}
}

// get reads one JSON answer of Grafana's API as the service account; what
// names it in errors, and refused turns a status other than 200 into the
// sentence for it. Errors are *APIError.
func (c *Client) get(ctx context.Context, path, what string, refused func(code int, body []byte) *APIError) ([]byte, error) {
	resp, err := c.send(ctx, strings.TrimRight(c.BaseURL, "/")+path, "application/json", "Grafana")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDashboardJSON+1))
	if err != nil {
		return nil, &APIError{Status: resp.StatusCode, msg: fmt.Sprintf("reading %s from Grafana failed (%v): it will be retried", what, err), temporary: true, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, refused(resp.StatusCode, body)
	}
	if len(body) > maxDashboardJSON {
		return nil, &APIError{Status: resp.StatusCode, msg: fmt.Sprintf("%s is over %d MiB of JSON: Panelcast does not read it", what, maxDashboardJSON>>20)}
	}
	return body, nil
}

func (c *Client) statusError(code int, uid string, body []byte) *APIError {
	e := &APIError{Status: code}
	switch {
	case code == http.StatusUnauthorized && !c.Token.IsSet():
		e.msg = fmt.Sprintf("Grafana asks for a login to show dashboard %s: set grafana_token to a service-account token with Viewer access", uid)
	case code == http.StatusUnauthorized:
		e.msg = "Grafana refused grafana_token (401): set it to a valid, unexpired service-account token"
	case code == http.StatusForbidden:
		e.msg = fmt.Sprintf("the service account of grafana_token may not view dashboard %s (403): give it Viewer access to the dashboard or its folder", uid)
	case code == http.StatusNotFound:
		e.msg = fmt.Sprintf("dashboard %s does not exist for the service account of grafana_token (404): check dashboardUid and that the account belongs to the dashboard's organisation", uid)
	case code == http.StatusNotAcceptable && bytes.Contains(body, []byte("dashboard api version not supported")):
		e.msg = fmt.Sprintf("dashboard %s is stored in Grafana's v2 schema, which /api/dashboards does not serve, and Grafana names no resource API to read it from: its variables and panels cannot be read, so alert labels do not choose its variables; upgrade Grafana to 12.2 or later", uid)
		e.err = ErrV2Dashboard
	case code == http.StatusTooManyRequests || code >= 500:
		e.msg = fmt.Sprintf("Grafana answered %d for dashboard %s: it will be retried", code, uid)
		e.temporary = true
	default:
		e.msg = fmt.Sprintf("Grafana answered %d for dashboard %s: check grafana_url", code, uid)
	}
	return e
}

// dashboardJSON is the part of Grafana's dashboard API answer Panelcast
// reads; the JSON model is Grafana's dashboard schema (v1).
type dashboardJSON struct {
	Dashboard *struct {
		UID        string      `json:"uid"`
		Title      string      `json:"title"`
		Panels     []panelJSON `json:"panels"`
		Rows       []panelJSON `json:"rows"` // schema before Grafana 5
		Templating struct {
			List []struct {
				Name        string `json:"name"`
				Type        string `json:"type"`
				Label       string `json:"label"`
				SkipURLSync bool   `json:"skipUrlSync"`
				Current     struct {
					Value stringOrList `json:"value"`
				} `json:"current"`
			} `json:"list"`
		} `json:"templating"`
	} `json:"dashboard"`
	Meta struct {
		FolderUID   string `json:"folderUid"`
		FolderTitle string `json:"folderTitle"`
	} `json:"meta"`
}

type panelJSON struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Type  string `json:"type"`
	// Panels of a collapsed row (and of a legacy row).
	Panels []panelJSON `json:"panels"`
}

// stringOrList is a variable's current value: one string, or several for a
// multi-value selection.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringOrList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		// Anything else (a number from a hand-written dashboard) is no
		// selection Panelcast can use.
		*s = nil
	} else {
		*s = many
	}
	return nil
}

func parseDashboard(body []byte) (Dashboard, error) {
	var j dashboardJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return Dashboard{}, err
	}
	if j.Dashboard == nil {
		return Dashboard{}, errors.New(`no "dashboard" object`)
	}
	d := Dashboard{UID: j.Dashboard.UID, Title: j.Dashboard.Title,
		FolderUID: j.Meta.FolderUID, FolderTitle: j.Meta.FolderTitle}
	for _, v := range j.Dashboard.Templating.List {
		d.Variables = append(d.Variables, Variable{Name: v.Name, Type: v.Type, Label: v.Label,
			Current: v.Current.Value, SkipURLSync: v.SkipURLSync})
	}
	var walk func([]panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			if p.Type != "row" && p.ID > 0 {
				d.Panels = append(d.Panels, Panel{ID: p.ID, Title: p.Title, Type: p.Type})
			}
			walk(p.Panels)
		}
	}
	walk(j.Dashboard.Panels)
	walk(j.Dashboard.Rows)
	return d, nil
}

// send GETs url from Grafana as the client's token, accepting accept.
// what names the API in the error, an *APIError: a URL that cannot be
// asked, or a Grafana that cannot be reached (temporary).
func (c *Client) send(ctx context.Context, url, accept, what string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		// The base alone: the rest of url can carry dashboard variables.
		return nil, &APIError{msg: fmt.Sprintf("%s's URL on %s is unusable (%v): fix grafana_url", what, quote.Clip(c.BaseURL), err)}
	}
	req.Header.Set("Accept", accept)
	if c.Token.IsSet() {
		req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &APIError{msg: fmt.Sprintf("could not reach %s at %s (%v): check grafana_url and that Grafana is up", what, strings.TrimRight(c.BaseURL, "/"), err), temporary: true, err: err}
	}
	return resp, nil
}
