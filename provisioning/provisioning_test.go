// Package provisioning_test checks the Grafana provisioning files in this
// directory the way Grafana reads them: the keys of Grafana's file formats
// (pkg/services/provisioning/{datasources,dashboards,alerting}, decoded
// strictly so that a misspelt key, which Grafana would silently ignore,
// fails), and the references between the files (data source, dashboard,
// panel, variable, contact point and plugin ids).
package provisioning_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// grafanaProvisioning is where the README tells operators to copy this
// directory; paths inside the files point there.
const grafanaProvisioning = "/etc/grafana/provisioning/"

// The two panels other parts of Panelcast and the README name.
const (
	demoPanel       = "panelcast-demo:1"
	expressionPanel = "panelcast-expr:1"
)

// Data source provisioning, apiVersion 1 (datasources/types.go, configsV1).
type datasourcesFile struct {
	APIVersion        int               `yaml:"apiVersion"`
	Datasources       []datasource      `yaml:"datasources"`
	DeleteDatasources []deleteByOrgName `yaml:"deleteDatasources"`
}

type datasource struct {
	OrgID           int64             `yaml:"orgId"`
	OrgName         string            `yaml:"orgName"`
	Version         int               `yaml:"version"`
	Name            string            `yaml:"name"`
	Type            string            `yaml:"type"`
	Access          string            `yaml:"access"`
	URL             string            `yaml:"url"`
	User            string            `yaml:"user"`
	Database        string            `yaml:"database"`
	BasicAuth       bool              `yaml:"basicAuth"`
	BasicAuthUser   string            `yaml:"basicAuthUser"`
	WithCredentials bool              `yaml:"withCredentials"`
	IsDefault       bool              `yaml:"isDefault"`
	Correlations    []map[string]any  `yaml:"correlations"`
	JSONData        map[string]any    `yaml:"jsonData"`
	SecureJSONData  map[string]string `yaml:"secureJsonData"`
	Editable        bool              `yaml:"editable"`
	UID             string            `yaml:"uid"`
}

type deleteByOrgName struct {
	OrgID   int64  `yaml:"orgId"`
	OrgName string `yaml:"orgName"`
	Name    string `yaml:"name"`
}

// Dashboard provider provisioning, apiVersion 1 (dashboards/types.go, configs).
type dashboardProvidersFile struct {
	APIVersion int                 `yaml:"apiVersion"`
	Providers  []dashboardProvider `yaml:"providers"`
}

type dashboardProvider struct {
	Name                  string `yaml:"name"`
	Type                  string `yaml:"type"`
	OrgID                 int64  `yaml:"orgId"`
	Folder                string `yaml:"folder"`
	FolderUID             string `yaml:"folderUid"`
	Editable              bool   `yaml:"editable"`
	DisableDeletion       bool   `yaml:"disableDeletion"`
	UpdateIntervalSeconds int64  `yaml:"updateIntervalSeconds"`
	AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
	// The file reader's options (dashboards/file_reader.go).
	Options struct {
		Path                      string `yaml:"path"`
		FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
	} `yaml:"options"`
}

// Alerting provisioning, apiVersion 1 (alerting/types.go, AlertingFileV1).
type alertingFile struct {
	APIVersion          int            `yaml:"apiVersion"`
	Groups              []ruleGroup    `yaml:"groups"`
	DeleteRules         []deleteByUID  `yaml:"deleteRules"`
	ContactPoints       []contactPoint `yaml:"contactPoints"`
	DeleteContactPoints []deleteByUID  `yaml:"deleteContactPoints"`
	Policies            []policy       `yaml:"policies"`
	ResetPolicies       []int64        `yaml:"resetPolicies"`
}

type deleteByUID struct {
	OrgID int64  `yaml:"orgId"`
	UID   string `yaml:"uid"`
}

