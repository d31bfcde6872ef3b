package main

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// The checks below are the plugin validator's (github.com/grafana/plugin-validator,
// pkg/analysis/passes, at a7e38aae) that apply to an unpacked archive, one
// helper per analyzer, so a zip that passes here passes those there.

// rendererPlatforms and appPlatforms are what make package builds: the
// renderer where Debian has a Chromium, the app wherever Grafana runs.
var (
	rendererPlatforms = []platform{{"linux", "amd64"}, {"linux", "arm64"}, {"linux", "arm"}}
	appPlatforms      = append(slices.Clone(rendererPlatforms), platform{"darwin", "amd64"}, platform{"darwin", "arm64"}, platform{"windows", "amd64"})
)

// testVersion is what the test's executables say they are.
const testVersion = "4.1.0-2-gabc1234"

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// crossBuilt builds the Panelcast binary once per platform of appPlatforms
// as the SDK's mage targets do (CGO off, so modernc's SQLite and all else
// is pure Go; ARM v7; no debug information), so the archives carry the real
// program. The first run compiles for six platforms (minutes); later runs
// take Go's build cache and only link (seconds each).
func crossBuilt(t *testing.T) map[platform]string {
	t.Helper()
	if testing.Short() {
		t.Skip("cross-builds the panelcast binary for six platforms")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "package-exe-"); buildErr != nil {
			return
		}
		for _, p := range appPlatforms {
			cmd := exec.Command("go", "build", "-trimpath", "-tags", "arrow_json_stdlib",
				"-ldflags", "-w -s -X github.com/panelcast/panelcast/pkg/buildinfo.Version="+testVersion,
				"-o", filepath.Join(buildDir, p.OS+"_"+p.Arch), "./pkg")
			cmd.Dir = filepath.Join("..", "..")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOARM=7")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./pkg for %s: %w\n%s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	exes := map[platform]string{}
	for _, p := range appPlatforms {
		exes[p] = filepath.Join(buildDir, p.OS+"_"+p.Arch)
	}
	return exes
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
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

// TestReleaseArchives builds the renderer's and the app's zips the way make
// package does (the repository's manifests, README, CHANGELOG, LICENSE and
// logo; a fake frontend build; the real binary for every platform under
// both executable names), checks each zip's .sha256 with sha256sum, unpacks
// it and runs the validator's archive checks on it, then starts its Linux
// executables: natively, or under qemu-user for ARM.
func TestReleaseArchives(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 executables natively and the ARM ones under qemu-user")
	}
	exes := crossBuilt(t)
	root := filepath.Join("..", "..")
	dist := t.TempDir()
	fakeFrontend(t, dist, "4.1.0")
	for _, p := range appPlatforms {
		copyExe(t, exes[p], dist, executableName("gpx_panelcast_app", p.OS, p.Arch))
		if slices.Contains(rendererPlatforms, p) {
			copyExe(t, exes[p], dist, executableName("gpx_panelcast", p.OS, p.Arch))
		}
	}

	common := []string{
		"-version", testVersion, "-date", "2026-12-08", "-dist", dist,
		"-changelog", filepath.Join(root, "CHANGELOG.md"), "-license", filepath.Join(root, "LICENSE"),
	}
	var out bytes.Buffer
	renderer := append([]string{
		"-plugin-json", filepath.Join(root, "plugin.json"), "-readme", filepath.Join(root, "src", "README.md"),
		"-img", filepath.Join(root, "src", "img"), "-platforms", "linux/amd64,linux/arm64,linux/arm",
	}, common...)
	if err := run(renderer, &out); err != nil {
		t.Fatalf("renderer: %v", err)
	}
	app := append([]string{"-frontend", dist, "-readme", "app-README.md",
		"-platforms", "linux/amd64,linux/arm64,linux/arm,darwin/amd64,darwin/arm64,windows/amd64"}, common...)
	if err := run(app, &out); err != nil {
		t.Fatalf("app: %v", err)
	}

	type archive struct {
		id, zip, exe string
		platforms    []platform
		anyID        bool // the schema's id pattern allows no renderer
		moduleJS     bool
	}
	var archives []archive
	for _, c := range []archive{
		{id: "panelcast-renderer", exe: "gpx_panelcast", platforms: rendererPlatforms, anyID: true},
		{id: "panelcast-app", exe: "gpx_panelcast_app", platforms: appPlatforms, moduleJS: true},
	} {
		for _, p := range c.platforms {
			one := c
			one.zip, one.platforms = fmt.Sprintf("%s-%s.%s_%s.zip", c.id, testVersion, p.OS, p.Arch), []platform{p}
			archives = append(archives, one)
		}
		c.zip = c.id + "-" + testVersion + ".zip"
		archives = append(archives, c)
	}
	printed := strings.Fields(out.String())
	if len(printed) != len(archives) {
		t.Errorf("package printed %d archives, want %d:\n%s", len(printed), len(archives), out.String())
	}

	for _, c := range archives {
		t.Run(c.zip, func(t *testing.T) {
			zipPath := filepath.Join(dist, c.zip)
			if !slices.Contains(printed, zipPath) {
				t.Errorf("package did not print %s:\n%s", zipPath, out.String())
			}
			// The README's check of a download.
			check := exec.Command("sha256sum", "-c", c.zip+".sha256")
			check.Dir = dist
			if got, err := check.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != c.zip+": OK" {
				t.Errorf("sha256sum -c %s.sha256: %s %v", c.zip, got, err)
			}
			plugins := t.TempDir()
			unzip(t, zipPath, plugins)
			dir := checkArchive(t, plugins, c.id)
			m := checkMetadata(t, dir, compileSchema(t, []byte(pluginSchema), c.anyID))
			if m.Executable != c.exe || m.Info.Version != "4.1.0" {
				t.Errorf("plugin.json: executable %q version %q", m.Executable, m.Info.Version)
			}
			bins := checkBackendBinaries(t, dir, m, c.platforms)
			checkBinaryPermissions(t, dir, m)
			checkModuleJS(t, dir, c.moduleJS)
			checkLogoPaths(t, dir, m)
			checkReadmeChangelogLicense(t, dir)
			checkUnzip(t, zipPath, m, c.platforms)

			for _, p := range c.platforms {
				if p.OS != "linux" {
					continue
				}
				bin := bins[p]
				if m.Type == "renderer" {
					bin = checkLauncher(t, dir, p, bin)
				}
				// The real program starts from where Grafana would start it.
				args := emulated(t, p, bin)
				got, err := exec.Command(args[0], args[1:]...).Output()
				if want := fmt.Sprintf("panelcast %s (", testVersion); err != nil || !strings.HasPrefix(string(got), want) ||
					!strings.Contains(string(got), p.OS+"/"+p.Arch+")") {
					t.Errorf("%s version: %q, %v; want %s... %s)", p, got, err, want, p)
				}
				if m.Type == "renderer" && len(c.platforms) == 1 {
					checkHandshakeWithoutChromium(t, p, bin)
				}
			}
		})
	}
}

// checkUnzip is the README's other way in: Info-ZIP's unzip into the
// plugins folder keeps the run bits and the renderer's launcher links.
func checkUnzip(t *testing.T, zipPath string, m manifest, platforms []platform) {
	t.Helper()
	if _, err := exec.LookPath("unzip"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("unzip not found: apt-get install unzip")
		}
		t.Log("unzip not found (apt-get install unzip): the README's unzip way is not checked")
		return
	}
	plugins := t.TempDir()
	if out, err := exec.Command("unzip", "-q", zipPath, "-d", plugins).CombinedOutput(); err != nil {
		t.Fatalf("unzip %s: %v\n%s", filepath.Base(zipPath), err, out)
	}
	dir := filepath.Join(plugins, m.ID)
	checkBinaryPermissions(t, dir, m)
	if m.Type == "renderer" {
		for _, p := range platforms {
			checkLauncher(t, dir, p, executableName(m.Executable, p.OS, p.Arch))
		}
	}
}

