package pluginhost

import (
	"fmt"
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
