package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPackagedUnit(t *testing.T) {
	unit, err := os.ReadFile("../../../deploy/systemd/panelcast.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   string
		want []string // lines the packaged unit has
		not  []string // and has not
		err  string
	}{
		{name: "deploy/systemd's unit", in: string(unit),
			want: []string{"ExecStart=/usr/bin/panelcast serve", "User=panelcast", "Group=panelcast", "[Unit]", "[Install]"},
			not:  []string{"DynamicUser=yes", "/usr/local/bin", "install -m 0755"}},
		{name: "no [Unit]", in: "[Service]\nExecStart=/usr/local/bin/panelcast serve\n", err: "no [Unit]"},
		{name: "ExecStart moved", in: "[Unit]\n[Service]\nExecStart=/opt/panelcast serve\nDynamicUser=yes\n", err: `"ExecStart=/usr/local/bin/panelcast serve"`},
		{name: "no DynamicUser", in: "[Unit]\n[Service]\nExecStart=/usr/local/bin/panelcast serve\n", err: `"DynamicUser=yes"`},
	} {
		got, err := PackagedUnit([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		lines := strings.Split(string(got), "\n")
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("%s: no line %q in\n%s", tc.name, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(string(got), n) {
				t.Errorf("%s: still has %q", tc.name, n)
			}
		}
	}
}

// TestDebianChangelog: the one entry dpkg-parsechangelog and lintian read,
// with the deb's version spelled as nfpm spells it (~ before a
// pre-release).
func TestDebianChangelog(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)
	for _, tc := range []struct{ version, head string }{
		{"4.1.0", "panelcast (4.1.0) stable; urgency=medium\n"},
		{"4.1.0-3-gabc1234", "panelcast (4.1.0~3-gabc1234) stable; urgency=medium\n"},
	} {
		got := string(debianChangelog(Options{Version: tc.version, Maintainer: "A <a@example.org>"}, at))
		if !strings.HasPrefix(got, tc.head) || !strings.HasSuffix(got, "\n -- A <a@example.org>  Tue, 08 Dec 2026 01:02:03 +0000\n") {
			t.Errorf("%s:\n%s", tc.version, got)
		}
	}
}
