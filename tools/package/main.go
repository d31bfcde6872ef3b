// Command package writes Grafana plugin archives, the renderer's or the
// app's, one per platform and one with every platform's executable, named
// as Grafana's own plugins name them, each with a SHA-256 beside it:
//
//	go run ./tools/package -version 4.1.0 -platforms linux/amd64,linux/arm64,linux/arm
//	go run ./tools/package -version 4.1.0 -frontend dist -readme tools/package/app-README.md -platforms ...
//
//	dist/panelcast-renderer-4.1.0.linux_arm64.zip         (one platform)
//	dist/panelcast-renderer-4.1.0.linux_arm64.zip.sha256  (sha256sum -c reads it)
//	dist/panelcast-renderer-4.1.0.zip                     (every platform)
//
// Each zip holds exactly one folder named after the plugin id, because
// grafana-cli replaces an archive's first path component with the plugin id
// when it unpacks, and files at the archive root would land beside the
// plugins instead of in one:
//
//	panelcast-renderer/plugin.json                (%VERSION%: MAJOR.MINOR.PATCH; %TODAY%)
//	panelcast-renderer/gpx_panelcast_linux_amd64  (mode 0755; one per platform)
//	panelcast-renderer/plugin_start_linux_amd64   (symlink to the above)
//	panelcast-renderer/README.md, CHANGELOG.md, LICENSE, img/...
//
//	panelcast-app/plugin.json, module.js, module.js.map, img/...  (from -frontend)
//	panelcast-app/gpx_panelcast_app_linux_amd64   (mode 0755)
//	panelcast-app/README.md, CHANGELOG.md, LICENSE
//
// With -frontend the manifest, module.js and the images come from the
// frontend build (make frontend writes them into dist/), which this tool
// never runs; without it a manifest that needs a module.js (app, panel,
// data source) is refused.
//
// The plugin_start_<os>_<arch> link exists because Grafana 9–12 start a
// renderer plugin under that fixed name and ignore plugin.json's
// "executable"; data source tooling (the SDK's mage targets, plugin
// validators) uses the "executable" name. A link keeps one copy of the binary.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/buildinfo"
)

// options says where the parts of the archive come from.
type options struct {
	Version    string // release version, semver 2.0 (build details allowed)
	Date       time.Time
	PluginJSON string // manifest with %VERSION% / %TODAY% placeholders
	Dist       string // folder holding <executable>_<os>_<arch>; the zips go there too
	Platforms  []platform
	Readme     string
	Changelog  string
	License    string
	ImgDir     string // copied to img/
	Frontend   string // frontend build: plugin.json, module.js[.map], img/; replaces PluginJSON and ImgDir
	Launcher   string // renderer launch name ("plugin_start"); empty: no link
}