// alerting/rules_types.go, AlertRuleGroupV1 and AlertRuleV1.
type ruleGroup struct {
	OrgID    int64  `yaml:"orgId"`
	Name     string `yaml:"name"`
	Folder   string `yaml:"folder"`
	Interval string `yaml:"interval"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	UID                  string            `yaml:"uid"`
	Title                string            `yaml:"title"`
	Condition            string            `yaml:"condition"`
	Data                 []ruleQuery       `yaml:"data"`
	DashboardUID         string            `yaml:"dashboardUid"`
	PanelID              *int64            `yaml:"panelId"`
	NoDataState          string            `yaml:"noDataState"`
	ExecErrState         string            `yaml:"execErrState"`
	For                  string            `yaml:"for"`
	KeepFiringFor        string            `yaml:"keepFiringFor"`
	Annotations          map[string]string `yaml:"annotations"`
	Labels               map[string]string `yaml:"labels"`
	IsPaused             bool              `yaml:"isPaused"`
	NotificationSettings map[string]any    `yaml:"notification_settings"`
}

type ruleQuery struct {
	RefID             string `yaml:"refId"`
	QueryType         string `yaml:"queryType"`
	RelativeTimeRange *struct {
		From int64 `yaml:"from"`
		To   int64 `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	DatasourceUID string         `yaml:"datasourceUid"`
	Model         map[string]any `yaml:"model"`
}

// alerting/contact_point_types.go, ContactPointV1 and ReceiverV1.
type contactPoint struct {
	OrgID     int64      `yaml:"orgId"`
	Name      string     `yaml:"name"`
	Receivers []receiver `yaml:"receivers"`
}

type receiver struct {
	UID                   string         `yaml:"uid"`
	Type                  string         `yaml:"type"`
	Settings              map[string]any `yaml:"settings"`
	DisableResolveMessage bool           `yaml:"disableResolveMessage"`
}

// The webhook notifier's settings (grafana/alerting receivers/webhook).
type webhookSettings struct {
	URL                      string `yaml:"url"`
	HTTPMethod               string `yaml:"httpMethod"`
	MaxAlerts                any    `yaml:"maxAlerts"`
	AuthorizationScheme      string `yaml:"authorization_scheme"`
	AuthorizationCredentials string `yaml:"authorization_credentials"`
	Username                 string `yaml:"username"`
	Password                 string `yaml:"password"`
	Title                    string `yaml:"title"`
	Message                  string `yaml:"message"`
}

// A notification policy is an Alertmanager route plus orgId
// (alerting/notification_policy_types.go).
type policy struct {
	OrgID               int64      `yaml:"orgId"`
	Receiver            string     `yaml:"receiver"`
	GroupBy             []string   `yaml:"group_by"`
	GroupWait           string     `yaml:"group_wait"`
	GroupInterval       string     `yaml:"group_interval"`
	RepeatInterval      string     `yaml:"repeat_interval"`
	Matchers            []string   `yaml:"matchers"`
	ObjectMatchers      [][]string `yaml:"object_matchers"`
	MuteTimeIntervals   []string   `yaml:"mute_time_intervals"`
	ActiveTimeIntervals []string   `yaml:"active_time_intervals"`
	Continue            bool       `yaml:"continue"`
	Routes              []policy   `yaml:"routes"`
}

// The parts of a dashboard's JSON model the checks need; the rest is free.
type dashboard struct {
	ID            any        `json:"id"`
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	SchemaVersion int        `json:"schemaVersion"`
	Panels        []panel    `json:"panels"`
	Templating    templating `json:"templating"`
}

type templating struct {
	List []variable `json:"list"`
}

type variable struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Query   any    `json:"query"`
	Multi   bool   `json:"multi"`
	Options []struct {
		Value string `json:"value"`
	} `json:"options"`
}

