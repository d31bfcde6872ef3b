package grafana

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/quote"
)

// PanelRef names one panel of a dashboard. It holds no host: callers build
// the URL on grafana_url, because the host in an alert's links is Grafana's
// public root_url, which the renderer may not reach.
type PanelRef struct {
	DashboardUID string
	PanelID      int64
	// OrgID is 0 when not given.
	OrgID int64
	// Vars are the var-* of a given URL, by variable name.
	Vars map[string][]string
	// Source says where the reference came from, for logs and messages.
	Source string
}

// ErrNoPanel is a reference that names a dashboard and no panel.
var ErrNoPanel = errors.New("names a dashboard but no panel: add viewPanel=<id> (the panel's view link) or use uid:panelId")

// ParsePanelRef reads a panel reference: "uid:panelId" (the config key
// expression_panel, the panelcast_panel annotation), or a Grafana panel URL
// (/d/<uid>/<slug>?viewPanel=<id> or /d-solo/<uid>/<slug>?panelId=<id>,
// absolute or a path; scenes' panel-<id> is accepted) whose orgId and var-*
// are kept and whose host is not. Source is left empty.
func ParsePanelRef(s string) (PanelRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return PanelRef{}, errors.New("is empty: give uid:panelId or a Grafana panel URL")
	}
	if strings.HasPrefix(s, "/") || strings.Contains(s, "://") {
		return parsePanelURL(s)
	}
	uid, id, found := strings.Cut(s, ":")
	if !found {
		return PanelRef{}, fmt.Errorf("%q is neither uid:panelId nor a Grafana panel URL", quote.Clip(s))
	}
	return PanelRefOf(uid, id)
}

// PanelRefOf is the panel a dashboard uid and a panel id (7 or panel-7)
// name, as an alert's annotations give them.
func PanelRefOf(uid, id string) (PanelRef, error) {
	if !ValidUID(uid) {
		return PanelRef{}, fmt.Errorf("%q is not a Grafana dashboard UID (1 to 40 letters, digits, - and _)", quote.Clip(uid))
	}
	n, err := parsePanelID(id)
	if err != nil {
		return PanelRef{}, err
	}
	return PanelRef{DashboardUID: uid, PanelID: n}, nil
}

// parsePanelID reads a panel id: a whole number above 0, or scenes'
// "panel-<n>".
func parsePanelID(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "panel-"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("panel id %q is not a whole number above 0", quote.Clip(s))
	}
	return n, nil
}

func parsePanelURL(raw string) (PanelRef, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return PanelRef{}, fmt.Errorf("%q is not a URL", quote.Clip(raw))
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return PanelRef{}, fmt.Errorf("%q is not an http(s) URL", quote.Clip(raw))
	}
	var ref PanelRef
	parts := strings.Split(u.Path, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "d" || parts[i] == "d-solo" {
			ref.DashboardUID = parts[i+1]
			break
		}
	}
	if ref.DashboardUID == "" {
		return PanelRef{}, fmt.Errorf("%s is not a dashboard URL (/d/<uid>/…)", quote.Clip(u.Path))
	}
	if !ValidUID(ref.DashboardUID) {
		return PanelRef{}, fmt.Errorf("%q is not a Grafana dashboard UID (1 to 40 letters, digits, - and _)", quote.Clip(ref.DashboardUID))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return PanelRef{}, fmt.Errorf("%q is not a URL: its query is not URL-encoded", quote.Clip(raw))
	}
	id := q.Get("viewPanel")
	if id == "" {
		id = q.Get("panelId")
	}
	if id == "" {
		return PanelRef{DashboardUID: ref.DashboardUID}, ErrNoPanel
	}
	if ref.PanelID, err = parsePanelID(id); err != nil {
		return PanelRef{}, err
	}
	if org := q.Get("orgId"); org != "" {
		if ref.OrgID, err = strconv.ParseInt(org, 10, 64); err != nil || ref.OrgID <= 0 {
			return PanelRef{}, fmt.Errorf("orgId %q is not a whole number above 0", quote.Clip(org))
		}
	}
	for k, v := range q {
		if name, found := strings.CutPrefix(k, "var-"); found && name != "" {
			if ref.Vars == nil {
				ref.Vars = map[string][]string{}
			}
			ref.Vars[name] = v
		}
	}
	return ref, nil
}

// varNamePattern is Grafana's rule for variable names (word characters).
var varNamePattern = regexp.MustCompile(`^\w+$`)

// IsVariableName says name may be a dashboard variable's: Grafana's rule,
// less the __ names Grafana keeps for its own.
func IsVariableName(name string) bool {
	return varNamePattern.MatchString(name) && !strings.HasPrefix(name, "__")
}
