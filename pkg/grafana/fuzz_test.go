package grafana

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

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