type panel struct {
	ID         *int64           `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource *datasourceRef   `json:"datasource"`
	Targets    []map[string]any `json:"targets"`
	// Everything, to find the variables the panel refers to.
	raw map[string]any
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// provisioned is everything in this directory, decoded.
type provisioned struct {
	datasources map[string]datasource // by uid
	providers   []dashboardProvider
	dashboards  map[string]dashboard // by uid
	dashFiles   map[string]string    // dashboard uid -> file
	alerting    map[string]alertingFile
}

func load(t *testing.T) provisioned {
	t.Helper()
	p := provisioned{
		datasources: map[string]datasource{},
		dashboards:  map[string]dashboard{},
		dashFiles:   map[string]string{},
		alerting:    map[string]alertingFile{},
	}
	for _, file := range yamlFiles(t, "datasources") {
		var f datasourcesFile
		decodeYAML(t, file, &f)
		checkAPIVersion(t, file, f.APIVersion)
		for _, ds := range f.Datasources {
			if _, dup := p.datasources[ds.UID]; dup {
				t.Errorf("%s: data source uid %q is used twice", file, ds.UID)
			}
			p.datasources[ds.UID] = ds
		}
	}
	for _, file := range yamlFiles(t, "dashboards") {
		var f dashboardProvidersFile
		decodeYAML(t, file, &f)
		checkAPIVersion(t, file, f.APIVersion)
		p.providers = append(p.providers, f.Providers...)
	}
	for _, prov := range p.providers {
		dir := localPath(t, prov.Options.Path)
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("provider %q: no dashboards in %s (options.path %s): %v", prov.Name, dir, prov.Options.Path, err)
		}
		for _, file := range files {
			d := decodeDashboard(t, file)
			if other, dup := p.dashFiles[d.UID]; dup {
				t.Errorf("%s: dashboard uid %q is also used by %s", file, d.UID, other)
			}
			p.dashboards[d.UID] = d
			p.dashFiles[d.UID] = file
		}
	}
	for _, file := range yamlFiles(t, "alerting") {
		var f alertingFile
		decodeYAML(t, file, &f)
		checkAPIVersion(t, file, f.APIVersion)
		p.alerting[file] = f
	}
	return p
}

// yamlFiles lists the files Grafana reads as configuration in a provisioning
// subdirectory: *.yaml and *.yml (and *.json for alerting), not subfolders.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch ext := filepath.Ext(e.Name()); {
		case ext == ".yaml" || ext == ".yml" || (ext == ".json" && dir == "alerting"):
			files = append(files, filepath.Join(dir, e.Name()))
		default:
			t.Errorf("%s/%s: Grafana ignores this file here", dir, e.Name())
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s: no provisioning files", dir)
	}
	return files
}

func decodeYAML(t *testing.T, file string, into any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := strictYAML(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func strictYAML(b []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		return err
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		return fmt.Errorf("more than one YAML document: Grafana reads only the first")
	}
	return nil
}

func checkAPIVersion(t *testing.T, file string, v int) {
	t.Helper()
	if v != 1 {
		t.Errorf("%s: apiVersion %d, want 1", file, v)
	}
}

// localPath maps a path under /etc/grafana/provisioning to this directory.
func localPath(t *testing.T, path string) string {
	t.Helper()
	rel, ok := strings.CutPrefix(path, grafanaProvisioning)
	if !ok || !filepath.IsAbs(path) {
		t.Fatalf("path %q is not under %s, where the README has operators copy these files", path, grafanaProvisioning)
	}
	return filepath.FromSlash(rel)
}

func decodeDashboard(t *testing.T, file string) dashboard {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var raw struct {
		Panels []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for i := range d.Panels {
		d.Panels[i].raw = raw.Panels[i]
	}
	return d
}

// validUID is Grafana's rule for data source, dashboard, rule and receiver
// uids (util.IsValidShortUID and its 40-character limit).
var validUID = regexp.MustCompile(`^[a-zA-Z0-9\-_]{1,40}$`)

func checkUID(t *testing.T, what, uid string) {
	t.Helper()
	if !validUID.MatchString(uid) {
		t.Errorf("%s uid %q: Grafana wants 1 to 40 letters, digits, - or _", what, uid)
	}
}

func TestDatasources(t *testing.T) {
	p := load(t)
	if len(p.datasources) == 0 {
		t.Fatal("no data sources")
	}
	for uid, ds := range p.datasources {
		checkUID(t, "data source", uid)
		if ds.Name == "" {
			t.Errorf("data source %q has no name", uid)
		}
		// grafana-testdata-datasource since Grafana 10.2; the file's comment
		// says to write testdata for older versions.
		if ds.Type != "grafana-testdata-datasource" {
			t.Errorf("data source %q: type %q, want grafana-testdata-datasource", uid, ds.Type)
		}
		if ds.IsDefault {
			t.Errorf("data source %q would replace the organisation's default data source", uid)
		}
	}
}

func TestDashboards(t *testing.T) {
	p := load(t)
	if len(p.providers) == 0 {
		t.Fatal("no dashboard providers")
	}
	for _, prov := range p.providers {
		if prov.Name == "" || prov.Type != "file" || prov.Folder == "" {
			t.Errorf("provider %+v: want a name, type file and a folder", prov)
		}
	}
	for uid, d := range p.dashboards {
		file := p.dashFiles[uid]
		checkUID(t, "dashboard", uid)
		if d.Title == "" {
			t.Errorf("%s: no title", file)
		}
		// A provisioned dashboard must not carry a database id.
		if d.ID != nil {
			t.Errorf("%s: id %v, want none", file, d.ID)
		}
		if d.SchemaVersion == 0 {
			t.Errorf("%s: no schemaVersion", file)
		}
		vars := map[string]variable{}
		for _, v := range d.Templating.List {
			if _, dup := vars[v.Name]; dup || v.Name == "" {
				t.Errorf("%s: variable name %q is empty or used twice", file, v.Name)
			}
			vars[v.Name] = v
		}
		ids := map[int64]bool{}
		for _, pn := range d.Panels {
			if pn.ID == nil || ids[*pn.ID] {
				t.Errorf("%s: panel %q has no id or one used twice", file, pn.Title)
				continue
			}
			ids[*pn.ID] = true
			if pn.Type == "" || len(pn.Targets) == 0 || pn.Datasource == nil {
				t.Errorf("%s: panel %d needs a type, a data source and queries", file, *pn.ID)
				continue
			}
			refs := []*datasourceRef{pn.Datasource}
			for _, q := range pn.Targets {
				ref, err := targetDatasource(q)
				if err != nil {
					t.Errorf("%s: panel %d: %v", file, *pn.ID, err)
				}
				refs = append(refs, ref)
			}
			for _, ref := range refs {
				if ref == nil {
					continue
				}
				if err := checkDatasourceRef(*ref, p.datasources, vars); err != nil {
					t.Errorf("%s: panel %d: %v", file, *pn.ID, err)
				}
			}
			for _, name := range referencedVariables(pn.raw) {
				if _, ok := vars[name]; !ok {
					t.Errorf("%s: panel %d refers to $%s, which is not a variable of the dashboard", file, *pn.ID, name)
				}
			}
		}
	}
}

func targetDatasource(q map[string]any) (*datasourceRef, error) {
	raw, ok := q["datasource"]
	if !ok {
		return nil, nil
	}
	b, _ := json.Marshal(raw)
	var ref datasourceRef
	if err := json.Unmarshal(b, &ref); err != nil {
		return nil, fmt.Errorf("query %v: datasource %s is not {type, uid}", q["refId"], b)
	}
	return &ref, nil
}

// checkDatasourceRef accepts a provisioned data source of the same type, or a
// data source variable of the dashboard that lists data sources of that type.
func checkDatasourceRef(ref datasourceRef, provisioned map[string]datasource, vars map[string]variable) error {
	if names := referencedVariables(ref.UID); len(names) > 0 {
		v, ok := vars[names[0]]
		if !ok || v.Type != "datasource" {
			return fmt.Errorf("data source %q is not a data source variable of the dashboard", ref.UID)
		}
		if v.Query != ref.Type {
			return fmt.Errorf("data source variable $%s lists %v data sources, the panel wants %q", v.Name, v.Query, ref.Type)
		}
		return nil
	}
	ds, ok := provisioned[ref.UID]
	if !ok {
		return fmt.Errorf("data source uid %q is not provisioned", ref.UID)
	}
	if ds.Type != ref.Type {
		return fmt.Errorf("data source %q has type %q, the reference says %q", ref.UID, ds.Type, ref.Type)
	}
	return nil
}

// grafanaVariable is Grafana's template variable syntax: $name, [[name]] and
// ${name}, ${name.field}, ${name:format}.
var grafanaVariable = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::\w+)?\]\]|\$\{(\w+)(?:\.[^:^}]+)?(?::[^}]+)?\}`)

