package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const sample = `# Changelog

Intro text.

## [Unreleased]

### Added

- Something new.

## [4.1.0] - 2026-12-08

### Added

- Zips for every platform.

### Fixed

- A crash.

## 4.0.0 - 2026-10-01

- The first release.

## [3.9.0] - 2026-09-01

[Unreleased]: https://github.com/panelcast/panelcast/compare/v4.1.0...HEAD
[4.1.0]: https://github.com/panelcast/panelcast/compare/v4.0.0...v4.1.0
`

func TestSection(t *testing.T) {
	cases := []struct {
		version, want, err string
	}{
		{"4.1.0", "### Added\n\n- Zips for every platform.\n\n### Fixed\n\n- A crash.\n", ""},
		{"Unreleased", "### Added\n\n- Something new.\n", ""},
		{"4.0.0", "- The first release.\n", ""},
		{"3.9.0", "", "the section for 3.9.0 is empty"},
		{"4.2.0", "", "no section for 4.2.0: move the entries under ## [Unreleased] into ## [4.2.0]"},
		{"4.1", "", "no section for 4.1"},
	}
	for _, c := range cases {
		t.Run(c.version, func(t *testing.T) {
			got, err := section([]byte(sample), c.version)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("section(%s) = %q, %v; want %q", c.version, got, err, c.want)
			}
		})
	}
	crlf := strings.ReplaceAll(sample, "\n", "\r\n")
	if got, err := section([]byte(crlf), "4.0.0"); err != nil || got != "- The first release.\n" {
		t.Errorf("CRLF changelog: %q, %v", got, err)
	}
}

// A section never holds another version's heading, whatever the file.
func FuzzSection(f *testing.F) {
	f.Add([]byte(sample), "4.1.0")
	f.Add([]byte("## [1.0.0]\n- a\n## [1.0.0]\n- b\n"), "1.0.0")
	f.Fuzz(func(t *testing.T, changelog []byte, version string) {
		got, err := section(changelog, version)
		if err != nil {
			return
		}
		if strings.TrimSpace(got) == "" {
			t.Fatalf("empty notes without an error")
		}
		for _, line := range strings.Split(got, "\n") {
			if heading.MatchString(line) {
				t.Fatalf("notes hold the heading %q", line)
			}
		}
	})
}

// The repository's CHANGELOG.md keeps keepachangelog's form: version
// headings "## [Unreleased]" or "## [X.Y.Z] - YYYY-MM-DD", newest first,
// and the change types it names, so that notes finds each release.
func TestRepoChangelog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	release := regexp.MustCompile(`^## \[(Unreleased|\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?)\]( - \d{4}-\d{2}-\d{2})?$`)
	types := map[string]bool{"Added": true, "Changed": true, "Deprecated": true, "Removed": true, "Fixed": true, "Security": true}
	var versions []string
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			m := release.FindStringSubmatch(line)
			if m == nil || (m[1] == "Unreleased") != (m[3] == "") {
				t.Errorf("line %d: %q is not ## [Unreleased] nor ## [X.Y.Z] - YYYY-MM-DD", i+1, line)
				continue
			}
			versions = append(versions, m[1])
		case strings.HasPrefix(line, "### "):
			if !types[strings.TrimPrefix(line, "### ")] {
				t.Errorf("line %d: %q is not one of keepachangelog's change types", i+1, line)
			}
		}
	}
	if len(versions) == 0 || versions[0] != "Unreleased" {
		t.Errorf("versions %v: the first section is ## [Unreleased]", versions)
	}
	for _, v := range versions {
		if _, err := section(b, v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
}

// gitRepo is a repository with CHANGELOG.md, committed.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "CHANGELOG.md"), []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, dir, "init", "-q")
	mustGit(t, dir, "add", "CHANGELOG.md")
	mustGit(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first")
	return dir
}

func mustGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name       string
		prepare    func(t *testing.T, dir string)
		version    string
		allowDirty bool
		want       string // "" passes
	}{
		{"tagged and clean", func(t *testing.T, dir string) { mustGit(t, dir, "tag", "v4.1.0") }, "4.1.0", false, ""},
		{"no tag", func(*testing.T, string) {}, "4.1.0", false, "HEAD is not tagged v4.1.0 (it has no tag)"},
		{"another tag", func(t *testing.T, dir string) { mustGit(t, dir, "tag", "v4.0.0") }, "4.1.0", false, "it has tags v4.0.0"},
		{"uncommitted change", func(t *testing.T, dir string) {
			mustGit(t, dir, "tag", "v4.1.0")
			if err := os.WriteFile(filepath.Join(dir, "new.go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "4.1.0", false, "uncommitted changes"},
		{"dirty, allowed", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "new.go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "4.1.0", true, ""},
		{"a describe version", func(*testing.T, string) {}, "4.1.0-2-gabc1234-dirty", true, "no section for 4.1.0-2-gabc1234-dirty"},
		{"no changelog section", func(t *testing.T, dir string) { mustGit(t, dir, "tag", "v4.2.0") }, "4.2.0", false, "no section for 4.2.0"},
		{"v prefix", func(*testing.T, string) {}, "v4.1.0", true, "not MAJOR.MINOR.PATCH"},
		{"no version", func(*testing.T, string) {}, "", true, "not MAJOR.MINOR.PATCH"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := gitRepo(t)
			c.prepare(t, dir)
			err := check(c.version, filepath.Join(dir, "CHANGELOG.md"), c.allowDirty, dir)
			if c.want == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

// The notes command as make release runs it.
func TestNotesCommand(t *testing.T) {
	p := filepath.Join(t.TempDir(), "CHANGELOG.md")
	if err := os.WriteFile(p, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"notes", "-changelog", p, "4.0.0"}, &out); err != nil || out.String() != "- The first release.\n" {
		t.Fatalf("notes 4.0.0: %q, %v", out.String(), err)
	}
	for _, args := range [][]string{{"notes"}, {"notes", "1", "2"}, {"publish"}, {}} {
		if err := run(args, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
