package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
)

// fakeExe is a shell script, so the test can run the unpacked plugin and
// prove the run bit and the launcher link survive the round trip.
const fakeExe = "#!/bin/sh\necho fake-plugin\n"

const testManifest = `{
  "type": "renderer",
  "name": "Test",
  "id": "test-renderer",
  "backend": true,
  "executable": "gpx_test",
  "info": {
    "keywords": ["x"],
    "logos": {"small": "img/logo.svg", "large": "img/logo.svg"},
    "version": "%VERSION%",
    "updated": "%TODAY%"
  },
  "dependencies": {"grafanaDependency": ">=9.0.0"}
}`

// fakeTree lays out a repo-like folder and returns options pointing at it.
func fakeTree(t *testing.T) options {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string, mode fs.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("plugin.json", testManifest, 0o644)
	// 0644 on disk: the archive must carry 0755 regardless of how the
	// executable was copied around before packaging.
	write("dist/gpx_test_linux_amd64", fakeExe, 0o644)
	write("dist/gpx_test_darwin_arm64", "other platform", 0o755)
	write("dist/go_plugin_build_manifest", "mage leftovers", 0o755)
	write("src/README.md", "# Test\n", 0o644)
	write("CHANGELOG.md", "# Changelog\n", 0o644)
	write("LICENSE", "license text\n", 0o644)
	write("src/img/logo.svg", "<svg/>", 0o644)
	return options{
		Version:    "4.2.3",
		Date:       time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC),
		PluginJSON: filepath.Join(dir, "plugin.json"),
		Dist:       filepath.Join(dir, "dist"),
		Platforms:  []platform{{"linux", "amd64"}},
		Readme:     filepath.Join(dir, "src/README.md"),
		Changelog:  filepath.Join(dir, "CHANGELOG.md"),
		License:    filepath.Join(dir, "LICENSE"),
		ImgDir:     filepath.Join(dir, "src/img"),
		Launcher:   "plugin_start",
	}
}

func openZip(t *testing.T, p string) map[string]*zip.File {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			t.Errorf("duplicate member %q", f.Name)
		}
		files[f.Name] = f
	}
	return files
}

