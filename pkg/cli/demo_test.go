package cli

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// `panelcast demo` writes a picture of Grafana's time series panel: the
// stand-in built from Grafana's frontend, over https with a certificate for
// another name.
func TestDemoCommand(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	out := filepath.Join(t.TempDir(), "panel.png")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"panelcast", "demo", "-o", out}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "self-signed certificate for another name") || !strings.Contains(stdout.String(), "wrote "+out) {
		t.Errorf("stdout %q", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", out, err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 500 {
		t.Errorf("picture is %v, want the default 1000x500", b)
	}
	if _, err := grafanatest.CheckDemoPicture(img); err != nil {
		t.Errorf("the demo picture is not Grafana's time series panel: %v", err)
	}
}
