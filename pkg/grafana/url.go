// Package grafana holds Grafana's side of Panelcast: panel references and
// solo-panel URLs, Grafana's HTTP API for dashboards (the legacy one and
// the resource API of 12.2+), and who may view a dashboard.
package grafana

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/quote"
)

// FieldError is a refused value of a panel description. Field is the name
// the push API uses for it (dashboardUid, panelId, orgId, from, to, vars,
// theme, timezone, url), so a caller can prefix its own path
// ("panel.panelId is missing: …"); Problem completes the sentence.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

func fieldError(field, format string, a ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, a...)}
}

// Limits on what a solo-panel URL may carry, well above any real dashboard.
const (
	maxVars       = 100
	maxVarLength  = 4096
	maxTimeLength = 64
)

// uidPattern is Grafana's rule for dashboard UIDs.
var uidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// ValidUID reports whether uid is a Grafana dashboard UID.
func ValidUID(uid string) bool { return uidPattern.MatchString(uid) }

// SoloPanel is one panel as Grafana's solo-panel page shows it. Zero values
// mean "not given": Grafana's own defaults apply (the account's
// organisation, the dashboard's saved range and variables, the user's
// theme).
type SoloPanel struct {
	DashboardUID string
	PanelID      int64
	OrgID        int64
	// From and To are Grafana's time range ends: "now-6h", "now", or epoch
	// milliseconds.
	From, To string
	// Vars are dashboard variables by name; several values make a
	// multi-value selection.
	Vars map[string][]string
	// Theme is "light" or "dark" (any case).
	Theme string
	// Timezone is an IANA name such as Europe/Berlin.
	Timezone string
}

// SoloURL is Grafana's solo-panel page under base, as its share dialog and
// renderer build it,
// <base>/d-solo/<uid>/_?orgId=…&panelId=…&from=…&to=…&var-…&render=1
// (Grafana does not check the slug, so "_" stands in for it). Errors are
// *FieldError.
func SoloURL(base *url.URL, p SoloPanel) (*url.URL, error) {
	if !ValidUID(p.DashboardUID) {
		return nil, fieldError("dashboardUid", "%q is not a Grafana dashboard UID (1 to 40 letters, digits, - and _): copy it from the dashboard's URL, /d/<uid>/…", quote.Clip(p.DashboardUID))
	}
	if p.PanelID <= 0 {
		return nil, fieldError("panelId", "is missing: give the panel's id (the viewPanel or panelId number in its URL)")
	}
	if p.OrgID < 0 {
		return nil, fieldError("orgId", "must be a positive organisation id, got %d", p.OrgID)
	}
	q := url.Values{}
	q.Set("panelId", strconv.FormatInt(p.PanelID, 10))
	if p.OrgID > 0 {
		q.Set("orgId", strconv.FormatInt(p.OrgID, 10))
	}
	for name, v := range map[string]string{"from": p.From, "to": p.To} {
		v = strings.TrimSpace(v)
		if len(v) > maxTimeLength || quote.HasControl(v) {
			return nil, fieldError(name, "must be a time like now-6h or epoch milliseconds, at most %d characters", maxTimeLength)
		}
		if v != "" {
			q.Set(name, v)
		}
	}
	if len(p.Vars) > maxVars {
		return nil, fieldError("vars", "has %d variables; at most %d are taken", len(p.Vars), maxVars)
	}
	for name, values := range p.Vars {
		if name == "" || len(name) > maxVarLength || quote.HasControl(name) {
			return nil, fieldError("vars", "has a variable name %q that is empty or not printable: use the variable's name, e.g. cluster", quote.Clip(name))
		}
		for _, v := range values {
			if len(v) > maxVarLength || quote.HasControl(v) {
				return nil, fieldError("vars."+quote.Clip(name), "has a value that is too long or not printable")
			}
		}
		q["var-"+name] = values
	}
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + "/d-solo/" + p.DashboardUID + "/_"
	u.RawQuery = q.Encode()
	if err := ForRender(&u, p.Theme, p.Timezone); err != nil {
		return nil, err
	}
	return &u, nil
}

// ForRender adds what a Grafana page needs to be rendered to its query:
// render=1 (Grafana hides its navigation then), and the theme and time zone
// when given. Errors are *FieldError.
func ForRender(page *url.URL, theme, timezone string) error {
	theme = strings.ToLower(strings.TrimSpace(theme))
	if theme != "" && theme != "light" && theme != "dark" {
		return fieldError("theme", "must be light or dark, got %q", quote.Clip(theme))
	}
	timezone = strings.TrimSpace(timezone)
	if timezone != "" {
		if _, err := time.LoadLocation(timezone); err != nil || timezone == "Local" || len(timezone) > maxTimeLength || strings.Contains(timezone, "..") {
			return fieldError("timezone", "%q is not an IANA time zone such as Europe/Berlin", quote.Clip(timezone))
		}
	}
	q := page.Query()
	if theme != "" {
		q.Set("theme", theme)
	}
	if timezone != "" {
		// Scenes-based Grafana takes the dashboard's time zone from the URL;
		// older pages follow the browser's, which the render also sets.
		q.Set("timezone", timezone)
	}
	q.Set("render", "1")
	page.RawQuery = q.Encode()
	return nil
}

// OnGrafana parses a page URL and refuses one that is not under base
// (same scheme, host and port, and within base's path): the renderer sends
// Grafana's token to that origin. The fragment is dropped. Errors are
// *FieldError for the field "url".
func OnGrafana(raw string, base *url.URL) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fieldError("url", "%q is not an http(s) URL of a Grafana panel", quote.Clip(raw))
	}
	if u.User != nil {
		return nil, fieldError("url", "must not carry a user name or password: grafana_token authenticates the render")
	}
	basePath := strings.TrimRight(base.Path, "/")
	if origin(u) != origin(base) || !strings.HasPrefix(u.Path+"/", basePath+"/") {
		return nil, fieldError("url", "is not on Grafana (%s): push panels of that Grafana only, or set grafana_url to the Grafana it belongs to", base)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// origin is scheme://host:port with the host in lower case and the default
// port filled in, so that equal origins compare equal.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// DashboardUID finds the UID in /d/<uid>/… and /d-solo/<uid>/… under base;
// "" for any other page.
func DashboardUID(page, base *url.URL) string {
	rest := strings.TrimPrefix(page.Path, strings.TrimRight(base.Path, "/")+"/")
	parts := strings.Split(rest, "/")
	if len(parts) >= 2 && (parts[0] == "d" || parts[0] == "d-solo") && ValidUID(parts[1]) {
		return parts[1]
	}
	return ""
}
