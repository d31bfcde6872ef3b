package pluginhost

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BuildPlugin builds the module's ./pkg into dir under the only name Grafana
// starts a renderer plugin by, plugin_start_<os>_<arch> (see the package
// comment), and returns its path.
func BuildPlugin(dir string) (string, error) {
	out := filepath.Join(dir, rendererExecutableName())
	return out, buildPackage("./pkg", out)
}

// buildPackage runs go build for a package path relative to the module root.
func buildPackage(pkg, out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", abs, pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// moduleRoot is two directories above this source file when the source tree
// is present, else what `go env GOMOD` reports for the working directory.
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	path := strings.TrimSpace(string(gomod))
	if path == "" || path == os.DevNull {
		return "", errors.New("pluginhost: no go.mod found for the module root")
	}
	return filepath.Dir(path), nil
}

// BuildTestPlugin builds another plugin of the module, pkg relative to the
// module root (e.g. a test's testdata/<name>), into dir under the name
// Grafana starts a renderer by, and returns its path.
func BuildTestPlugin(pkg, dir string) (string, error) {
	out := filepath.Join(dir, rendererExecutableName())
	return out, buildPackage(pkg, out)
}

// BuildApp builds the module's ./pkg into dir under the name Grafana
// starts an app backend by, AppExecutableName(executable), and returns
// its path.
func BuildApp(dir, executable string) (string, error) {
	out := filepath.Join(dir, AppExecutableName(executable))
	return out, buildPackage("./pkg", out)
}