// platform is a GOOS/GOARCH pair the plugin ships for.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// parsePlatforms reads "linux/amd64,linux/arm64".
func parsePlatforms(s string) ([]platform, error) {
	var ps []platform
	for _, f := range strings.Split(s, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
			return nil, fmt.Errorf("-platforms: %q is not GOOS/GOARCH (e.g. linux/arm64)", f)
		}
		p := platform{goos, goarch}
		if slices.Contains(ps, p) {
			return nil, fmt.Errorf("-platforms: %s is listed twice", p)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("package", flag.ContinueOnError)
	o := options{}
	fl.StringVar(&o.Version, "version", "", "release version, e.g. 4.1.0 or 4.1.0-3-gabc1234 (required); plugin.json gets MAJOR.MINOR.PATCH")
	date := fl.String("date", "", "release date YYYY-MM-DD for %TODAY% (default: SOURCE_DATE_EPOCH, else today, UTC)")
	fl.StringVar(&o.PluginJSON, "plugin-json", "plugin.json", "plugin manifest")
	fl.StringVar(&o.Dist, "dist", "dist", "folder with the built executables")
	platforms := fl.String("platforms", "linux/amd64", "comma-separated GOOS/GOARCH list; one zip each and one with all")
	fl.StringVar(&o.Readme, "readme", "src/README.md", "README shown on Grafana's plugin page")
	fl.StringVar(&o.Changelog, "changelog", "CHANGELOG.md", "changelog file")
	fl.StringVar(&o.License, "license", "LICENSE", "license file")
	fl.StringVar(&o.Frontend, "frontend", "", "the frontend build (make frontend: dist) whose plugin.json, module.js, module.js.map and img/ are packaged; replaces -plugin-json and -img")
	fl.StringVar(&o.ImgDir, "img", "src/img", "folder copied to img/ (logos)")
	fl.StringVar(&o.Launcher, "launcher", "plugin_start", `name Grafana starts renderer plugins under; "" for none`)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	var err error
	if o.Date, err = releaseDate(*date); err != nil {
		return err
	}
	if o.Platforms, err = parsePlatforms(*platforms); err != nil {
		return err
	}
	outs, err := build(o)
	if err != nil {
		return err
	}
	for _, out := range outs {
		fmt.Fprintln(stdout, out)
	}
	return nil
}

// releaseDate honours SOURCE_DATE_EPOCH so a rebuild of a tag gives the same
// manifest and zip timestamps.
func releaseDate(s string) (time.Time, error) {
	if s != "" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return time.Time{}, fmt.Errorf("-date %q: want YYYY-MM-DD", s)
		}
		return t, nil
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		sec, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: not a Unix time", e)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC(), nil
}

// manifest is the part of plugin.json the packager checks.
type manifest struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Backend    bool   `json:"backend"`
	Executable string `json:"executable"`
	Info       struct {
		Version string `json:"version"`
		Updated string `json:"updated"`
		Logos   struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
	} `json:"info"`
}

// entry is one member of the archive, relative to the plugin folder.
type entry struct {
	name    string
	data    []byte
	mode    fs.FileMode
	symlink string // target, for links
}

// build writes the archives and their checksums and returns the archives'
// paths, each platform's and then the one with all: the manifest filled in
// with the version, the files it names, and a check that its logos are
// among them. Every executable is read before the first zip is written,
// so a missing one leaves no archive behind.
func build(o options) ([]string, error) {
	plain, err := manifestVersion(o.Version)
	if err != nil {
		return nil, err
	}
	if len(o.Platforms) == 0 {
		return nil, errors.New("no platforms to package: give -platforms, e.g. linux/amd64")
	}
	var front []entry
	if o.Frontend != "" {
		if front, err = frontendEntries(o.Frontend); err != nil {
			return nil, err
		}
		o.PluginJSON = filepath.Join(o.Frontend, "plugin.json")
		o.ImgDir = filepath.Join(o.Frontend, "img")
	}
	filled, m, err := readManifest(o, plain)
	if err != nil {
		return nil, err
	}
	if m.Type != "renderer" && front == nil {
		return nil, fmt.Errorf("%s: a %s plugin needs its module.js: package the frontend build with -frontend", o.PluginJSON, m.Type)
	}
	common, err := commonEntries(o, filled)
	if err != nil {
		return nil, err
	}
	common = append(common, front...)
	perPlatform := make([][]entry, len(o.Platforms))
	var all []entry
	for i, p := range o.Platforms {
		if perPlatform[i], err = executableEntries(o, m, p); err != nil {
			return nil, err
		}
		all = append(all, perPlatform[i]...)
	}
	if err := checkLogos(o.PluginJSON, m, append(common, all...)); err != nil {
		return nil, err
	}
	var outs []string
	for i, p := range o.Platforms {
		outs = append(outs, filepath.Join(o.Dist, fmt.Sprintf("%s-%s.%s_%s.zip", m.ID, o.Version, p.OS, p.Arch)))
		if err := writeZip(outs[i], m.ID, o.Date, append(slices.Clone(common), perPlatform[i]...)); err != nil {
			return nil, err
		}
	}
	outs = append(outs, filepath.Join(o.Dist, fmt.Sprintf("%s-%s.zip", m.ID, o.Version)))
	if err := writeZip(outs[len(outs)-1], m.ID, o.Date, append(common, all...)); err != nil {
		return nil, err
	}
	return outs, nil
}

