package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The checks below are the plugin validator's (github.com/grafana/plugin-validator,
// pkg/analysis/passes, at a7e38aae) that apply to an unpacked archive, one
// helper per analyzer, so a zip that passes here passes those there.

var (
	exeOnce sync.Once
	exePath string
	exeErr  error
)

// realExecutable builds the Panelcast binary once (go build ./pkg, as make
// build does), so the archives carry the real program, not a stand-in.
func realExecutable(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the panelcast binary")
	}
	exeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "package-exe-")
		if err != nil {
			exeErr = err
			return
		}
		exePath = filepath.Join(dir, "panelcast")
		cmd := exec.Command("go", "build", "-trimpath", "-o", exePath, "./pkg")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			exeErr = err
			t.Logf("go build: %s", out)
		}
	})
	if exeErr != nil {
		t.Fatalf("go build ./pkg: %v", exeErr)
	}
	return exePath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if exePath != "" {
		os.RemoveAll(filepath.Dir(exePath))
	}
	os.Exit(code)
}

// fakeFrontend writes what make frontend leaves in dist: plugin.json filled
// in for version, module.js, module.js.map and img/.
func fakeFrontend(t *testing.T, dist, version string) {
	t.Helper()
	pj := strings.NewReplacer("%VERSION%", version, "%TODAY%", "2026-12-08").Replace(string(repoAppManifest(t)))
	for name, body := range map[string]string{
		"plugin.json":   pj,
		"module.js":     "define([],function(){return {}});\n//# sourceMappingURL=module.js.map\n",
		"module.js.map": `{"version":3,"sources":[],"mappings":""}`,
		"img/logo.svg":  "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
	} {
		p := filepath.Join(dist, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyExe puts exe into dist as name with mode 0644: the archive must make
// it executable whatever its mode before packaging.
func copyExe(t *testing.T, exe, dist, name string) {
	t.Helper()
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBothArchives builds the renderer's and the app's zip the way make
// package does (the repository's manifests, README, CHANGELOG, LICENSE and
// logo; a fake frontend build; the real binary under both executable
// names), unpacks each and runs the validator's archive checks on it.
func TestBothArchives(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs Unix modes")
	}
	exe := realExecutable(t)
	root := filepath.Join("..", "..")
	dist := t.TempDir()
	const version = "4.1.0-2-gabc1234"
	fakeFrontend(t, dist, "4.1.0")
	copyExe(t, exe, dist, "gpx_panelcast_linux_amd64")
	copyExe(t, exe, dist, "gpx_panelcast_app_linux_amd64")

	common := []string{
		"-version", version, "-date", "2026-12-08", "-dist", dist,
		"-changelog", filepath.Join(root, "CHANGELOG.md"), "-license", filepath.Join(root, "LICENSE"),
	}
	var out bytes.Buffer
	renderer := append([]string{
		"-plugin-json", filepath.Join(root, "plugin.json"), "-readme", filepath.Join(root, "src", "README.md"),
		"-img", filepath.Join(root, "src", "img"),
	}, common...)
	if err := run(renderer, &out); err != nil {
		t.Fatalf("renderer: %v", err)
	}
	app := append([]string{"-frontend", dist, "-readme", "app-README.md"}, common...)
	if err := run(app, &out); err != nil {
		t.Fatalf("app: %v", err)
	}

	for _, c := range []struct {
		id, zip, exe string
		anyID        bool // the schema's id pattern allows no renderer
		moduleJS     bool
	}{
		{"panelcast-renderer", "panelcast-renderer-" + version + ".linux-amd64.zip", "gpx_panelcast", true, false},
		{"panelcast-app", "panelcast-app-" + version + ".linux-amd64.zip", "gpx_panelcast_app", false, true},
	} {
		t.Run(c.id, func(t *testing.T) {
			zipPath := filepath.Join(dist, c.zip)
			if !strings.Contains(out.String(), zipPath) {
				t.Errorf("package did not print %s:\n%s", zipPath, out.String())
			}
			plugins := t.TempDir()
			unzip(t, zipPath, plugins)
			dir := checkArchive(t, plugins, c.id)
			m := checkMetadata(t, dir, compileSchema(t, []byte(pluginSchema), c.anyID))
			if m.Executable != c.exe || m.Info.Version != "4.1.0" {
				t.Errorf("plugin.json: executable %q version %q", m.Executable, m.Info.Version)
			}
			bin := checkBackendBinary(t, dir, m)
			checkBinaryPermissions(t, dir, m)
			checkModuleJS(t, dir, c.moduleJS)
			checkLogoPaths(t, dir, m)
			checkReadmeChangelogLicense(t, dir)

			// The real program starts from where Grafana would start it.
			got, err := exec.Command(bin, "version").Output()
			if err != nil || !strings.HasPrefix(string(got), "panelcast ") {
				t.Errorf("%s version: %q, %v", bin, got, err)
			}
		})
	}
}

// unzip extracts like grafana-cli: members keep their Unix modes, links
// stay links, nothing may leave dest.
func unzip(t *testing.T, zipPath, dest string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if path.IsAbs(f.Name) || strings.Contains(f.Name, "..") || strings.Contains(f.Name, `\`) {
			t.Fatalf("member %q escapes the plugins folder", f.Name)
		}
		dst := filepath.Join(dest, filepath.FromSlash(f.Name))
		switch {
		case f.Mode().IsDir():
			if err := os.MkdirAll(dst, f.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		case f.Mode()&fs.ModeSymlink != 0:
			target := string(readMember(t, f))
			if path.IsAbs(target) || strings.Contains(target, "..") {
				t.Fatalf("link %q points outside the plugin: %q", f.Name, target)
			}
			if err := os.Symlink(target, dst); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, readMember(t, f), f.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkArchive is the archive analyzer: exactly one entry, a folder (here
// also named after the plugin id, as grafana-cli installs it), with no
// legacy dist/ inside. It returns that folder.
func checkArchive(t *testing.T, unpacked, id string) string {
	t.Helper()
	fis, err := os.ReadDir(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	if len(fis) != 1 || !fis[0].IsDir() || fis[0].Name() != id {
		var names []string
		for _, fi := range fis {
			names = append(names, fi.Name())
		}
		t.Fatalf("archive root holds %v, want the one folder %s/", names, id)
	}
	dir := filepath.Join(unpacked, id)
	if _, err := os.Stat(filepath.Join(dir, "dist")); err == nil {
		t.Errorf("%s/dist exists: the validator wants its content at the root", id)
	}
	return dir
}

// checkMetadata is the metadata and metadatavalid analyzers: plugin.json
// is there, parses, and validates against the schema; its id is the
// folder's.
func checkMetadata(t *testing.T, dir string, s *jsonschema.Schema) manifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("plugin.json does not validate: %v", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != filepath.Base(dir) {
		t.Errorf("plugin.json id %q in folder %s", m.ID, filepath.Base(dir))
	}
	if bytes.Contains(raw, []byte("%VERSION%")) || bytes.Contains(raw, []byte("%TODAY%")) {
		t.Errorf("placeholder left in plugin.json")
	}
	return m
}

// checkBackendBinary is the backendbinary analyzer: backend and executable
// go together, and <executable>_linux_amd64 is there. It returns its path.
func checkBackendBinary(t *testing.T, dir string, m manifest) string {
	t.Helper()
	if !m.Backend || m.Executable == "" {
		t.Fatalf("backend %v executable %q: a backend plugin needs both", m.Backend, m.Executable)
	}
	bin := filepath.Join(dir, filepath.FromSlash(m.Executable)+"_linux_amd64")
	fi, err := os.Lstat(bin)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("no regular file %s for linux/amd64: %v", filepath.Base(bin), err)
	}
	return bin
}

// checkBinaryPermissions is the binarypermissions analyzer: every regular
// file next to plugin.json whose name starts with the executable's is 0755.
func checkBinaryPermissions(t *testing.T, dir string, m manifest) {
	t.Helper()
	parent := filepath.Join(dir, filepath.Dir(filepath.FromSlash(m.Executable)))
	found := 0
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), filepath.Base(m.Executable)) {
			return err
		}
		found++
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %04o, the validator wants 0755", d.Name(), fi.Mode().Perm())
		}
		return nil
	})
	if err != nil || found == 0 {
		t.Errorf("binaries for %s: %d found, %v", m.Executable, found, err)
	}
}

// checkModuleJS is the modulejs and jssourcemap analyzers for a plugin with
// a frontend: module.js, with module.js.map beside it. The renderer has no
// frontend and ships none.
func checkModuleJS(t *testing.T, dir string, want bool) {
	t.Helper()
	for _, f := range []string{"module.js", "module.js.map"} {
		_, err := os.Stat(filepath.Join(dir, f))
		if want && err != nil {
			t.Errorf("no %s: %v", f, err)
		}
		if !want && err == nil {
			t.Errorf("%s in a plugin without a frontend", f)
		}
	}
}

// checkLogoPaths is the logos and metadatapaths analyzers: both logos named,
// relative, not starting with . or /, and present.
func checkLogoPaths(t *testing.T, dir string, m manifest) {
	t.Helper()
	for kind, p := range map[string]string{"small": m.Info.Logos.Small, "large": m.Info.Logos.Large} {
		u, err := url.Parse(p)
		switch {
		case strings.TrimSpace(p) == "":
			t.Errorf("%s logo: empty", kind)
		case err != nil || u.IsAbs():
			t.Errorf("%s logo %q: not a relative path", kind, p)
		case strings.HasPrefix(p, ".") || strings.HasPrefix(p, "/"):
			t.Errorf("%s logo %q starts with . or /", kind, p)
		default:
			if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil || fi.Size() == 0 {
				t.Errorf("%s logo %q: %v", kind, p, err)
			}
		}
	}
}

// checkReadmeChangelogLicense is the readme, changelog and license
// analyzers: README.md and CHANGELOG.md not empty, README without HTML
// comments, LICENSE without the Apache template's placeholders. (The
// validator also identifies the license with go-license-detector; our
// LICENSE is the Apache 2.0 text.)
func checkReadmeChangelogLicense(t *testing.T, dir string) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("no %s: %v", name, err)
		} else if len(bytes.TrimSpace(b)) == 0 {
			t.Errorf("%s is empty", name)
		}
		return string(b)
	}
	if readme := read("README.md"); regexp.MustCompile(`<!--(.*?)-->`).MatchString(readme) {
		t.Errorf("README.md has an HTML comment")
	}
	read("CHANGELOG.md")
	license := read("LICENSE")
	if strings.Contains(license, "{name of copyright owner}") || strings.Contains(license, "{yyyy}") {
		t.Errorf("LICENSE has the template's placeholders")
	}
	if !strings.Contains(license, "Apache License") {
		t.Errorf("LICENSE is not the Apache License")
	}
}

// TestAppArchiveRefusals: without a frontend build, or with an app
// manifest packaged as if it had none, no zip is written.
func TestAppArchiveRefusals(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, o *options)
		want   string
	}{
		{"no frontend build", func(t *testing.T, o *options) { o.Frontend = t.TempDir() }, "run make frontend first"},
		{"no module.js", func(t *testing.T, o *options) {
			if err := os.Remove(filepath.Join(o.Frontend, "module.js")); err != nil {
				t.Fatal(err)
			}
		}, "no module.js (the app's frontend build): run make frontend first"},
		{"frontend of another version", func(t *testing.T, o *options) { o.Version = "4.2.0" }, "run make frontend again"},
		{"app manifest without -frontend", func(t *testing.T, o *options) {
			o.PluginJSON = filepath.Join(o.Frontend, "plugin.json")
			o.Frontend = ""
		}, "package the frontend build with -frontend"},
		{"no CHANGELOG", func(t *testing.T, o *options) { o.Changelog = filepath.Join(o.Dist, "CHANGELOG.md") }, "CHANGELOG.md"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := fakeTree(t)
			o.Frontend = filepath.Join(t.TempDir(), "dist")
			fakeFrontend(t, o.Frontend, "4.2.3")
			if err := os.WriteFile(filepath.Join(o.Dist, "gpx_panelcast_app_linux_amd64"), []byte(fakeExe), 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := build(o); err != nil {
				t.Fatalf("the unchanged tree fails: %v", err)
			}
			for _, z := range mustGlob(t, filepath.Join(o.Dist, "*.zip")) {
				os.Remove(z)
			}
			c.change(t, &o)
			_, err := build(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if zips := mustGlob(t, filepath.Join(o.Dist, "*.zip")); len(zips) > 0 {
				t.Errorf("a refused run left %v", zips)
			}
		})
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The app archive's members, for a reader of this file: what make package
// puts in panelcast-app/.
func TestAppArchiveMembers(t *testing.T) {
	o := fakeTree(t)
	o.Frontend = filepath.Join(t.TempDir(), "dist")
	o.Date = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	fakeFrontend(t, o.Frontend, "4.2.3")
	if err := os.WriteFile(filepath.Join(o.Dist, "gpx_panelcast_app_linux_amd64"), []byte(fakeExe), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(out) != "panelcast-app-4.2.3.linux-amd64.zip" {
		t.Errorf("zip %q", filepath.Base(out))
	}
	files := openZip(t, out)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	want := []string{
		"panelcast-app/",
		"panelcast-app/CHANGELOG.md",
		"panelcast-app/LICENSE",
		"panelcast-app/README.md",
		"panelcast-app/gpx_panelcast_app_linux_amd64",
		"panelcast-app/img/",
		"panelcast-app/img/logo.svg",
		"panelcast-app/module.js",
		"panelcast-app/module.js.map",
		"panelcast-app/plugin.json",
	}
	sort.Strings(names)
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("members:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if m := files["panelcast-app/gpx_panelcast_app_linux_amd64"].Mode(); !m.IsRegular() || m.Perm() != 0o755 {
		t.Errorf("executable mode %v, want -rwxr-xr-x", m)
	}
}
