//go:build !linux

package render

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// Panelcast renders with Chromium on Linux only (the renderer plugin and
// `panelcast serve` ship for Linux); elsewhere the program is the app
// plugin's backend, which renders through Grafana. These keep the package
// building there: a browser started anyway is a plain child process.

func browserProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(*os.Process) {}

func probeUserNamespace() error {
	return errors.New("user namespaces exist on Linux only")
}

func ownedByRoot(fs.FileInfo) bool { return false }

func releaseCode() error { return nil }
