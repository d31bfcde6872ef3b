package notification

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/grafana"
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
			if ok && (!grafana.ValidUID(ref.DashboardUID) || ref.PanelID <= 0 || ref.OrgID < 0 || ref.Source == "") {
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
			if !grafana.IsVariableName(name) || !labelNamePattern.MatchString(label) {
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
