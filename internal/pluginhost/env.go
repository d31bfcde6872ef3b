package pluginhost

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The environment Grafana builds for a renderer plugin (OSS build), mirrored
// from pkg/plugins/manager/loader/initializer (9.x–10.x),
// pkg/plugins/envvars/envvars.go and
// pkg/services/pluginsintegration/pluginconfig/envvars.go (11.x–12.x):
//
//   - GF_VERSION=<build version>.
//   - GF_EDITION=Open Source and GF_ENTERPRISE_LICENSE_PATH=<data>/license.jwt:
//     the OSS licensing service is never nil (pluginsintegration/licensing,
//     [enterprise] license_path default in pkg/setting).
//   - GF_ENTERPRISE_APP_URL=<root_url> from 10.0 on, when the license adapter
//     gained AppURL() (the exact first version is uncertain; 9.x variants
//     lack it).
//   - GF_APP_URL=<root_url> for every plugin only in 10.1–10.2; from 10.3 it
//     is sent only to plugins with an external service registration, and the
//     app URL moved into the request plugin context (grafana PRs 72490,
//     77455, 79458).
//   - Every [plugin.<id>] key except "path" and any case of "id" as
//     GF_PLUGIN_<KEY UPPERCASED>; a non-empty variable of that name in
//     Grafana's own environment replaces the ini value.
//   - Not modelled: tracing variables (GF_INSTANCE_OTLP_*, and GF_PLUGIN_VERSION
//     which is sent only with tracing on), AWS/Azure/secure-socks-proxy
//     variables, GF_INSTANCE_FEATURE_TOGGLES_ENABLE, enterprise license
//     variables: all depend on settings a renderer test does not use.
//
// Grafana's host environment follows (renderers are started without
// SkipHostEnv), then go-plugin's own variables; exec keeps the last value of
// a duplicated name.
func (h *Host) grafanaEnv(lookup func(string) (string, bool)) []string {
	v := h.version
	env := []string{
		"GF_VERSION=" + h.cfg.GrafanaVersion,
		"GF_EDITION=Open Source",
		"GF_ENTERPRISE_LICENSE_PATH=" + filepath.Join(h.cfg.DataPath, "license.jwt"),
	}
	if v.atLeast(10, 0) {
		env = append(env, "GF_ENTERPRISE_APP_URL="+h.appURL)
	}
	if v.atLeast(10, 1) && !v.atLeast(10, 3) {
		env = append(env, "GF_APP_URL="+h.appURL)
	}
	if tok := h.cfg.ManagedServiceAccountToken; tok != "" && h.cfg.App != nil && v.atLeast(10, 3) {
		env = append(env, "GF_APP_URL="+h.appURL, "GF_PLUGIN_APP_CLIENT_ID="+h.cfg.PluginID, "GF_PLUGIN_APP_CLIENT_SECRET="+tok)
	}
	for k, val := range h.cfg.Section {
		if k == "path" || strings.ToLower(k) == "id" {
			continue
		}
		key := "GF_PLUGIN_" + strings.ToUpper(k)
		if pre, ok := lookup(key); ok && pre != "" {
			val = pre
		}
		env = append(env, key+"="+val)
	}
	return env
}

// lookupIn finds a variable in KEY=value pairs; the last one wins, as in exec.
func lookupIn(env []string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, val, ok := strings.Cut(env[i], "="); ok && k == key {
				return val, true
			}
		}
		return "", false
	}
}

// normalizeAppURL adds the trailing slash Grafana's setting parser adds to
// root_url.
func normalizeAppURL(u string) string {
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

type grafanaVersion struct{ major, minor int }

func (v grafanaVersion) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}

