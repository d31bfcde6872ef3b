//go:build mage

// Magefile for the Grafana plugin build. It reuses the plugin SDK's targets
// (build:linux, build:linuxARM64, build:darwin, ..., buildAll) so the
// executables get the names and build info Grafana tooling expects:
//
//	go run github.com/magefile/mage -v build:linux   # dist/gpx_panelcast_linux_amd64
//	PANELCAST_PLUGIN_DIR=src go run github.com/magefile/mage -v build:linux
//	                                                 # dist/gpx_panelcast_app_linux_amd64 (the app)
//	go run github.com/magefile/mage -l               # list targets
//
// The everyday commands (make build, make package) live in the Makefile.
package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
	"github.com/grafana/grafana-plugin-sdk-go/build/buildinfo"
)

// Default builds the plugin executable for every platform Grafana supports.
var Default = build.BuildAll

func init() {
	// The SDK looks for src/plugin.json; the renderer's sits at the repo
	// root, and is the default. PANELCAST_PLUGIN_DIR=src builds for the app
	// plugin's src/plugin.json instead (make app-plugin). The executable is
	// named after that manifest's "executable": dist/<executable>_<os>_<arch>
	// (gpx_panelcast_linux_amd64, gpx_panelcast_app_linux_amd64); the Go
	// program is the same.
	_ = build.SetBeforeBuildCallback(func(cfg build.Config) (build.Config, error) {
		cfg.PluginJSONPath = pluginDir()
		cfg.RootPackagePath = "./pkg"
		if cfg.CustomVars == nil {
			cfg.CustomVars = map[string]string{}
		}
		v := version()
		// Same version stamp as `make build`, so `panelcast version` and the
		// plugin agree.
		cfg.CustomVars["github.com/panelcast/panelcast/pkg/buildinfo.Version"] = v
		// The SDK takes its build info version from package.json, which is
		// the web console's; give it ours (it reports it, e.g. in the
		// User-Agent of its HTTP client).
		info, err := json.Marshal(buildinfo.Info{
			Time:     buildTime().UnixMilli(),
			PluginID: pluginID(),
			Version:  v,
		})
		if err != nil {
			return cfg, err
		}
		cfg.CustomVars["github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON"] = string(info)
		return cfg, nil
	})
}

// version is $VERSION (the Makefile passes it), else the nearest v* tag
// without its "v", else 4.0.0, as in the Makefile.
func version() string {
	if v := os.Getenv("VERSION"); v != "" {
		return v
	}
	out, err := exec.Command("git", "describe", "--tags", "--match", "v[0-9]*", "--dirty").Output()
	if err == nil {
		if v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v"); v != "" {
			return v
		}
	}
	return "4.0.0"
}

// buildTime is $SOURCE_DATE_EPOCH (make release sets the commit's), so a
// rebuild of a tag stamps the same time; else now.
func buildTime() time.Time {
	if sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		return time.Unix(sec, 0)
	}
	return time.Now()
}

// pluginDir is the folder of the plugin.json to build for: $PANELCAST_PLUGIN_DIR,
// else "." (the renderer's).
func pluginDir() string {
	if d := os.Getenv("PANELCAST_PLUGIN_DIR"); d != "" {
		return d
	}
	return "."
}

// pluginID is that plugin.json's id ("" if unreadable; the SDK then leaves it out).
func pluginID() string {
	var m struct {
		ID string `json:"id"`
	}
	b, err := os.ReadFile(filepath.Join(pluginDir(), "plugin.json"))
	if err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m.ID
}
