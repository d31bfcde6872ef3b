// Command release holds the steps of `make release` that need more than a
// shell line:
//
//	go run ./tools/release check -version 4.1.0 [-allow-dirty]
//	go run ./tools/release notes [-changelog CHANGELOG.md] 4.1.0
//
// check refuses a release from a tree with uncommitted changes, or from a
// commit that is not the tag v<version>, or of a version CHANGELOG.md has
// no section for; -allow-dirty (make release ALLOW_DIRTY=1) lifts the first
// two, to try the release build on work in progress. notes prints that
// version's section of CHANGELOG.md (keepachangelog.com's format: "## [4.1.0]
// - 2026-12-08" headings), the release notes of the GitHub release.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: check or notes")
	}
	fl := flag.NewFlagSet("release "+args[0], flag.ContinueOnError)
	changelog := fl.String("changelog", "CHANGELOG.md", "the changelog, in keepachangelog's format")
	switch args[0] {
	case "check":
		version := fl.String("version", "", "the version to release, e.g. 4.1.0 (the Makefile's VERSION)")
		allowDirty := fl.Bool("allow-dirty", false, "release uncommitted work or an untagged commit, to try the release build")
		if err := fl.Parse(args[1:]); err != nil {
			return err
		}
		return check(*version, *changelog, *allowDirty, ".")
	case "notes":
		if err := fl.Parse(args[1:]); err != nil {
			return err
		}
		if fl.NArg() != 1 {
			return errors.New("notes wants one version, e.g. notes 4.1.0")
		}
		b, err := os.ReadFile(*changelog)
		if err != nil {
			return err
		}
		notes, err := section(b, fl.Arg(0))
		if err != nil {
			return fmt.Errorf("%s: %w", *changelog, err)
		}
		_, err = io.WriteString(stdout, notes)
		return err
	}
	return fmt.Errorf("unknown command %q: want check or notes", args[0])
}

// semver is a release version without the tag's "v": 4.1.0, 4.2.0-rc.1.
var semver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// check is the release's precondition: a clean tree whose HEAD is tagged
// v<version> (unless allowDirty), and release notes for the version.
func check(version, changelog string, allowDirty bool, dir string) error {
	if !semver.MatchString(version) {
		return fmt.Errorf("version %q is not MAJOR.MINOR.PATCH[-pre]: release from a tag like v4.1.0 (git tag v4.1.0), or give VERSION=4.1.0", version)
	}
	if !allowDirty {
		status, err := git(dir, "status", "--porcelain", "--untracked-files=normal")
		if err != nil {
			return err
		}
		if status != "" {
			return fmt.Errorf("the tree has uncommitted changes, so the release would not be what the tag holds: commit or stash them (or try the build with ALLOW_DIRTY=1):\n%s", status)
		}
		tags, err := git(dir, "tag", "--points-at", "HEAD")
		if err != nil {
			return err
		}
		if !slices.Contains(strings.Fields(tags), "v"+version) {
			at := "no tag"
			if tags != "" {
				at = "tags " + strings.Join(strings.Fields(tags), ", ")
			}
			return fmt.Errorf("HEAD is not tagged v%s (it has %s): release from the tag (git tag -a v%s, then make release), or try the build with ALLOW_DIRTY=1", version, at, version)
		}
	}
	b, err := os.ReadFile(changelog)
	if err != nil {
		return err
	}
	if _, err := section(b, version); err != nil {
		return fmt.Errorf("%s: %w", changelog, err)
	}
	return nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s (make release runs in a git clone of the repository)", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// heading is a keepachangelog version heading: "## [4.1.0] - 2026-12-08",
// "## [Unreleased]"; the brackets may be left out.
var heading = regexp.MustCompile(`^##\s+\[?([^\]\s]+)\]?(\s+-\s+\S+)?\s*$`)

// linkRef is a reference link line, "[4.1.0]: https://...", which ends the
// last section.
var linkRef = regexp.MustCompile(`^\[[^\]]+\]:\s`)

// section is the body of version's section, its subsections and entries,
// without the heading, trimmed. A missing or empty section is an error that
// says how to add it.
func section(changelog []byte, version string) (string, error) {
	var body []string
	in, found := false, false
	for _, line := range strings.Split(strings.ReplaceAll(string(changelog), "\r\n", "\n"), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			in = m[1] == version
			found = found || in
			continue
		}
		if strings.HasPrefix(line, "# ") || linkRef.MatchString(line) {
			in = false
		}
		if in {
			body = append(body, line)
		}
	}
	if !found {
		return "", fmt.Errorf("no section for %s: move the entries under ## [Unreleased] into ## [%s] - YYYY-MM-DD before tagging", version, version)
	}
	notes := strings.TrimSpace(strings.Join(body, "\n"))
	if notes == "" {
		return "", fmt.Errorf("the section for %s is empty: say what changed in it", version)
	}
	return notes + "\n", nil
}
