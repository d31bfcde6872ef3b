// Command linuxpkg writes the deb and rpm of `panelcast serve` with nfpm:
// the binary, the systemd unit of deploy/systemd (run as the package's own
// user), /etc/panelcast/env from env.example as a configuration file kept
// on upgrade, the man page, and the scripts that create the user and tell
// systemd without starting anything. It lives in the tools module so that
// nfpm stays out of the project's go.mod (make linux-packages):
//
//	go -C tools/check run ./linuxpkg -version 4.1.0 -arch amd64 \
//	  -bin "$PWD/dist/linux_amd64/panelcast" -man "$PWD/dist/panelcast.1" -src "$PWD" -out "$PWD/dist"
package main

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the packager "deb"
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers "rpm"
)

//go:embed sysusers.conf copyright lintian-overrides scripts
var packaging embed.FS

// Options is one architecture's build.
type Options struct {
	Version    string // the release version, e.g. 4.1.0
	Arch       string // GOARCH: amd64 or arm64
	Binary     string // panelcast built for Arch
	ManPage    string // panelcast.1 from tools/manpage
	Source     string // the repository root (deploy/systemd, LICENSE, CHANGELOG.md)
	Maintainer string // "Name <address>" for the deb's Maintainer and the rpm's Packager
}

// Formats are the packagers written, in order.
var Formats = []string{"deb", "rpm"}