// referencedVariables lists the dashboard variables a value refers to
// anywhere in its strings, leaving out Grafana's built-ins ($__interval,
// ${__field.labels}).
func referencedVariables(v any) []string {
	var names []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			for _, m := range grafanaVariable.FindAllStringSubmatch(v, -1) {
				name := m[1] + m[2] + m[3]
				if !strings.HasPrefix(name, "__") && !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return names
}

// findPanel returns the panel "uid:id" names.
func (p provisioned) findPanel(t *testing.T, uidPanel string) (dashboard, panel) {
	t.Helper()
	uid, idText, _ := strings.Cut(uidPanel, ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		t.Fatalf("%q is not uid:panelId", uidPanel)
	}
	d, ok := p.dashboards[uid]
	if !ok {
		t.Fatalf("no provisioned dashboard has uid %q", uid)
	}
	for _, pn := range d.Panels {
		if pn.ID != nil && *pn.ID == id {
			return d, pn
		}
	}
	t.Fatalf("dashboard %q has no panel %d", uid, id)
	return dashboard{}, panel{}
}

func variableNamed(d dashboard, name string) (variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return variable{}, false
}

func TestExpressionDashboard(t *testing.T) {
	p := load(t)
	d, pn := p.findPanel(t, expressionPanel)
	expr, ok := variableNamed(d, "expr")
	if !ok || expr.Type != "textbox" {
		t.Errorf("%s: want a textbox variable expr (Panelcast sets var-expr)", d.UID)
	}
	ds, ok := variableNamed(d, "datasource")
	if !ok || ds.Type != "datasource" || ds.Query != "prometheus" || ds.Multi {
		t.Errorf("%s: want a single data source variable listing prometheus data sources, got %+v", d.UID, ds)
	}
	if pn.Type != "timeseries" || pn.Datasource == nil || pn.Datasource.Type != "prometheus" || pn.Datasource.UID != "${datasource}" {
		t.Errorf("%s panel: want a timeseries on ${datasource}, got %s on %+v", expressionPanel, pn.Type, pn.Datasource)
	}
	if len(pn.Targets) != 1 {
		t.Fatalf("%s panel: %d queries, want 1", expressionPanel, len(pn.Targets))
	}
	// :raw, not the Prometheus data source's own formatting, which escapes
	// backslashes and quotes in a single-valued variable.
	if got := pn.Targets[0]["expr"]; got != "${expr:raw}" {
		t.Errorf("%s panel: query %v, want ${expr:raw}", expressionPanel, got)
	}
}

// alertRules returns every rule with its group, by uid.
func (p provisioned) alertRules(t *testing.T) map[string]struct {
	group ruleGroup
	rule  rule
} {
	t.Helper()
	rules := map[string]struct {
		group ruleGroup
		rule  rule
	}{}
	for file, f := range p.alerting {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if _, dup := rules[r.UID]; dup {
					t.Errorf("%s: rule uid %q used twice", file, r.UID)
				}
				rules[r.UID] = struct {
					group ruleGroup
					rule  rule
				}{g, r}
			}
		}
	}
	return rules
}