// parseGrafanaVersion accepts "12.1.0", "v10.4.2", "11.0.0-pre"; only the
// versions whose plugin mode was checked (9–12) are accepted.
func parseGrafanaVersion(s string) (grafanaVersion, error) {
	parts := strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3)
	if len(parts) < 2 {
		return grafanaVersion{}, fmt.Errorf("pluginhost: GrafanaVersion %q is not major.minor.patch", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	if err1 != nil || err2 != nil {
		return grafanaVersion{}, fmt.Errorf("pluginhost: GrafanaVersion %q is not major.minor.patch", s)
	}
	if major < 9 || major > 12 {
		return grafanaVersion{}, fmt.Errorf("pluginhost: Grafana %s has no renderer plugin mode modelled here (9–12)", s)
	}
	return grafanaVersion{major, minor}, nil
}

// Install is how Grafana was installed; it decides what environment
// Grafana's own process has, which renderer plugins inherit.
type Install string

const (
	// InstallByHand is Grafana started from a shell (a tarball or a build):
	// the test's own environment, with nothing about Grafana's paths.
	InstallByHand Install = ""
	// InstallDocker is Grafana's Docker image: its Dockerfile sets
	// GF_PATHS_CONFIG, GF_PATHS_DATA, GF_PATHS_HOME, GF_PATHS_LOGS,
	// GF_PATHS_PLUGINS and GF_PATHS_PROVISIONING, on the test's environment.
	InstallDocker Install = "docker"
	// InstallPackage is the deb or rpm package under systemd: the unit
	// (packaging/deb/systemd/grafana-server.service) reads
	// /etc/default/grafana-server (rpm: /etc/sysconfig/grafana-server) as
	// its EnvironmentFile, so Grafana has GRAFANA_USER, GRAFANA_GROUP,
	// GRAFANA_HOME, LOG_DIR, DATA_DIR, MAX_OPEN_FILES, CONF_DIR, CONF_FILE,
	// RESTART_ON_UPGRADE, PLUGINS_DIR, PROVISIONING_CFG_DIR and PID_FILE_DIR
	// and passes DATA_DIR to itself as cfg:default.paths.data, so
	// GF_PATHS_DATA is not set. systemd adds PATH, HOME (the grafana user's
	// home, /usr/share/grafana, which it may not write), USER, LOGNAME,
	// SHELL, INVOCATION_ID and JOURNAL_STREAM, and nothing of the shell that
	// started it. Not modelled: PrivateTmp (the plugin's /tmp is Grafana's
	// own, emptied at restart), ProtectHome, RestrictNamespaces and the
	// other sandboxing of the unit, which need a service manager.
	InstallPackage Install = "deb/rpm"
)

// grafanaProcessEnv is Grafana's own process environment for cfg.Install,
// and what to remove when the host stops.
func grafanaProcessEnv(cfg Config) ([]string, func(), error) {
	switch cfg.Install {
	case InstallByHand:
		return os.Environ(), nil, nil
	case InstallDocker:
		return append(os.Environ(),
			"GF_PATHS_CONFIG=/etc/grafana/grafana.ini",
			"GF_PATHS_DATA="+cfg.DataPath,
			"GF_PATHS_HOME=/usr/share/grafana",
			"GF_PATHS_LOGS=/var/log/grafana",
			"GF_PATHS_PLUGINS="+filepath.Join(cfg.DataPath, "plugins"),
			"GF_PATHS_PROVISIONING=/etc/grafana/provisioning",
		), nil, nil
	case InstallPackage:
		// A home no one may write, root included: a path below a file.
		state, err := os.MkdirTemp("", "pluginhost-home-")
		if err != nil {
			return nil, nil, err
		}
		blocker := filepath.Join(state, "usr-share-grafana")
		if err := os.WriteFile(blocker, nil, 0o444); err != nil {
			os.RemoveAll(state)
			return nil, nil, err
		}
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		return []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"HOME=" + filepath.Join(blocker, "grafana"),
			"USER=grafana", "LOGNAME=grafana", "SHELL=/bin/false",
			"INVOCATION_ID=" + hex.EncodeToString(id), "JOURNAL_STREAM=8:23456",
			"GRAFANA_USER=grafana", "GRAFANA_GROUP=grafana", "GRAFANA_HOME=/usr/share/grafana",
			"LOG_DIR=/var/log/grafana", "DATA_DIR=" + cfg.DataPath, "MAX_OPEN_FILES=10000",
			"CONF_DIR=/etc/grafana", "CONF_FILE=/etc/grafana/grafana.ini", "RESTART_ON_UPGRADE=true",
			"PLUGINS_DIR=" + filepath.Join(cfg.DataPath, "plugins"), "PROVISIONING_CFG_DIR=/etc/grafana/provisioning",
			"PID_FILE_DIR=/var/run/grafana",
		}, func() { os.RemoveAll(state) }, nil
	}
	return nil, nil, fmt.Errorf("pluginhost: Install %q is not one of %q, %q, %q", cfg.Install, InstallByHand, InstallDocker, InstallPackage)
}
