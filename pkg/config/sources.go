package config

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// FromPluginEnv builds the configuration from the environment Grafana gives
// a plugin: each key of [plugin.panelcast-renderer] arrives as
// GF_PLUGIN_<KEY>. It returns the GF_PLUGIN_* names it did not know, which
// the caller logs: Grafana sets some of its own (GF_PLUGIN_VERSION, app
// client credentials), so an unknown one cannot be fatal here.
func FromPluginEnv(environ []string) (Config, []string, error) {
	c := Default()
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
	var unknown []string
	for name := range env {
		if strings.HasPrefix(name, "GF_PLUGIN_") && !known[name] && !grafanaOwn[name] && !strings.HasPrefix(name, "GF_PLUGIN_TRACING") && !strings.HasPrefix(name, "GF_PLUGIN_APP_") {
			unknown = append(unknown, name)
		}
	}
	if c.ChromiumPath == "" {
		c.ChromiumPath = env["PANELCAST_CHROMIUM"]
	}
	if err := c.Validate(); err != nil {
		return c, unknown, fmt.Errorf("[plugin.panelcast-renderer] %w", err)
	}
	return c, unknown, nil
}

// grafanaOwn are GF_PLUGIN_* variables Grafana sets itself.
var grafanaOwn = map[string]bool{"GF_PLUGIN_VERSION": true, "GF_PLUGIN_GRPC": true}

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