func TestAlertRules(t *testing.T) {
	p := load(t)
	rules := p.alertRules(t)
	if len(rules) == 0 {
		t.Fatal("no alert rules")
	}
	for uid, gr := range rules {
		g, r := gr.group, gr.rule
		checkUID(t, "rule", uid)
		if g.Name == "" || g.Folder == "" || r.Title == "" {
			t.Errorf("rule %q: group name, folder and title are required", uid)
		}
		if _, err := model.ParseDuration(g.Interval); err != nil {
			t.Errorf("group %q: interval %q: %v", g.Name, g.Interval, err)
		}
		if _, err := model.ParseDuration(r.For); r.For != "" && err != nil {
			t.Errorf("rule %q: for %q: %v", uid, r.For, err)
		}
		if !slices.Contains([]string{"", "NoData", "Alerting", "OK", "KeepLast"}, r.NoDataState) {
			t.Errorf("rule %q: noDataState %q", uid, r.NoDataState)
		}
		if !slices.Contains([]string{"", "Error", "Alerting", "OK", "KeepLast"}, r.ExecErrState) {
			t.Errorf("rule %q: execErrState %q", uid, r.ExecErrState)
		}
		checkRuleQueries(t, uid, r, p.datasources)
		for name, text := range r.Annotations {
			if _, err := template.New(name).Parse(text); err != nil {
				t.Errorf("rule %q: annotation %s: %v", uid, name, err)
			}
		}
		// Grafana expands environment variables in labels; and a file free
		// of dollar signs is safe from envsubst as well.
		for name, text := range r.Labels {
			if strings.Contains(text, "$") {
				t.Errorf("rule %q: label %s %q: Grafana would expand the $ from its environment", uid, name, text)
			}
		}
		for name, text := range r.Annotations {
			if strings.Contains(text, "$") {
				t.Errorf("rule %q: annotation %s %q: write .Labels/.Values instead of $labels/$values", uid, name, text)
			}
		}
	}
}