// emulated is the command line that runs bin's `version` on this amd64
// machine: natively, or under Debian's qemu-user-static for ARM.
func emulated(t *testing.T, p platform, bin string) []string {
	t.Helper()
	emu := qemu(t, p)
	if emu == "" {
		return []string{bin, "version"}
	}
	return []string{emu, bin, "version"}
}

// qemu is the qemu-user emulator for p, "" for the machine's own platform.
// CI must have it (.ci/run installs qemu-user-static); elsewhere its lack
// skips the test.
func qemu(t *testing.T, p platform) string {
	t.Helper()
	name := map[string]string{"arm64": "qemu-aarch64-static", "arm": "qemu-arm-static"}[p.Arch]
	if name == "" {
		return ""
	}
	emu, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: apt-get install qemu-user-static", name)
		}
		t.Skipf("%s not found (apt-get install qemu-user-static): cannot run the %s executable", name, p)
	}
	return emu
}

// checkHandshakeWithoutChromium starts the renderer as Grafana does, with a
// PATH that holds no browser: the go-plugin handshake completes (under
// qemu-user for ARM), the start log says which package to install, and so
// does the health check Grafana's plugin page shows.
func checkHandshakeWithoutChromium(t *testing.T, p platform, launcher string) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: launcher, Emulator: qemu(t, p), Arch: p.Arch,
		PluginID: "panelcast-renderer", PluginVersion: "4.1.0", GrafanaVersion: "12.1.0",
		AppURL: "http://127.0.0.1:3000", DataPath: t.TempDir(), Stderr: logs,
		ExtraEnv: []string{"PATH=" + t.TempDir(), "PANELCAST_CHROMIUM="},
	})
	if err != nil {
		t.Fatalf("%s: go-plugin handshake: %v\nplugin log:\n%s", p, err, logs)
	}
	defer h.Kill()
	install := installHint(t)
	rsp, err := h.CheckHealth(context.Background())
	if err != nil || rsp.Status != pluginv2.CheckHealthResponse_ERROR || !strings.Contains(rsp.Message, install) {
		t.Errorf("%s: health without Chromium: %v %v, want an error naming %q", p, rsp, err, install)
	}
	if !strings.Contains(logs.String(), "renderer did not start") || !strings.Contains(logs.String(), install) {
		t.Errorf("%s: the start log does not say to install Chromium (%q):\n%s", p, install, logs)
	}
}

