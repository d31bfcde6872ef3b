// Package testenv holds helpers the tests of several packages share: the
// Chromium gate for browser tests, the same gate for other real programs,
// and a log sink goroutines may write to. Only tests import it.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// NeedChromium skips a browser test when find (render.FindChromium) finds
// no Chromium, except in CI (CI set), where a missing browser is a failure.
// The finder is passed in so that package render's own tests can use this
// without an import cycle.
func NeedChromium(t testing.TB, find func(configured string) (string, error)) {
	t.Helper()
	if _, err := find(""); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have Chromium: %v", err)
		}
		t.Skip(err)
	}
}

// NeedCommand returns the path of the program name (e.g. amtool), skipping
// the test when it is not installed, except in CI (CI set), where a missing
// program is a failure: .ci/run installs every program the tests use.
func NeedCommand(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have %s: %v", name, err)
		}
		t.Skip(err)
	}
	return path
}

// LogBuffer collects log output that several goroutines write at once. The
// zero value is ready to use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