func checkRuleQueries(t *testing.T, uid string, r rule, datasources map[string]datasource) {
	t.Helper()
	refs := map[string]ruleQuery{}
	for _, q := range r.Data {
		if _, dup := refs[q.RefID]; dup || q.RefID == "" {
			t.Errorf("rule %q: refId %q is empty or used twice", uid, q.RefID)
		}
		refs[q.RefID] = q
		if q.Model["refId"] != q.RefID {
			t.Errorf("rule %q: query %s: model.refId %v", uid, q.RefID, q.Model["refId"])
		}
	}
	if _, ok := refs[r.Condition]; !ok {
		t.Errorf("rule %q: condition %q is not one of its refIds", uid, r.Condition)
	}
	for _, q := range r.Data {
		if q.DatasourceUID == "__expr__" {
			typ, _ := q.Model["type"].(string)
			if !slices.Contains([]string{"reduce", "threshold", "math", "resample", "classic_conditions"}, typ) {
				t.Errorf("rule %q: expression %s: type %q", uid, q.RefID, typ)
			}
			if typ != "math" && typ != "classic_conditions" {
				if in, _ := q.Model["expression"].(string); refs[in].RefID == "" || in == q.RefID {
					t.Errorf("rule %q: expression %s reads %q, which is not another refId", uid, q.RefID, in)
				}
			}
			continue
		}
		if _, ok := datasources[q.DatasourceUID]; !ok {
			t.Errorf("rule %q: query %s: data source %q is not provisioned", uid, q.RefID, q.DatasourceUID)
		}
		if q.RelativeTimeRange == nil || q.RelativeTimeRange.From <= q.RelativeTimeRange.To {
			t.Errorf("rule %q: query %s needs a relativeTimeRange with from > to (seconds before now)", uid, q.RefID)
		}
	}
}

// TestDemoRuleLinkedToPanel checks what makes the demo work end to end: the
// rule names the demo panel both ways Grafana knows, queries the same wave
// the panel draws, and gives its alerts a label named like a variable of the
// dashboard with a value the variable offers.
func TestDemoRuleLinkedToPanel(t *testing.T) {
	p := load(t)
	d, pn := p.findPanel(t, demoPanel)
	var linked []rule
	for _, gr := range p.alertRules(t) {
		r := gr.rule
		if r.DashboardUID == "" && r.Annotations["__dashboardUid__"] == "" {
			continue
		}
		if r.PanelID == nil {
			t.Errorf("rule %q: dashboardUid without panelId", r.UID)
			continue
		}
		link := fmt.Sprintf("%s:%d", r.DashboardUID, *r.PanelID)
		p.findPanel(t, link)
		if a := r.Annotations["__dashboardUid__"] + ":" + r.Annotations["__panelId__"]; a != link {
			t.Errorf("rule %q: annotations name %s, dashboardUid/panelId %s", r.UID, a, link)
		}
		for _, prov := range p.providers {
			if prov.Folder != gr.group.Folder {
				t.Errorf("rule %q is in folder %q, its dashboards in %q", r.UID, gr.group.Folder, prov.Folder)
			}
		}
		if link == demoPanel {
			linked = append(linked, r)
		}
	}
	if len(linked) != 1 {
		t.Fatalf("%d rules linked to %s, want 1", len(linked), demoPanel)
	}
	r := linked[0]
	panelWave := csvWaves(t, pn.Targets[0]["csvWave"])
	ruleWave := csvWaves(t, r.Data[0].Model["csvWave"])
	if len(panelWave) != 1 || len(ruleWave) != 1 || panelWave[0].ValuesCSV != ruleWave[0].ValuesCSV || panelWave[0].TimeStep != ruleWave[0].TimeStep {
		t.Errorf("the rule's wave %+v differs from the panel's %+v: the picture would not show what the rule saw", ruleWave, panelWave)
	}
	if pn.Targets[0]["scenarioId"] != r.Data[0].Model["scenarioId"] {
		t.Errorf("panel scenario %v, rule scenario %v", pn.Targets[0]["scenarioId"], r.Data[0].Model["scenarioId"])
	}
	mapped := 0
	for name, value := range testdataLabels(ruleWave[0].Labels) {
		v, ok := variableNamed(d, name)
		if !ok {
			continue
		}
		mapped++
		if !slices.ContainsFunc(v.Options, func(o struct {
			Value string `json:"value"`
		}) bool {
			return o.Value == value
		}) {
			t.Errorf("the alerts' %s=%s is not an option of the dashboard's variable $%s", name, value, name)
		}
	}
	if mapped == 0 {
		t.Errorf("no label of the rule's series (%q) is a variable of %s: the picture would not be per instance", ruleWave[0].Labels, d.UID)
	}
	// The threshold in the rule is the red line in the panel.
	fired := 0
	for _, v := range strings.Split(ruleWave[0].ValuesCSV, ",") {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			t.Errorf("valuesCSV: %v", err)
		} else if f > 80 {
			fired++
		}
	}
	if fired < 2 {
		t.Errorf("the wave is above 80 for %d steps; with for: %s the rule needs at least 2", fired, r.For)
	}
}

