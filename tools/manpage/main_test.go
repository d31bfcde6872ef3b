package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/cli"
	"github.com/panelcast/panelcast/pkg/config"
)

// TestPageFormats has man(1) format the page with its warnings on (as
// lintian does): none may remain, and the text a reader sees names every
// command of the help and every setting with its variable.
func TestPageFormats(t *testing.T) {
	manCmd := testenv.NeedCommand(t, "man")
	page := filepath.Join(t.TempDir(), "panelcast.1")
	var b bytes.Buffer
	write(&b, "4.1.0", "2026-12-08")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(manCmd, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("man --warnings: %v\n%s", err, stderr.String())
	}
	// man overstrikes bold and underlined letters (x\bx), hyphenates and
	// justifies; compare plain words on one line.
	plain := regexp.MustCompile(".\b").ReplaceAllString(string(out), "")
	text := strings.Join(strings.Fields(strings.ReplaceAll(plain, "\u2010\n", "")), " ")
	for _, cmd := range regexp.MustCompile(`(?m)^  panelcast (\w+)`).FindAllStringSubmatch(cli.Usage, -1) {
		if !strings.Contains(text, "panelcast "+cmd[1]) {
			t.Errorf("the page does not show the command %q", cmd[1])
		}
	}
	for _, k := range config.Keys {
		flag := "--" + strings.ReplaceAll(k.Name, "_", "-") + ", PANELCAST_" + strings.ToUpper(k.Name)
		if !strings.Contains(text, flag) {
			t.Errorf("the page does not show %q", flag)
		}
	}
	for _, want := range []string{"panelcast 4.1.0", "2026-12-08", "/etc/panelcast/env", "/var/lib/panelcast/outbox.db"} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
}

func TestPageDate(t *testing.T) {
	if got := pageDate("1800000000"); got != "2027-01-15" {
		t.Errorf("pageDate(SOURCE_DATE_EPOCH=1800000000) = %s, want 2027-01-15", got)
	}
}