// manifestVersion is the version plugin.json gets. Grafana compares it
// with semver constraints (full height >= 3.4.0, PDF >= 3.10.0) that no
// pre-release passes, so the manifest gets the plain MAJOR.MINOR.PATCH;
// the archive's name keeps the build details.
func manifestVersion(version string) (string, error) {
	if version == "" {
		return "", errors.New("-version is required")
	}
	core, err := buildinfo.Core(version)
	if err != nil || strings.HasPrefix(version, "v") {
		return "", fmt.Errorf("version %q is not MAJOR.MINOR.PATCH[-pre][+build]: Grafana gates renderer features on it", version)
	}
	plain := core.String()
	if plain != buildinfo.GrafanaVersion(plain) {
		return "", fmt.Errorf("version %s is below %s: Grafana would switch off full-height pictures, scaling and PDF for it; Panelcast's versions start at %s", version, buildinfo.ProtocolFloor, buildinfo.ProtocolFloor)
	}
	return plain, nil
}

// readManifest fills o.PluginJSON's placeholders and checks it is a
// backend plugin's manifest with the version in it.
func readManifest(o options, plain string) ([]byte, manifest, error) {
	var m manifest
	raw, err := os.ReadFile(o.PluginJSON)
	if err != nil {
		return nil, m, err
	}
	filled := bytes.ReplaceAll(raw, []byte("%VERSION%"), []byte(plain))
	filled = bytes.ReplaceAll(filled, []byte("%TODAY%"), []byte(o.Date.Format("2006-01-02")))
	if err := json.Unmarshal(filled, &m); err != nil {
		return nil, m, fmt.Errorf("%s: %w", o.PluginJSON, err)
	}
	switch {
	case m.ID == "":
		return nil, m, fmt.Errorf("%s: no id", o.PluginJSON)
	case !m.Backend || m.Executable == "":
		return nil, m, fmt.Errorf("%s: a backend plugin needs \"backend\": true and \"executable\"", o.PluginJSON)
	case m.Info.Version != plain && o.Frontend != "":
		return nil, m, fmt.Errorf("%s: info.version is %q, this package is %s: run make frontend again with the same VERSION", o.PluginJSON, m.Info.Version, plain)
	case m.Info.Version != plain:
		return nil, m, fmt.Errorf("%s: info.version is %q, want the %%VERSION%% placeholder", o.PluginJSON, m.Info.Version)
	}
	return filled, m, nil
}

// executableEntries are one platform's files: the executable and a
// renderer's launcher link to it.
func executableEntries(o options, m manifest, p platform) ([]entry, error) {
	exeName := executableName(m.Executable, p.OS, p.Arch)
	exe, err := os.ReadFile(filepath.Join(o.Dist, exeName))
	if err != nil {
		return nil, fmt.Errorf("executable for %s: %w (build it first: make package builds every platform)", p, err)
	}
	entries := []entry{{name: exeName, data: exe, mode: 0o755}}
	if o.Launcher != "" && m.Type == "renderer" {
		if l := executableName(o.Launcher, p.OS, p.Arch); l != exeName {
			entries = append(entries, entry{name: l, symlink: exeName, mode: fs.ModeSymlink | 0o777})
		}
	}
	return entries, nil
}

// commonEntries are the files every platform's archive holds: the filled
// manifest, README, CHANGELOG, LICENSE and the images.
func commonEntries(o options, filled []byte) ([]entry, error) {
	entries := []entry{{name: "plugin.json", data: filled, mode: 0o644}}
	for _, f := range []struct{ src, name string }{{o.Readme, "README.md"}, {o.Changelog, "CHANGELOG.md"}, {o.License, "LICENSE"}} {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{name: f.name, data: b, mode: 0o644})
	}
	imgs, err := readTree(o.ImgDir, "img")
	if err != nil {
		return nil, err
	}
	return append(entries, imgs...), nil
}