type csvWave struct {
	TimeStep  int64  `json:"timeStep"`
	ValuesCSV string `json:"valuesCSV"`
	Labels    string `json:"labels"`
	Name      string `json:"name"`
}

func csvWaves(t *testing.T, v any) []csvWave {
	t.Helper()
	b, _ := json.Marshal(v)
	var waves []csvWave
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&waves); err != nil {
		t.Fatalf("csvWave %s: %v", b, err)
	}
	return waves
}

// testdataLabels parses TestData's labels text as its backend does
// ("a=b, c=d", braces and quotes optional).
func testdataLabels(text string) map[string]string {
	labels := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(text, "{}"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return labels
}

// envReference is how a secret is named instead of written: $NAME, ${NAME},
// $__env{NAME} or $__file{path}.
var envReference = regexp.MustCompile(`^(\$[A-Z_][A-Z0-9_]*|\$\{[A-Z_][A-Z0-9_]*\}|\$__env\{[A-Z_][A-Z0-9_]*\}|\$__file\{[^}]+\})$`)

// chatProviders are the address prefixes Panelcast knows.
var chatProviders = []string{"slack", "mattermost", "discord", "telegram"}

func TestContactPointsAndPolicies(t *testing.T) {
	p := load(t)
	plugin := pluginID(t)
	names := map[string]bool{}
	receiverUIDs := map[string]bool{}
	var policies []policy
	for file, f := range p.alerting {
		policies = append(policies, f.Policies...)
		for _, cp := range f.ContactPoints {
			if cp.Name == "" || names[cp.Name] {
				t.Errorf("%s: contact point name %q is empty or used twice", file, cp.Name)
			}
			names[cp.Name] = true
			for _, rc := range cp.Receivers {
				checkUID(t, "receiver", rc.UID)
				if receiverUIDs[rc.UID] {
					t.Errorf("%s: receiver uid %q used twice", file, rc.UID)
				}
				receiverUIDs[rc.UID] = true
				if rc.Type != "webhook" {
					t.Errorf("%s: receiver %q: type %q, want webhook", file, rc.UID, rc.Type)
					continue
				}
				checkWebhook(t, rc, plugin)
			}
		}
	}
	if len(names) == 0 || len(policies) == 0 {
		t.Fatal("want at least one contact point and one policy")
	}
	var walk func(policy, bool)
	walk = func(pol policy, root bool) {
		if pol.Receiver == "" && root {
			t.Errorf("the root policy needs a receiver")
		}
		if pol.Receiver != "" && !names[pol.Receiver] {
			t.Errorf("policy routes to %q, which no provisioned contact point is called", pol.Receiver)
		}
		for _, d := range []string{pol.GroupWait, pol.GroupInterval, pol.RepeatInterval} {
			if _, err := model.ParseDuration(d); d != "" && err != nil {
				t.Errorf("policy: %v", err)
			}
		}
		for _, child := range pol.Routes {
			walk(child, false)
		}
	}
	for _, pol := range policies {
		walk(pol, true)
	}
}

func checkWebhook(t *testing.T, rc receiver, plugin string) {
	t.Helper()
	b, _ := yaml.Marshal(rc.Settings)
	var s webhookSettings
	if err := strictYAML(b, &s); err != nil {
		t.Errorf("receiver %q: settings: %v", rc.UID, err)
		return
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Errorf("receiver %q: url %q is not an http(s) URL", rc.UID, s.URL)
		return
	}
	if want := "/api/plugins/" + plugin + "/resources/alerts"; !strings.HasSuffix(u.Path, want) {
		t.Errorf("receiver %q: url path %q, want it to end in %s (plugin.json id %q)", rc.UID, u.Path, want, plugin)
	}
	for _, addr := range strings.Split(u.Query().Get("to"), ",") {
		provider, target, _ := strings.Cut(addr, ":")
		if !slices.Contains(chatProviders, provider) || target == "" {
			t.Errorf("receiver %q: ?to= address %q is not <provider>:<channel> for one of %v", rc.UID, addr, chatProviders)
		}
	}
	if s.HTTPMethod != "" && s.HTTPMethod != "POST" {
		t.Errorf("receiver %q: httpMethod %q; Panelcast takes POST", rc.UID, s.HTTPMethod)
	}
	if s.AuthorizationScheme != "Bearer" {
		t.Errorf("receiver %q: authorization_scheme %q, want Bearer (a Grafana service-account token)", rc.UID, s.AuthorizationScheme)
	}
	if !envReference.MatchString(s.AuthorizationCredentials) {
		t.Errorf("receiver %q: authorization_credentials %q: name an environment variable or a file, do not write the token", rc.UID, s.AuthorizationCredentials)
	}
	// Grafana refuses both basic auth and an Authorization header.
	if s.Username != "" || s.Password != "" {
		t.Errorf("receiver %q: username/password set next to the Authorization header", rc.UID)
	}
}

func pluginID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.ID == "" {
		t.Fatalf("plugin.json: no id (%v)", err)
	}
	return p.ID
}

