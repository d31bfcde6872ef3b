package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// FromPluginEnv builds the configuration from the environment Grafana gives
// a plugin: each key of [plugin.panelcast-renderer] arrives as
// GF_PLUGIN_<KEY>. A GF_PLUGIN_* name that is no key is an error naming it,
// unless Grafana sets it itself (see grafanaOwn) or it is another plugin's
// GF_PLUGIN_<ID>_<KEY> override from Grafana's own environment, which
// renderer plugins inherit; those are returned so the caller can log them.
func FromPluginEnv(environ []string) (Config, []string, error) {
	c := Default()
	c.BrowserIdleTimeout = PluginIdleTimeout
	env := envMap(environ)
	known := map[string]bool{}
	// Old names first so that the new name wins when both are set.
	for _, k := range Keys {
		for _, a := range k.Aliases {
			name := "GF_PLUGIN_" + strings.ToUpper(a)
			known[name] = true
			if v, ok := env[name]; ok {
				if err := c.Set(a, v); err != nil {
					return c, nil, fmt.Errorf("[plugin.panelcast-renderer] %w", err)
				}
			}
		}
	}
	for _, k := range Keys {
		name := "GF_PLUGIN_" + strings.ToUpper(k.Name)
		known[name] = true
		if v, ok := env[name]; ok {
			if err := c.Set(k.Name, v); err != nil {
				return c, nil, fmt.Errorf("[plugin.panelcast-renderer] %w", err)
			}
		}
	}
	for old := range ignoredOldKeys {
		known["GF_PLUGIN_"+strings.ToUpper(old)] = true
	}
	var others, unknown []string
	for name := range env {
		switch {
		case !strings.HasPrefix(name, "GF_PLUGIN_") || known[name] || grafanaOwn(name):
		case otherPluginOverride.MatchString(name):
			others = append(others, name)
		default:
			unknown = append(unknown, name)
		}
	}
	sort.Strings(others)
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return c, others, unknownKeys(unknown)
	}
	if c.ChromiumPath == "" {
		c.ChromiumPath = env["PANELCAST_CHROMIUM"]
	}
	c.Grafana = grafanaEnv(env)
	if err := c.Validate(); err != nil {
		return c, others, fmt.Errorf("[plugin.panelcast-renderer] %w", err)
	}
	return c, others, nil
}

// grafanaEnv is what Grafana's environment says about the plugin's place.
func grafanaEnv(env map[string]string) *GrafanaEnv {
	g := &GrafanaEnv{}
	for _, v := range []string{"GF_PATHS_DATA", "DATA_DIR"} {
		// A relative path is relative to Grafana's home, which a plugin
		// does not know.
		if p := strings.TrimSpace(env[v]); filepath.IsAbs(p) {
			g.DataDirs = append(g.DataDirs, EnvDir{v, filepath.Clean(p)})
		}
	}
	return g
}