// frontendEntries are the frontend build's module.js and, when the build
// wrote one, module.js.map (Grafana's plugin validator asks for it); the
// manifest and img/ are read by the caller. A folder without plugin.json
// or module.js is a frontend that was never built.
func frontendEntries(dir string) ([]entry, error) {
	for _, f := range []string{"plugin.json", "module.js"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("%s: no %s (the app's frontend build): run make frontend first", dir, f)
		}
	}
	var es []entry
	for _, f := range []string{"module.js", "module.js.map"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) && f != "module.js" {
			continue
		}
		if err != nil {
			return nil, err
		}
		es = append(es, entry{name: f, data: b, mode: 0o644})
	}
	return es, nil
}

// checkLogos refuses a manifest whose logo is not in the archive: Grafana
// would show a broken image on the plugin page.
func checkLogos(pluginJSON string, m manifest, entries []entry) error {
	have := map[string]bool{}
	for _, e := range entries {
		have[e.name] = true
	}
	for _, logo := range []string{m.Info.Logos.Small, m.Info.Logos.Large} {
		if logo != "" && !have[path.Clean(logo)] {
			return fmt.Errorf("%s names logo %q, which is not in the archive", pluginJSON, logo)
		}
	}
	return nil
}

// executableName follows Grafana's rule: <name>_<os>_<arch>, .exe on Windows.
func executableName(name, goos, goarch string) string {
	n := fmt.Sprintf("%s_%s_%s", name, strings.ToLower(goos), strings.ToLower(goarch))
	if goos == "windows" {
		n += ".exe"
	}
	return n
}

// readTree reads the regular files under dir as entries below prefix.
func readTree(dir, prefix string) ([]entry, error) {
	var es []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: only regular files can be packaged", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		es = append(es, entry{name: path.Join(prefix, filepath.ToSlash(rel)), data: b, mode: 0o644})
		return nil
	})
	return es, err
}

// writeZip writes entries under root/, with explicit directory members and
// Unix modes, to a temporary file renamed into place, so a failed run never
// leaves a half-written archive behind; then its checksum as out.sha256.
func writeZip(out, root string, mtime time.Time, entries []entry) (err error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".package-*.zip")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	if err := writeMembers(io.MultiWriter(tmp, sum), root, mtime, entries); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a release archive is for everyone.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	// sha256sum's format, so `sha256sum -c <zip>.sha256` checks a download.
	line := hex.EncodeToString(sum.Sum(nil)) + "  " + filepath.Base(out) + "\n"
	return os.WriteFile(out+".sha256", []byte(line), 0o644)
}

// writeMembers writes the archive to w: the directories first, then the
// entries, both sorted.
func writeMembers(w io.Writer, root string, mtime time.Time, entries []entry) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	zw := zip.NewWriter(w)
	for _, d := range zipDirs(root, entries) {
		h := &zip.FileHeader{Name: d, Method: zip.Store, Modified: mtime}
		h.SetMode(fs.ModeDir | 0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			return err
		}
	}
	for _, e := range entries {
		h := &zip.FileHeader{Name: root + "/" + e.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(e.mode)
		data := e.data
		if e.symlink != "" {
			// A zip symlink is a member whose content is the link target.
			h.Method = zip.Store
			data = []byte(e.symlink)
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// zipDirs are the directory members the entries need, root/ among them,
// sorted.
func zipDirs(root string, entries []entry) []string {
	dirs := map[string]bool{root + "/": true}
	for _, e := range entries {
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			dirs[root+"/"+d+"/"] = true
		}
	}
	list := make([]string, 0, len(dirs))
	for d := range dirs {
		list = append(list, d)
	}
	sort.Strings(list)
	return list
}