// TestChecksCatchTypos makes sure the strict decoding above is what stands
// between a misspelt key and a file Grafana would quietly half-read.
func TestChecksCatchTypos(t *testing.T) {
	tests := []struct {
		name, yaml string
		into       any
	}{
		{"datasource", "apiVersion: 1\ndatasources:\n  - name: x\n    datasourceUid: y\n", new(datasourcesFile)},
		{"provider", "apiVersion: 1\nproviders:\n  - name: x\n    options:\n      paths: /x\n", new(dashboardProvidersFile)},
		{"rule", "apiVersion: 1\ngroups:\n  - name: g\n    rules:\n      - uid: r\n        dashboardUID: d\n", new(alertingFile)},
		{"query", "apiVersion: 1\ngroups:\n  - name: g\n    rules:\n      - data:\n          - refID: A\n", new(alertingFile)},
		{"policy", "apiVersion: 1\npolicies:\n  - receiver: x\n    groupBy: [a]\n", new(alertingFile)},
		{"webhook", "url: http://x\nauthorizationCredentials: y\n", new(webhookSettings)},
		{"two documents", "apiVersion: 1\n---\napiVersion: 1\n", new(datasourcesFile)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := strictYAML([]byte(tt.yaml), tt.into); err == nil {
				t.Errorf("accepted:\n%s", tt.yaml)
			}
		})
	}
	names := referencedVariables(map[string]any{"a": "${instance:raw} $__interval [[host]] ${__field.labels.x} $env"})
	slices.Sort(names)
	if want := []string{"env", "host", "instance"}; !slices.Equal(names, want) {
		t.Errorf("referencedVariables: %v, want %v", names, want)
	}
}
