package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

func TestFontsFrom(t *testing.T) {
	all := map[string]bool{"en": true, "ko": true, "ja": true, "zh": true}
	without := func(langs ...string) map[string]bool {
		m := map[string]bool{}
		for l, v := range all {
			m[l] = v && !slices.Contains(langs, l)
		}
		return m
	}
	for _, c := range []struct {
		name     string
		found    map[string]bool
		want     Fonts
		saysPart string
	}{
		{"everything", all, Fonts{Latin: true, CJK: true}, "Latin and CJK (Korean, Japanese, Chinese) text is covered"},
		{"no Korean", without("ko"), Fonts{Latin: true, Missing: []string{"ko"}, Install: []string{"fonts-noto-cjk"}},
			"no font for Korean text, which renders as empty boxes: install fonts-noto-cjk (apt-get install fonts-noto-cjk)"},
		{"no CJK", without("ko", "ja", "zh"), Fonts{Latin: true, Missing: []string{"ko", "ja", "zh"}, Install: []string{"fonts-noto-cjk"}},
			"no font for Korean, Japanese, Chinese text"},
		{"no Latin", without("en"), Fonts{CJK: true, Missing: []string{"en"}, Install: []string{"fonts-dejavu-core"}},
			"no font for Latin text, which renders as empty boxes: install fonts-dejavu-core"},
		{"nothing", map[string]bool{}, Fonts{Missing: []string{"en", "ko", "ja", "zh"}, Install: []string{"fonts-dejavu-core", "fonts-noto-cjk"}},
			"install fonts-dejavu-core and fonts-noto-cjk (apt-get install fonts-dejavu-core fonts-noto-cjk)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fontsFrom(c.found)
			if !strings.Contains(got.Message, c.saysPart) {
				t.Errorf("message %q, want it to say %q", got.Message, c.saysPart)
			}
			got.Message = ""
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// latinOnlyFonts writes a fontconfig configuration whose only font is a
// Latin one without Hangul, and returns its path, for FONTCONFIG_FILE.
func latinOnlyFonts(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("fc-list"); err != nil {
		t.Fatal("fc-list not found: install fontconfig")
	}
	out, err := exec.Command("fc-list", ":lang=en", "file").Output()
	if err != nil {
		t.Fatalf("fc-list: %v", err)
	}
	var font string
	for _, line := range strings.Split(string(out), "\n") {
		file := strings.TrimSuffix(strings.TrimSpace(line), ":")
		if file == "" {
			continue
		}
		langs, err := exec.Command("fc-query", "-f", "%{lang}", file).Output()
		if err == nil && !slices.Contains(strings.Split(string(langs), "|"), "ko") {
			font = file
			break
		}
	}
	if font == "" {
		t.Fatal("no Latin font without Hangul to compare with: install fonts-dejavu-core")
	}
	dir := t.TempDir()
	if err := os.Symlink(font, filepath.Join(dir, filepath.Base(font))); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "fonts.conf")
	body := `<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><dir>` + dir +
		`</dir><cachedir>` + filepath.Join(dir, "cache") + `</cachedir></fontconfig>`
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

func TestCheckFonts(t *testing.T) {
	ctx := context.Background()
	if f := CheckFonts(ctx); !f.Latin || !f.CJK || len(f.Missing) != 0 {
		t.Errorf("this machine's fonts: %+v; Panelcast's tests need Latin and CJK fonts: apt-get install fonts-dejavu-core fonts-noto-cjk", f)
	}
	t.Setenv("FONTCONFIG_FILE", latinOnlyFonts(t))
	f := CheckFonts(ctx)
	if !f.Latin || f.CJK || !reflect.DeepEqual(f.Missing, []string{"ko", "ja", "zh"}) || !reflect.DeepEqual(f.Install, []string{"fonts-noto-cjk"}) ||
		!strings.Contains(f.Message, "apt-get install fonts-noto-cjk") {
		t.Errorf("with only a Latin font: %+v", f)
	}
	t.Setenv("PATH", t.TempDir())
	if f := CheckFonts(ctx); f.Latin || f.CJK || !strings.Contains(f.Message, "fc-list not found") || !strings.Contains(f.Message, "install fontconfig") {
		t.Errorf("without fc-list: %+v", f)
	}
}

// A panel titled in Korean shows Hangul, not the empty boxes Chromium
// draws without a CJK font. The same render with only a Latin font shows
// that CheckTitleGlyphs tells the two apart.
func TestRenderKoreanTitle(t *testing.T) {
	render := func(t *testing.T) error {
		r := newRenderer(t, Options{})
		g := standIn(t)
		req := demoRequest(g, grafanatest.ScenarioDemo, nil, 600, 300, 2)
		req.URL = g.PanelURL(grafanatest.ScenarioDemo, map[string][]string{"panelId": {"3"}})
		out, err := r.Render(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		diffs, err := grafanatest.CheckTitleGlyphs(decode(t, out))
		t.Logf("the title's words differ by %.2f", diffs)
		return err
	}
	t.Run("system fonts", func(t *testing.T) {
		if err := render(t); err != nil {
			t.Errorf("%q: %v", grafanatest.DemoKoreanTitle, err)
		}
	})
	t.Run("only a Latin font", func(t *testing.T) {
		t.Setenv("FONTCONFIG_FILE", latinOnlyFonts(t))
		if err := render(t); err == nil || !strings.Contains(err.Error(), "empty boxes") {
			t.Errorf("err = %v, want the boxes found", err)
		}
	})
}
