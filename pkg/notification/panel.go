package notification

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/quote"
)

// maxVars bounds the variables panelcast_vars may map.
const maxVars = 100

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

// Panel finds the panel the alert shows, trying in order: the rule's
// __dashboardUid__ and __panelId__ annotations, Grafana's panelURL, then
// its dashboardURL (when that names a panel), the panelcast_panel
// annotation, then a panelcast_panel label. The first usable one wins; a
// malformed one is skipped. problem explains, in sentences for a log, the
// references that were present but unusable (also when a later one was
// used), or, when none is present, why the alert names no panel. An OrgID
// the reference does not give is the alert's.
func (a Alert) Panel() (ref grafana.PanelRef, ok bool, problem string) {
	var problems []string
	hint := ""
	found := func(source string, r grafana.PanelRef, err error) bool {
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
		r, err := grafana.PanelRefOf(uid, id)
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
		r, err := grafana.ParsePanelRef(c.raw)
		if c.dashboardOnly && errors.Is(err, grafana.ErrNoPanel) {
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

var (
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
		case !grafana.IsVariableName(name):
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