func readMember(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLayout(t *testing.T) {
	o := fakeTree(t)
	var stdout bytes.Buffer
	err := run([]string{
		"-version", o.Version, "-date", "2026-03-04",
		"-plugin-json", o.PluginJSON, "-dist", o.Dist,
		"-readme", o.Readme, "-changelog", o.Changelog, "-license", o.License, "-img", o.ImgDir,
	}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(o.Dist, "test-renderer-4.2.3.linux_amd64.zip")
	if got, want := strings.TrimSpace(stdout.String()), out+"\n"+filepath.Join(o.Dist, "test-renderer-4.2.3.zip"); got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	if fi, err := os.Stat(out); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("zip mode %v, want 0644", fi.Mode().Perm())
	}

	files := openZip(t, out)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{
		"test-renderer/",
		"test-renderer/CHANGELOG.md",
		"test-renderer/LICENSE",
		"test-renderer/README.md",
		"test-renderer/gpx_test_linux_amd64",
		"test-renderer/img/",
		"test-renderer/img/logo.svg",
		"test-renderer/plugin.json",
		"test-renderer/plugin_start_linux_amd64",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("members:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}

	exe := files["test-renderer/gpx_test_linux_amd64"]
	if m := exe.Mode(); !m.IsRegular() || m.Perm() != 0o755 {
		t.Errorf("executable mode %v, want -rwxr-xr-x", m)
	}
	if got := string(readMember(t, exe)); got != fakeExe {
		t.Errorf("executable content %q", got)
	}
	link := files["test-renderer/plugin_start_linux_amd64"]
	if link.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("launcher mode %v, want a symlink", link.Mode())
	}
	if got := string(readMember(t, link)); got != "gpx_test_linux_amd64" {
		t.Errorf("launcher target %q", got)
	}
	for _, n := range []string{"test-renderer/", "test-renderer/img/"} {
		if m := files[n].Mode(); !m.IsDir() || m.Perm() != 0o755 {
			t.Errorf("%s mode %v, want drwxr-xr-x", n, m)
		}
	}

	pj := readMember(t, files["test-renderer/plugin.json"])
	if bytes.Contains(pj, []byte("%")) {
		t.Errorf("placeholder left in plugin.json:\n%s", pj)
	}
	var m manifest
	if err := json.Unmarshal(pj, &m); err != nil {
		t.Fatal(err)
	}
	if m.Info.Version != "4.2.3" || m.Info.Updated != "2026-03-04" {
		t.Errorf("version %q updated %q", m.Info.Version, m.Info.Updated)
	}
}

// TestUnpackAndRun unpacks the archive the way grafana-cli lays it out (the
// first path component becomes the plugin folder, members keep their Unix
// modes, links stay links) and starts the plugin under the launcher name.
func TestUnpackAndRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs Unix modes and /bin/sh")
	}
	o := fakeTree(t)
	outs, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	plugins := t.TempDir()
	unzip(t, outs[0], plugins)
	if fis, err := os.ReadDir(plugins); err != nil || len(fis) != 1 || fis[0].Name() != "test-renderer" {
		t.Fatalf("the archive holds %v (%v), want the plugin folder test-renderer alone", fis, err)
	}
	for _, name := range []string{"plugin_start_linux_amd64", "gpx_test_linux_amd64"} {
		got, err := exec.Command(filepath.Join(plugins, "test-renderer", name)).Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.TrimSpace(string(got)) != "fake-plugin" {
			t.Errorf("%s printed %q", name, got)
		}
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name   string
		change func(o *options)
		want   string
	}{
		{"no version", func(o *options) { o.Version = "" }, "-version is required"},
		{"hash as version", func(o *options) { o.Version = "bacfa4d-dirty" }, "not MAJOR.MINOR.PATCH"},
		{"v prefix", func(o *options) { o.Version = "v4.2.3" }, "not MAJOR.MINOR.PATCH"},
		{"below the floor", func(o *options) { o.Version = "1.2.3" }, "Panelcast's versions start at 4.0.0"},
		{"no executable", func(o *options) { o.Platforms = append(o.Platforms, platform{"linux", "arm"}) }, "executable for linux/arm"},
		{"no platform", func(o *options) { o.Platforms = nil }, "give -platforms"},
		{"no logo", func(o *options) { o.ImgDir = t.TempDir() }, `logo "img/logo.svg"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := fakeTree(t)
			c.change(&o)
			_, err := build(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if zips, _ := filepath.Glob(filepath.Join(o.Dist, "*.zip*")); len(zips) > 0 {
				t.Errorf("a refused run left %v", zips)
			}
		})
	}
}

// TestRepoPlugin packages the repository's own manifest, README, license and
// logo around a stand-in executable, so a broken plugin.json or a missing
// logo fails here rather than in Grafana.
func TestRepoPlugin(t *testing.T) {
	root := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pj struct {
		Type         string `json:"type"`
		ID           string `json:"id"`
		Backend      bool   `json:"backend"`
		Executable   string `json:"executable"`
		Info         struct{ Version, Updated string }
		Dependencies struct {
			GrafanaDependency string `json:"grafanaDependency"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pj); err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	if pj.Type != "renderer" || pj.ID != "panelcast-renderer" || !pj.Backend || pj.Executable != "gpx_panelcast" {
		t.Errorf("plugin.json identity: %+v", pj)
	}
	if pj.Info.Version != "%VERSION%" || pj.Info.Updated != "%TODAY%" {
		t.Errorf("plugin.json must keep the placeholders, got version %q updated %q", pj.Info.Version, pj.Info.Updated)
	}
	if pj.Dependencies.GrafanaDependency != ">=9.0.0 <13.0.0" {
		t.Errorf("grafanaDependency %q", pj.Dependencies.GrafanaDependency)
	}

	dist := t.TempDir()
	if err := os.WriteFile(filepath.Join(dist, "gpx_panelcast_linux_amd64"), []byte(fakeExe), 0o755); err != nil {
		t.Fatal(err)
	}
	outs, err := build(options{
		Version:    "4.0.0-3-gabc1234-dirty",
		Date:       time.Now().UTC(),
		PluginJSON: filepath.Join(root, "plugin.json"),
		Dist:       dist,
		Platforms:  []platform{{"linux", "amd64"}},
		Readme:     filepath.Join(root, "src", "README.md"),
		Changelog:  filepath.Join(root, "CHANGELOG.md"),
		License:    filepath.Join(root, "LICENSE"),
		ImgDir:     filepath.Join(root, "src", "img"),
		Launcher:   "plugin_start",
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(outs[0]) != "panelcast-renderer-4.0.0-3-gabc1234-dirty.linux_amd64.zip" {
		t.Errorf("zip name %q", filepath.Base(outs[0]))
	}
	files := openZip(t, outs[0])
	for _, n := range []string{"plugin.json", "gpx_panelcast_linux_amd64", "plugin_start_linux_amd64", "README.md", "CHANGELOG.md", "LICENSE", "img/logo.svg"} {
		if files["panelcast-renderer/"+n] == nil {
			t.Errorf("missing panelcast-renderer/%s", n)
		}
	}
}

// A build between tags is called 4.0.0-3-gabc1234-dirty; Grafana's semver
// gates (full height >= 3.4.0, SVG sanitising >= 3.5.0, PDF >= 3.10.0)
// refuse every pre-release, so plugin.json must say 4.0.0. The archive's
// name keeps the build details.
func TestPluginJSONVersionIsPlain(t *testing.T) {
	for _, release := range []string{"4.0.0-3-gabc1234-dirty", "4.2.0-rc.1", "4.1.0+build.7"} {
		t.Run(release, func(t *testing.T) {
			o := fakeTree(t)
			o.Version = release
			outs, err := build(o)
			if err != nil {
				t.Fatal(err)
			}
			if want := "test-renderer-" + release + ".linux_amd64.zip"; filepath.Base(outs[0]) != want {
				t.Errorf("zip %q, want %q", filepath.Base(outs[0]), want)
			}
			var m manifest
			if err := json.Unmarshal(readMember(t, openZip(t, outs[0])["test-renderer/plugin.json"]), &m); err != nil {
				t.Fatal(err)
			}
			v, err := semver.NewVersion(m.Info.Version)
			if err != nil || v.Prerelease() != "" || v.Metadata() != "" || v.Original() != v.String() {
				t.Fatalf("plugin.json version %q is not plain MAJOR.MINOR.PATCH (%v)", m.Info.Version, err)
			}
			for _, gate := range []string{">= 3.4.0", ">= 3.5.0", ">= 3.10.0"} {
				if c, _ := semver.NewConstraint(gate); !c.Check(v) {
					t.Errorf("plugin.json version %s fails Grafana's gate %s", v, gate)
				}
			}
		})
	}
}