func main() {
	var o Options
	out := flag.String("out", "dist", "directory the packages are written to")
	flag.StringVar(&o.Version, "version", "", "release version, MAJOR.MINOR.PATCH with an optional pre-release (required)")
	flag.StringVar(&o.Arch, "arch", "amd64", "GOARCH of the binary: amd64 or arm64")
	flag.StringVar(&o.Binary, "bin", "", "the panelcast binary for -arch (required)")
	flag.StringVar(&o.ManPage, "man", "", "panelcast.1 written by tools/manpage (required)")
	flag.StringVar(&o.Source, "src", "../..", "the repository root")
	flag.StringVar(&o.Maintainer, "maintainer", "Panelcast authors <panelcast@users.noreply.github.com>", "the packages' maintainer, Name <address>")
	flag.Parse()
	if o.Version == "" || o.Binary == "" || o.ManPage == "" {
		fmt.Fprintln(os.Stderr, "linuxpkg: -version, -bin and -man are required (make linux-packages passes them)")
		os.Exit(2)
	}
	for _, format := range Formats {
		path, err := Write(o, format, *out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "linuxpkg:", err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}

// Write builds the package of one format into dir under the packager's
// conventional name (panelcast_4.1.0_amd64.deb,
// panelcast-4.1.0-1.x86_64.rpm) and returns its path.
func Write(o Options, format, dir string) (string, error) {
	stage, err := os.MkdirTemp("", "linuxpkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	cfg, err := packageConfig(o, stage)
	if err != nil {
		return "", err
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", err
	}
	if format == "rpm" {
		// rpm's %changelog, from nfpm's changelog format; a deb's
		// changelog is a file of its own (packageConfig).
		info.Changelog = filepath.Join(stage, "chglog.yml")
		if err := os.WriteFile(info.Changelog, rpmChangelog(o, modtime()), 0o644); err != nil {
			return "", err
		}
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	info.Target = filepath.Join(dir, packager.ConventionalFileName(info))
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	var b bytes.Buffer
	if err := packager.Package(info, &b); err != nil {
		return "", fmt.Errorf("%s package: %w", format, err)
	}
	if err := os.WriteFile(info.Target, b.Bytes(), 0o644); err != nil {
		return "", err
	}
	return info.Target, nil
}

// packageConfig describes the package; files that need changing on the way
// in (the unit, the gzipped man page and changelog, the scripts) are
// written to stage.
func packageConfig(o Options, stage string) (*nfpm.Config, error) {
	unit, err := os.ReadFile(filepath.Join(o.Source, "deploy", "systemd", "panelcast.service"))
	if err != nil {
		return nil, fmt.Errorf("the systemd unit: %w: give -src the repository root", err)
	}
	packagedUnit, err := PackagedUnit(unit)
	if err != nil {
		return nil, err
	}
	staged := map[string][]byte{"panelcast.service": packagedUnit}
	man, err := os.ReadFile(o.ManPage)
	if err != nil {
		return nil, fmt.Errorf("the man page: %w: run tools/manpage first", err)
	}
	if staged["panelcast.1.gz"], err = gzipBytes(man); err != nil {
		return nil, fmt.Errorf("the man page: %w: run tools/manpage first", err)
	}
	changes, err := os.ReadFile(filepath.Join(o.Source, "CHANGELOG.md"))
	if err != nil {
		return nil, err
	}
	if staged["CHANGELOG.md.gz"], err = gzipBytes(changes); err != nil {
		return nil, err
	}
	if staged["changelog.gz"], err = gzipBytes(debianChangelog(o, modtime())); err != nil {
		return nil, err
	}
	err = fs.WalkDir(packaging, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := packaging.ReadFile(path)
		staged[filepath.Base(path)] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	for name, b := range staged {
		if err := os.WriteFile(filepath.Join(stage, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	at := func(name string) string { return filepath.Join(stage, name) }
	mode := func(m os.FileMode) *files.ContentFileInfo { return &files.ContentFileInfo{Mode: m} }

	info := nfpm.Info{
		Name:        "panelcast",
		Arch:        o.Arch,
		Version:     o.Version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  o.Maintainer,
		Vendor:      "Panelcast",
		Homepage:    "https://github.com/panelcast/panelcast",
		License:     "Apache-2.0",
		Description: description,
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				{Source: o.Binary, Destination: "/usr/bin/panelcast", FileInfo: mode(0o755)},
				// Debian 12 keeps units in /lib (its /usr merge is not
				// complete in dpkg's database); Fedora in /usr/lib.
				{Source: at("panelcast.service"), Destination: "/lib/systemd/system/panelcast.service", Packager: "deb", FileInfo: mode(0o644)},
				{Source: at("panelcast.service"), Destination: "/usr/lib/systemd/system/panelcast.service", Packager: "rpm", FileInfo: mode(0o644)},
				{Source: at("sysusers.conf"), Destination: "/usr/lib/sysusers.d/panelcast.conf", FileInfo: mode(0o644)},
				// Read by systemd as root; it will hold the token.
				{Source: filepath.Join(o.Source, "deploy", "systemd", "env.example"), Destination: "/etc/panelcast/env", Type: files.TypeConfigNoReplace, FileInfo: mode(0o600)},
				{Source: at("panelcast.1.gz"), Destination: "/usr/share/man/man1/panelcast.1.gz", Packager: "deb", FileInfo: mode(0o644)},
				{Source: at("panelcast.1.gz"), Destination: "/usr/share/man/man1/panelcast.1.gz", Packager: "rpm", Type: files.TypeRPMDoc, FileInfo: mode(0o644)},
				{Source: at("copyright"), Destination: "/usr/share/doc/panelcast/copyright", Packager: "deb", FileInfo: mode(0o644)},
				{Source: at("changelog.gz"), Destination: "/usr/share/doc/panelcast/changelog.gz", Packager: "deb", FileInfo: mode(0o644)},
				{Source: at("CHANGELOG.md.gz"), Destination: "/usr/share/doc/panelcast/CHANGELOG.md.gz", Packager: "deb", FileInfo: mode(0o644)},
				{Source: filepath.Join(o.Source, "CHANGELOG.md"), Destination: "/usr/share/doc/panelcast/CHANGELOG.md", Packager: "rpm", Type: files.TypeRPMDoc, FileInfo: mode(0o644)},
				{Source: at("lintian-overrides"), Destination: "/usr/share/lintian/overrides/panelcast", Packager: "deb", FileInfo: mode(0o644)},
				{Source: filepath.Join(o.Source, "LICENSE"), Destination: "/usr/share/licenses/panelcast/LICENSE", Packager: "rpm", Type: files.TypeRPMLicense, FileInfo: mode(0o644)},
			},
			RPM: nfpm.RPM{
				Summary:  "Grafana's remote rendering service with a warm headless Chromium",
				Group:    "Applications/Internet",
				Packager: o.Maintainer,
			},
		},
	}
	// Chromium draws the panels (on Debian its headless shell, which
	// Panelcast prefers, or the full browser); Go's TLS to chat APIs needs the CA
	// bundle; the deb's postinst falls back to adduser without systemd. Fonts are recommended: without Noto CJK a Korean alert title
	// is empty boxes, without the emoji font an emoji is one. Fedora names
	// the same fonts differently.
	overrides := map[string]*nfpm.Overridables{
		"deb": {
			Depends:    []string{"chromium-headless-shell | chromium", "ca-certificates", "adduser"},
			Recommends: []string{"fonts-noto-cjk", "fonts-noto-color-emoji", "fonts-dejavu-core", "tzdata"},
			Scripts:    nfpm.Scripts{PostInstall: at("deb-postinst"), PreRemove: at("deb-prerm"), PostRemove: at("deb-postrm")},
		},
		"rpm": {
			Depends:    []string{"chromium", "ca-certificates"},
			Recommends: []string{"google-noto-sans-cjk-fonts", "google-noto-color-emoji-fonts", "dejavu-sans-fonts", "tzdata"},
			Scripts:    nfpm.Scripts{PostInstall: at("rpm-post"), PreRemove: at("rpm-preun"), PostRemove: at("rpm-postun")},
		},
	}
	return &nfpm.Config{Info: info, Overrides: overrides}, nil
}

const description = `Grafana's remote rendering service with a warm headless Chromium
 Panelcast renders Grafana panels and dashboards to PNG and PDF for Grafana's
 [rendering] server_url, posts panels and alerts to Slack, Mattermost,
 Discord and Telegram, and serves a web console. This package runs it as
 panelcast.service; fill in /etc/panelcast/env, then enable the service.`

// PackagedUnit is deploy/systemd's unit as the package installs it: the
// binary in /usr/bin, run as the package's panelcast user (so its state
// directory is plain /var/lib/panelcast, which purge removes) instead of a
// dynamic one, without the header that tells how to install it by hand.
func PackagedUnit(unit []byte) ([]byte, error) {
	s := string(unit)
	start := strings.Index(s, "[Unit]")
	if start < 0 {
		return nil, errors.New("deploy/systemd/panelcast.service has no [Unit] section")
	}
	s = "# Installed by the panelcast package. Settings: /etc/panelcast/env, then\n" +
		"#   systemctl enable --now panelcast\n" + s[start:]
	for _, r := range [][2]string{
		{"ExecStart=/usr/local/bin/panelcast serve", "ExecStart=/usr/bin/panelcast serve"},
		{"DynamicUser=yes", "User=panelcast\nGroup=panelcast"},
	} {
		if strings.Count(s, r[0]) != 1 {
			return nil, fmt.Errorf("deploy/systemd/panelcast.service: want one %q line to replace for the package; update linuxpkg with the unit", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	return []byte(s), nil
}

// debianChangelog is the one entry Debian's tools want in
// /usr/share/doc/panelcast/changelog.gz; the project's changes are in
// CHANGELOG.md.gz beside it.
func debianChangelog(o Options, at time.Time) []byte {
	v := nfpm.WithDefaults(&nfpm.Info{Version: o.Version})
	version := v.Version
	if v.Prerelease != "" {
		version += "~" + v.Prerelease
	}
	if v.VersionMetadata != "" {
		version += "+" + v.VersionMetadata
	}
	return fmt.Appendf(nil, "panelcast (%s) stable; urgency=medium\n\n  * Release %s; its changes are in /usr/share/doc/panelcast/CHANGELOG.md.gz.\n\n -- %s  %s\n",
		version, o.Version, o.Maintainer, at.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
}

// rpmChangelog is the rpm's one %changelog entry, in chglog's YAML, for
// version-release (nfpm's release is 1).
func rpmChangelog(o Options, at time.Time) []byte {
	return fmt.Appendf(nil, "- semver: %q\n  date: %s\n  packager: %q\n  changes:\n    - note: %q\n",
		o.Version+"-1", at.UTC().Format(time.RFC3339), o.Maintainer, "Release "+o.Version+"; its changes are in /usr/share/doc/panelcast/CHANGELOG.md.")
}

// modtime is SOURCE_DATE_EPOCH when set, as nfpm dates the files, else now.
func modtime() time.Time {
	if sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(sec, 0)
	}
	return time.Now()
}

// gzipBytes is b gzipped without a name or time, so the same input gives
// the same package.
func gzipBytes(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	err = w.Close()
	return b.Bytes(), err
}
