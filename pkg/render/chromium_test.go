package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The os-release files are abridged from each distribution's own.
func TestInstallCommand(t *testing.T) {
	cases := []struct {
		name, osRelease, want string
	}{
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n", "apt-get install chromium-headless-shell"},
		{"raspberry pi os", "ID=raspbian\nID_LIKE=debian\n", "apt-get install chromium"},
		{"ubuntu", "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n", "snap install chromium"},
		{"linux mint", "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "snap install chromium"},
		{"alpine (Grafana's image)", "NAME=\"Alpine Linux\"\nID=alpine\n", "apk add chromium"},
		{"fedora", "ID=fedora\n", "dnf install chromium"},
		{"rocky", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", "dnf install chromium, from EPEL"},
		{"opensuse", "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", "zypper install chromium"},
		{"comment and blank lines", "# made by hand\n\nID=arch\n", "pacman -S chromium"},
		{"unknown", "ID=nixos\n", "the chromium package; on Debian: apt-get install chromium-headless-shell"},
		{"no file", "", "the chromium package; on Debian: apt-get install chromium-headless-shell"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "os-release")
			if c.osRelease != "" {
				if err := os.WriteFile(p, []byte(c.osRelease), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := installCommand(osRelease(p)); got != c.want {
				t.Errorf("installCommand = %q, want %q", got, c.want)
			}
		})
	}
}

// A machine without a browser is told the command for its distribution.
func TestFindChromiumNamesTheInstallCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("PANELCAST_CHROMIUM", "")
	_, err := FindChromium("")
	want := installCommand(osRelease("/etc/os-release"))
	if !errors.Is(err, ErrNoChromium) || !strings.Contains(err.Error(), want) {
		t.Fatalf("FindChromium without a browser: %v, want ErrNoChromium naming %q", err, want)
	}
}

// The headless shell wins over the full browser, and the program behind
// Debian's wrapper over the wrapper; a configured browser wins over both.
func TestFindChromiumPrefersTheHeadlessShell(t *testing.T) {
	root := t.TempDir()
	exe := func(rel string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("PANELCAST_CHROMIUM", "")
	t.Setenv("PATH", filepath.Join(root, "bin"))
	find := func(configured string) string {
		t.Helper()
		p, err := FindChromium(configured)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := exe("bin/chromium")
	if got := find(""); got != full {
		t.Errorf("only chromium: found %s", got)
	}
	wrapper := exe("bin/chromium-headless-shell")
	if got := find(""); got != wrapper {
		t.Errorf("chromium and the headless shell: found %s, want the shell", got)
	}
	real := exe("lib/chromium/chromium-headless-shell")
	if got := find(""); got != real {
		t.Errorf("the shell as Debian installs it: found %s, want the program behind the wrapper, %s", got, real)
	}
	if got := find(full); got != full {
		t.Errorf("chromium_path set: found %s, want it", got)
	}
}