// FromAppSettings builds the configuration of the app plugin from its
// settings page: plain keys in jsonData, secret keys in secureJsonData
// (Grafana decrypts them for the backend and never shows them to the
// browser again), by the same names as everywhere else. A key in the wrong
// half, or no key at all, is an error naming it. A jsonData value may be
// any JSON: a string is taken as it is, anything else as its JSON text
// (destinations is a list, free_addresses a boolean). An empty value keeps
// the key's default, as an empty field of the settings page, or a
// provisioning file's variable that is not set, means.
func FromAppSettings(jsonData []byte, secure map[string]string, environ []string) (Config, error) {
	c := Default()
	c.BrowserIdleTimeout = PluginIdleTimeout
	var plain map[string]json.RawMessage
	if len(bytes.TrimSpace(jsonData)) > 0 {
		if err := json.Unmarshal(jsonData, &plain); err != nil {
			return c, fmt.Errorf("the app's settings (jsonData) are not a JSON object: %v; save the settings page again", err)
		}
	}
	secretKeys := map[string]bool{}
	for _, k := range Keys {
		secretKeys[k.Name] = k.Secret
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(plain)) {
		isSecret, known := secretKeys[name]
		switch {
		case !known:
			errs = append(errs, fmt.Errorf("%s: the app has no such setting; `panelcast keys` lists every setting", name))
			continue
		case isSecret:
			errs = append(errs, fmt.Errorf("%s: is a secret and belongs in secureJsonData, where the browser cannot read it back: set it again as a secure field", name))
			continue
		}
		v := string(plain[name])
		var text string
		if json.Unmarshal(plain[name], &text) == nil {
			v = text
		}
		if strings.TrimSpace(v) == "" || v == "null" {
			continue
		}
		if err := c.Set(name, v); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(secure)) {
		if isSecret, known := secretKeys[name]; !known || !isSecret {
			errs = append(errs, fmt.Errorf("%s: is not a secret setting, so it is not read from secureJsonData: set it as a plain field", name))
			continue
		}
		if strings.TrimSpace(secure[name]) == "" {
			continue
		}
		if err := c.Set(name, secure[name]); err != nil {
			errs = append(errs, err)
		}
	}
	c.Grafana = grafanaEnv(envMap(environ))
	if len(errs) == 0 {
		errs = append(errs, c.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("the app's settings: %w", err)
	}
	return c, nil
}

// grafanaOwn reports the GF_PLUGIN_* variables that Grafana or the plugin
// SDK define: GF_PLUGIN_VERSION (sent with tracing), the section's key
// tracing (which Grafana reads itself), the app client credentials Grafana
// gives plugins with an external service registration, and the SDK's
// standalone debugging address GF_PLUGIN_GRPC_ADDRESS_<ID>.
func grafanaOwn(name string) bool {
	switch {
	case name == "GF_PLUGIN_VERSION", name == "GF_PLUGIN_TRACING",
		strings.HasPrefix(name, "GF_PLUGIN_APP_"), strings.HasPrefix(name, "GF_PLUGIN_GRPC_"),
		strings.HasPrefix(name, "GF_PLUGIN_TRACING_"):
		return true
	}
	return false
}

// otherPluginOverride is Grafana's environment override of another plugin's
// section, GF_PLUGIN_<ORG>_<NAME>_<TYPE>_<KEY> for a plugin id
// org-name-type (grafana-image-renderer, myorg-clock-panel); none of
// Panelcast's keys has that shape.
var otherPluginOverride = regexp.MustCompile(`^GF_PLUGIN_[A-Z0-9]+(_[A-Z0-9]+)*_(APP|PANEL|DATASOURCE|RENDERER|SECRETSMANAGER)_[A-Z0-9_]+$`)

// unknownKeys names each unknown key as the operator wrote it, with the key
// it is closest to, without repeating a value (it could be a secret).
func unknownKeys(names []string) error {
	var parts []string
	for _, name := range names {
		key := strings.ToLower(strings.TrimPrefix(name, "GF_PLUGIN_"))
		part := fmt.Sprintf("%q (%s)", key, name)
		if near := nearestKey(key); near != "" {
			part += fmt.Sprintf(", did you mean %s?", near)
		}
		parts = append(parts, part)
	}
	return fmt.Errorf("[plugin.panelcast-renderer] has no setting %s: fix the name or remove the line; `panelcast keys` lists every setting", strings.Join(parts, "; "))
}

// nearestKey is the key (or old image-renderer key) within two edits of
// name, if any.
func nearestKey(name string) string {
	best, bestDist := "", 3
	for _, k := range Keys {
		for _, n := range append([]string{k.Name}, k.Aliases...) {
			if d := editDistance(name, n); d < bestDist {
				best, bestDist = n, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// FromArgs builds the configuration of a command started by a person:
// defaults, then the file named by --config (or PANELCAST_CONFIG), then
// PANELCAST_<KEY> variables, then flags (--key_name or --key-name). extra
// may add the command's own flags before parsing.
func FromArgs(name string, args, environ []string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, *flag.FlagSet, error) {
	c := Default()
	env := envMap(environ)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	configPath := fs.String("config", env["PANELCAST_CONFIG"], "optional file of key = value lines (the keys below)")
	flagged := map[string]string{}
	for _, k := range Keys {
		k := k
		set := func(v string) error { flagged[k.Name] = v; return nil }
		fs.Func(k.Name, k.Help, set)
		if dashed := strings.ReplaceAll(k.Name, "_", "-"); dashed != k.Name {
			fs.Func(dashed, "same as -"+k.Name, set)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, fs, err
	}
	if *configPath != "" {
		f, err := os.Open(*configPath)
		if err != nil {
			return c, fs, fmt.Errorf("config file: %w: check the --config path", err)
		}
		err = ReadFile(&c, f, env)
		f.Close()
		if err != nil {
			return c, fs, fmt.Errorf("config file %s: %w", *configPath, err)
		}
	}
	for _, k := range Keys {
		if v, ok := env["PANELCAST_"+strings.ToUpper(k.Name)]; ok {
			if err := setExpanded(&c, k.Name, v, env); err != nil {
				return c, fs, fmt.Errorf("PANELCAST_%s: %w", strings.ToUpper(k.Name), err)
			}
		}
	}
	if c.ChromiumPath == "" {
		c.ChromiumPath = env["PANELCAST_CHROMIUM"]
	}
	for _, k := range Keys {
		if v, ok := flagged[k.Name]; ok {
			if err := setExpanded(&c, k.Name, v, env); err != nil {
				return c, fs, fmt.Errorf("flag -%w", err)
			}
		}
	}
	return c, fs, c.Validate()
}

// ReadFile applies "key = value" lines; [section] headers, blank lines and
// lines starting with # or ; are skipped, so a copy of the plugin's
// grafana.ini section works as it is.
func ReadFile(c *Config, r io.Reader, env map[string]string) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("line %d: %q is not key = value", n, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' && value[len(value)-1] == '"' || value[0] == '\'' && value[len(value)-1] == '\'') {
			value = value[1 : len(value)-1]
		}
		if err := setExpanded(c, strings.TrimSpace(key), value, env); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

var expansion = regexp.MustCompile(`\$__(env|file)\{([^}]*)\}`)

// expand resolves Grafana's $__env{VAR} and $__file{path} so secrets can stay
// out of the config file, as they can in grafana.ini.
func expand(v string, env map[string]string) (string, error) {
	var ferr error
	out := expansion.ReplaceAllStringFunc(v, func(m string) string {
		p := expansion.FindStringSubmatch(m)
		if p[1] == "env" {
			return env[p[2]]
		}
		b, err := os.ReadFile(p[2])
		if err != nil && ferr == nil {
			ferr = fmt.Errorf("$__file{%s}: %w: check the path and its permissions", p[2], err)
		}
		return strings.TrimSpace(string(b))
	})
	return out, ferr
}

// setExpanded expands a value, then applies it.
func setExpanded(c *Config, name, value string, env map[string]string) error {
	v, err := expand(value, env)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return c.Set(name, v)
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
