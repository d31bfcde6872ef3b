package grafana

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(body(`,"orgId":1`, `,"values":{"A":"NaN"},"panelURL":"/d/x?viewPanel=panel-2"`))
	f.Add([]byte(`{"x":[[[[{"y":[]}]]]]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := ParseWebhook(raw)
		if err != nil {
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("error does not wrap ErrBadPayload: %v", err)
			}
			return
		}
		if n.Source != SourceGrafana && n.Source != SourceAlertmanager {
			t.Fatalf("source %q", n.Source)
		}
		if !validStatus(n.Status) || len(n.Alerts) == 0 || len(n.Alerts) > MaxAlerts || n.OrgID < 0 || n.TruncatedAlerts < 0 {
			t.Fatalf("notification %+v", n)
		}
		for i, a := range n.Alerts {
			if !validStatus(a.Status) || a.StartsAt.IsZero() || a.Fingerprint == "" || len(a.Fingerprint) > maxFingerprint || a.OrgID < 0 {
				t.Fatalf("alert %d: %+v", i, a)
			}
			ref, ok, problem := a.Panel()
			if ok && (!ValidUID(ref.DashboardUID) || ref.PanelID <= 0 || ref.OrgID < 0 || ref.Source == "") {
				t.Fatalf("alert %d: panel %+v", i, ref)
			}
			if !ok && problem == "" {
				t.Fatalf("alert %d names no panel and no reason", i)
			}
			if expr, ok := PromExpr(a.GeneratorURL); ok != (expr != "") {
				t.Fatalf("PromExpr(%q) = %q, %v", a.GeneratorURL, expr, ok)
			}
		}
	})
}

// FuzzParsePanelRef checks that what it reads is a valid reference, that
// the uid:panelId form and a solo-panel URL built from the reference read
// back the same.
func FuzzParsePanelRef(f *testing.F) {
	for _, s := range []string{"abc:2", "abc:panel-3", "https://g.example.com/d/u1/slug?orgId=2&viewPanel=panel-4&var-a=1&var-a=2",
		"/d-solo/u/_?panelId=5", "https://g/d/u", "x:0", "https://g/d/u?viewPanel=1&var-%zz=1"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://grafana.internal:3000/sub")
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParsePanelRef(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if !ValidUID(ref.DashboardUID) || ref.PanelID <= 0 || ref.OrgID < 0 || ref.Source != "" {
			t.Fatalf("ParsePanelRef(%q) = %+v", s, ref)
		}
		short, err := ParsePanelRef(ref.DashboardUID + ":" + strconv.FormatInt(ref.PanelID, 10))
		if err != nil || short.DashboardUID != ref.DashboardUID || short.PanelID != ref.PanelID {
			t.Fatalf("uid:panelId of %+v reads %+v, %v", ref, short, err)
		}
		solo, err := SoloURL(base, SoloPanel{DashboardUID: ref.DashboardUID, PanelID: ref.PanelID, OrgID: ref.OrgID, Vars: ref.Vars})
		if err != nil {
			return // variables the solo URL refuses (too many, not printable)
		}
		back, err := ParsePanelRef(solo.String())
		if err != nil || !reflect.DeepEqual(back, ref) {
			t.Fatalf("%q → %+v → %s → %+v, %v", s, ref, solo, back, err)
		}
		if solo.Host != base.Host {
			t.Fatalf("solo URL %s left Grafana", solo)
		}
	})
}

// FuzzParseVarMap checks that a map it reads holds only valid names and
// reads back the same from its canonical form.
func FuzzParseVarMap(f *testing.F) {
	for _, s := range []string{"host=instance, env=cluster", "a=b,", " x = y ", "a=b,a=c", "svc=service.name"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vars, err := ParseVarMap(s)
		if err != nil {
			if vars != nil || err.Error() == "" {
				t.Fatalf("ParseVarMap(%q) = %v, %v", s, vars, err)
			}
			return
		}
		entries := 0
		if strings.TrimSpace(s) != "" {
			entries = strings.Count(s, ",") + 1
		}
		if len(vars) != entries {
			t.Fatalf("ParseVarMap(%q) has %d variables for %d entries", s, len(vars), entries)
		}
		pairs := make([]string, 0, len(vars))
		for name, label := range vars {
			if !varNamePattern.MatchString(name) || strings.HasPrefix(name, "__") || !labelNamePattern.MatchString(label) {
				t.Fatalf("ParseVarMap(%q) took %q=%q", s, name, label)
			}
			pairs = append(pairs, name+"="+label)
		}
		sort.Strings(pairs)
		again, err := ParseVarMap(strings.Join(pairs, ", "))
		if err != nil || !reflect.DeepEqual(again, vars) {
			t.Fatalf("%q → %v → %v, %v", s, vars, again, err)
		}
	})
}

// FuzzPromExpr checks that an expression it finds is what a graph link for
// it carries.
func FuzzPromExpr(f *testing.F) {
	for _, s := range []string{"http://p:9090/graph?g0.expr=up%7Bjob%3D%22a%22%7D&g0.tab=1", "/graph?g0.expr=+", "https://g/alerting/grafana/x/view"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr, ok := PromExpr(s)
		if ok != (expr != "") || expr != strings.TrimSpace(expr) {
			t.Fatalf("PromExpr(%q) = %q, %v", s, expr, ok)
		}
		if !ok {
			return
		}
		link := "http://prometheus.example.com:9090/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
		if back, ok := PromExpr(link); !ok || back != expr {
			t.Fatalf("%q → %q → %s → %q", s, expr, link, back)
		}
	})
}

// FuzzResourceDashboard reads dashboard resources as Grafana's resource API
// may send them: what it reads has only real panels, and a schema v2
// dashboard's panels come in id order.
func FuzzResourceDashboard(f *testing.F) {
	f.Add([]byte(v2ResourceJSON))
	f.Add([]byte(`{"kind":"Dashboard","apiVersion":"dashboard.grafana.app/v1beta1","spec":` + grafanaJSON[strings.Index(grafanaJSON, `"dashboard": {`)+len(`"dashboard": `):len(grafanaJSON)-1] + `}`))
	f.Add([]byte(`{"kind":"Dashboard","apiVersion":"dashboard.grafana.app/v2","spec":{"elements":{"panel-0":{"spec":{"id":-1}},"panel-9":{}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r resourceJSON
		if json.Unmarshal(raw, &r) != nil {
			return
		}
		d, err := r.dashboard()
		if err != nil {
			return
		}
		for i, p := range d.Panels {
			if p.ID <= 0 {
				t.Fatalf("panel %d has id %d", i, p.ID)
			}
			if strings.HasPrefix(strings.TrimPrefix(r.APIVersion, dashboardGroup+"/"), "v2") && i > 0 && d.Panels[i-1].ID > p.ID {
				t.Fatalf("panels out of order: %+v", d.Panels)
			}
		}
		if d.UID != r.Metadata.Name || d.FolderUID != r.Metadata.Annotations[folderAnnotation] {
			t.Fatalf("dashboard %q in folder %q from %+v", d.UID, d.FolderUID, r.Metadata)
		}
	})
}
