package grafana

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/quote"
)

// Annotations (and, for AnnotationPanel, a label) an alert rule may carry
// for Panelcast.
const (
	// AnnotationPanel names the panel to show: a Grafana panel URL or
	// uid:panelId. A label of the same name is read too.
	AnnotationPanel = "panelcast_panel"
	// AnnotationVars maps dashboard variables to alert labels:
	// "host=instance, env=cluster" (see ParseVarMap).
	AnnotationVars = "panelcast_vars"
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

// Panel finds the panel the alert shows, trying in order: the rule's
// __dashboardUid__ and __panelId__ annotations, Grafana's panelURL, then
// its dashboardURL (when that names a panel), the panelcast_panel
// annotation, then a panelcast_panel label. The first usable one wins; a
// malformed one is skipped. problem explains, in sentences for a log, the
// references that were present but unusable (also when a later one was
// used), or, when none is present, why the alert names no panel. An OrgID
// the reference does not give is the alert's.
func (a Alert) Panel() (ref PanelRef, ok bool, problem string) {
	var problems []string
	hint := ""
	found := func(source string, r PanelRef, err error) bool {
		if err != nil {
			problems = append(problems, source+": "+err.Error())
			return false
		}
		ref, ok = r, true
		ref.Source = source
		if ref.OrgID == 0 {
			ref.OrgID = a.OrgID
		}
		return true
	}
	uid, id := a.Annotations[annotationDashboardUID], a.Annotations[annotationPanelID]
	switch {
	case uid == "" && id == "":
	case id == "":
		hint = fmt.Sprintf("the rule is linked to dashboard %s but to no panel: link it to a panel, or set %s", quote.Clip(uid), AnnotationPanel)
	default:
		// convertAlert already took the OrgID from __orgId__.
		r, err := uidAndPanel(uid, id)
		if found("the rule's "+annotationDashboardUID+" and "+annotationPanelID+" annotations", r, err) {
			return ref, ok, ""
		}
	}
	for _, c := range []struct {
		source, raw string
		// dashboardOnly: Grafana sends dashboardURL for a rule linked to a
		// dashboard only; that is no mistake, just no panel.
		dashboardOnly bool
	}{
		{"Grafana's panelURL", a.PanelURL, false},
		{"Grafana's dashboardURL", a.DashboardURL, true},
		{"the " + AnnotationPanel + " annotation", a.Annotations[AnnotationPanel], false},
		{"the " + AnnotationPanel + " label", a.Labels[AnnotationPanel], false},
	} {
		if strings.TrimSpace(c.raw) == "" {
			continue
		}
		r, err := ParsePanelRef(c.raw)
		if c.dashboardOnly && errors.Is(err, errNoPanel) {
			if hint == "" {
				hint = fmt.Sprintf("the rule is linked to dashboard %s but to no panel: link it to a panel, or set %s", r.DashboardUID, AnnotationPanel)
			}
			continue
		}
		if found(c.source, r, err) {
			break
		}
	}
	if !ok && len(problems) == 0 {
		if hint == "" {
			hint = "the alert names no panel: link its rule to a panel, or set the " + AnnotationPanel + " annotation to a Grafana panel URL or uid:panelId"
		}
		problems = append(problems, hint)
	}
	return ref, ok, strings.Join(problems, "; ")
}

var errNoPanel = errors.New("names a dashboard but no panel: add viewPanel=<id> (the panel's view link) or use uid:panelId")

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
	return uidAndPanel(uid, id)
}

func uidAndPanel(uid, id string) (PanelRef, error) {
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
		return PanelRef{DashboardUID: ref.DashboardUID}, errNoPanel
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

var (
	// varNamePattern is Grafana's rule for variable names (word characters).
	varNamePattern = regexp.MustCompile(`^\w+$`)
	// labelNamePattern is Prometheus' label name rule, widened by the dots,
	// dashes and colons that OpenTelemetry-style and recording-rule names use.
	labelNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]*$`)
)

// ParseVarMap reads the panelcast_vars annotation, "host=instance,
// env=cluster": dashboard variable name = alert label name, separated by
// commas, spaces around either allowed. It returns variable -> label; ""
// gives an empty map. Each variable appears once; a label may feed several.
func ParseVarMap(s string) (map[string]string, error) {
	vars := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return vars, nil
	}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("entry %d is empty: separate variable=label pairs by single commas, e.g. host=instance, env=cluster", i+1)
		}
		name, label, found := strings.Cut(entry, "=")
		name, label = strings.TrimSpace(name), strings.TrimSpace(label)
		switch {
		case !found:
			return nil, fmt.Errorf("%q has no \"=\": write variable=label, e.g. host=instance", quote.Clip(entry))
		case !varNamePattern.MatchString(name) || strings.HasPrefix(name, "__"):
			return nil, fmt.Errorf("%q is not a dashboard variable name (letters, digits and _, not starting with __)", quote.Clip(name))
		case !labelNamePattern.MatchString(label):
			return nil, fmt.Errorf("%q (for variable %s) is not a label name (a letter or _, then letters, digits, _ . : -)", quote.Clip(label), name)
		case vars[name] != "":
			return nil, fmt.Errorf("variable %s is mapped twice: keep one %s=label", name, name)
		case len(vars) == maxVars:
			return nil, fmt.Errorf("more than %d variables are mapped", maxVars)
		}
		vars[name] = label
	}
	return vars, nil
}

// PromExpr is the PromQL expression of a Prometheus graph link, the
// generatorURL of alerts from Prometheus rules
// (<prometheus>/graph?g0.expr=…&g0.tab=1), decoded. Grafana's own
// generatorURL (/alerting/grafana/<uid>/view) and other links are none.
func PromExpr(generatorURL string) (expr string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(generatorURL))
	if err != nil || path.Base(u.Path) != "graph" {
		return "", false
	}
	expr = strings.TrimSpace(u.Query().Get("g0.expr"))
	return expr, expr != ""
}