// installHint is the install command the plugin names on this machine, as
// pkg/render words it ("apt-get install chromium" on Debian).
func installHint(t *testing.T) string {
	t.Helper()
	msg := render.ErrNoChromium.Error()
	start, end := strings.Index(msg, "install it ("), strings.Index(msg, ")")
	if start < 0 || end < start {
		t.Fatalf("render.ErrNoChromium names no install command: %q", msg)
	}
	return msg[start+len("install it (") : end]
}

// checkLauncher is Grafana 9–12's start of a renderer: plugin_start_<os>_<arch>,
// a link to the executable. It returns the launcher's path.
func checkLauncher(t *testing.T, dir string, p platform, bin string) string {
	t.Helper()
	l := filepath.Join(dir, executableName("plugin_start", p.OS, p.Arch))
	target, err := os.Readlink(l)
	if err != nil || target != filepath.Base(bin) {
		t.Errorf("%s: launcher %s -> %q (%v), want the executable %s", p, filepath.Base(l), target, err, filepath.Base(bin))
	}
	return l
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

// checkBackendBinaries is the backendbinary analyzer: backend and
// executable go together, and the archive's executables are a Go program
// for each of its platforms (by their build information, as the analyzer
// reads it), and for no other; an archive with more than one platform
// holds linux/amd64, which the analyzer requires. It returns their paths.
func checkBackendBinaries(t *testing.T, dir string, m manifest, want []platform) map[platform]string {
	t.Helper()
	if !m.Backend || m.Executable == "" {
		t.Fatalf("backend %v executable %q: a backend plugin needs both", m.Backend, m.Executable)
	}
	found, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(m.Executable)+"_*"))
	if err != nil || len(found) != len(want) {
		t.Errorf("executables %v (%v), want one for each of %v", found, err, want)
	}
	bins := map[platform]string{}
	for _, p := range want {
		bin := filepath.Join(dir, executableName(filepath.FromSlash(m.Executable), p.OS, p.Arch))
		if fi, err := os.Lstat(bin); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("no regular file %s for %s: %v", filepath.Base(bin), p, err)
		}
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatalf("%s: no Go build information: %v", filepath.Base(bin), err)
		}
		got := map[string]string{}
		for _, s := range info.Settings {
			got[s.Key] = s.Value
		}
		if got["GOOS"] != p.OS || got["GOARCH"] != p.Arch || got["CGO_ENABLED"] != "0" || (p.Arch == "arm" && got["GOARM"] != "7") {
			t.Errorf("%s is built for %s/%s (GOARM %q, CGO_ENABLED %q), want %s, ARM v7, CGO off",
				filepath.Base(bin), got["GOOS"], got["GOARCH"], got["GOARM"], got["CGO_ENABLED"], p)
		}
		bins[p] = bin
	}
	if len(want) > 1 && bins[platform{"linux", "amd64"}] == "" {
		t.Errorf("the archive for %v has no linux/amd64 executable, which the validator requires", want)
	}
	return bins
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
			for _, z := range mustGlob(t, filepath.Join(o.Dist, "*.zip*")) {
				os.Remove(z)
			}
			c.change(t, &o)
			_, err := build(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if zips := mustGlob(t, filepath.Join(o.Dist, "*.zip*")); len(zips) > 0 {
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
	outs, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(outs[0]) != "panelcast-app-4.2.3.linux_amd64.zip" {
		t.Errorf("zip %q", filepath.Base(outs[0]))
	}
	files := openZip(t, outs[0])
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
