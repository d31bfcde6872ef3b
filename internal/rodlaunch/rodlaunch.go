// Package rodlaunch starts the system's Chromium for the code that drives
// pages itself, besides the renderer: the browser tests of the console and
// of the stand-in pages, and the screenshot tools. Like the renderer it never
// downloads a browser or go-rod's leakless helper.
package rodlaunch

import (
	"fmt"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"
)

// Launch starts the Chromium at bin headless, without its sandbox (these
// run as root on the development machine and in CI) or scrollbars, with the
// extra flags (name, value pairs: "lang", "de"), and connects to it. stop
// closes the browser and removes its profile.
func Launch(bin string, extra ...string) (b *rod.Browser, stop func(), err error) {
	if len(extra)%2 != 0 {
		return nil, nil, fmt.Errorf("rodlaunch: flags come in name, value pairs, got %d strings", len(extra))
	}
	l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false).
		Set("disable-gpu").Set("disable-dev-shm-usage").Set("hide-scrollbars")
	for i := 0; i < len(extra); i += 2 {
		l = l.Set(flags.Flag(extra[i]), extra[i+1])
	}
	u, err := l.Launch()
	if err != nil {
		return nil, nil, fmt.Errorf("launch %s: %w", bin, err)
	}
	b = rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		l.Kill()
		l.Cleanup()
		return nil, nil, fmt.Errorf("connect to %s: %w", bin, err)
	}
	return b, func() {
		_ = b.Close()
		l.Kill()
		l.Cleanup()
	}, nil
}
