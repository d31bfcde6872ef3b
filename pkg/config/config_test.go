package config

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFromPluginEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     []string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.TLSMode != TLSCallback || c.Width != 1000 || c.Concurrency != 8 || c.Timeout != 30*time.Second {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "new keys", env: []string{"GF_PLUGIN_TLS_MODE=strict", "GF_PLUGIN_CONCURRENCY=2", "GF_PLUGIN_TIMEOUT=45s"},
			check: func(t *testing.T, c Config) {
				if c.TLSMode != TLSStrict || c.Concurrency != 2 || c.Timeout != 45*time.Second {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "old renderer keys", env: []string{"GF_PLUGIN_RENDERING_IGNORE_HTTPS_ERRORS=true",
			"GF_PLUGIN_RENDERING_CHROME_BIN=/bin/sh", "GF_PLUGIN_RENDERING_ARGS=--lang=de,--font-render-hinting=none",
			"GF_PLUGIN_RENDERING_TIMEZONE=Europe/Berlin", "GF_PLUGIN_RENDERING_VIEWPORT_MAX_WIDTH=2000",
			"GF_PLUGIN_RENDERING_CLUSTERING_MAX_CONCURRENCY=3", "GF_PLUGIN_RENDERING_CLUSTERING_TIMEOUT=60",
			"GF_PLUGIN_RENDERING_VERBOSE_LOGGING=true", "GF_PLUGIN_RENDERING_MODE=clustered"},
			check: func(t *testing.T, c Config) {
				if c.TLSMode != TLSInsecure || c.ChromiumPath != "/bin/sh" || len(c.ChromiumArgs) != 2 ||
					c.Timezone != "Europe/Berlin" || c.MaxWidth != 2000 || c.Concurrency != 3 ||
					c.Timeout != time.Minute || c.LogLevel != "debug" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "new name wins over old", env: []string{"GF_PLUGIN_RENDERING_IGNORE_HTTPS_ERRORS=true", "GF_PLUGIN_TLS_MODE=callback"},
			check: func(t *testing.T, c Config) {
				if c.TLSMode != TLSCallback {
					t.Errorf("tls_mode %q", c.TLSMode)
				}
			}},
		{name: "ignore https errors false keeps callback", env: []string{"GF_PLUGIN_RENDERING_IGNORE_HTTPS_ERRORS=false"},
			check: func(t *testing.T, c Config) {
				if c.TLSMode != TLSCallback {
					t.Errorf("tls_mode %q", c.TLSMode)
				}
			}},
		{name: "bad mode names key", env: []string{"GF_PLUGIN_TLS_MODE=sometimes"}, wantErr: "tls_mode"},
		{name: "bad number names key", env: []string{"GF_PLUGIN_CONCURRENCY=lots"}, wantErr: "concurrency"},
		{name: "out of range names key", env: []string{"GF_PLUGIN_WIDTH=0"}, wantErr: "width"},
		{name: "bad bool names key", env: []string{"GF_PLUGIN_RENDERING_IGNORE_HTTPS_ERRORS=maybe"}, wantErr: "rendering_ignore_https_errors"},
		{name: "bad timezone", env: []string{"GF_PLUGIN_TIMEZONE=Mars/Olympus"}, wantErr: "timezone"},
		{name: "missing chromium file", env: []string{"GF_PLUGIN_CHROMIUM_PATH=/nonexistent/chromium"}, wantErr: "chromium_path"},
		{name: "bad url", env: []string{"GF_PLUGIN_GRAFANA_URL=ftp://x"}, wantErr: "grafana_url"},
		{name: "missing CA file", env: []string{"GF_PLUGIN_GRAFANA_CA_FILE=/nonexistent/ca.pem"}, wantErr: "grafana_ca_file"},
		{name: "bad pin", env: []string{"GF_PLUGIN_GRAFANA_CERT_SHA256=abc"}, wantErr: "grafana_cert_sha256"},
		{name: "pin in strict", env: []string{"GF_PLUGIN_TLS_MODE=strict",
			"GF_PLUGIN_GRAFANA_CERT_SHA256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}, wantErr: "grafana_cert_sha256"},
		{name: "pins", env: []string{"GF_PLUGIN_GRAFANA_CERT_SHA256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=, " +
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, check: func(t *testing.T, c Config) {
			if len(c.GrafanaPins) != 2 {
				t.Errorf("pins %q", c.GrafanaPins)
			}
		}},
		{name: "relative output dir", env: []string{"GF_PLUGIN_OUTPUT_DIRS=/var/lib/grafana/png,png"}, wantErr: "output_dirs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := FromPluginEnv(c.env)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to name %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

// A key of [plugin.panelcast-renderer] that Panelcast does not know stops
// the plugin with a sentence naming it, as the README promises: a typo such
// as tls_mod would otherwise leave the operator with a setting that is
// silently not in force. Grafana's own GF_PLUGIN_* variables, and other
// plugins' GF_PLUGIN_<ID>_<KEY> overrides that Grafana's environment may
// carry to a renderer, are no keys of the section and are left alone.
func TestFromPluginEnvUnknownKeys(t *testing.T) {
	grafanaOwn := []string{
		"GF_PLUGIN_VERSION=4.0.0", "GF_PLUGIN_TRACING=true", // tracing is a key Grafana reads itself
		"GF_PLUGIN_APP_CLIENT_ID=x", "GF_PLUGIN_APP_CLIENT_SECRET=s3cret", "GF_PLUGIN_APP_PRIVATE_KEY=-----BEGIN",
		"GF_PLUGIN_GRPC_ADDRESS_PANELCAST_RENDERER=127.0.0.1:1", // the SDK's standalone debugging address
		"GF_PLUGIN_GRAFANA_IMAGE_RENDERER_RENDERING_ARGS=--no-sandbox", "GF_PLUGIN_MYORG_CLOCK_PANEL_FOO=1",
		"GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=panelcast-renderer",
	}
	cfg, ignored, err := FromPluginEnv(append([]string{"GF_PLUGIN_TLS_MODE=strict"}, grafanaOwn...))
	if err != nil || cfg.TLSMode != TLSStrict {
		t.Fatalf("Grafana's own variables must not stop the plugin: %v", err)
	}
	if len(ignored) != 2 || !strings.HasPrefix(ignored[0], "GF_PLUGIN_GRAFANA_IMAGE_RENDERER_") || !strings.HasPrefix(ignored[1], "GF_PLUGIN_MYORG_CLOCK_PANEL_") {
		t.Errorf("ignored = %v, want the other plugins' overrides", ignored)
	}
	for _, c := range []struct{ env, want string }{
		{"GF_PLUGIN_TLS_MOD=strict", `"tls_mod"`},
		{"GF_PLUGIN_TLS_MOD=strict", "tls_mode"}, // the key it probably meant
		{"GF_PLUGIN_CONCURENCY=4", "concurrency"},
		{"GF_PLUGIN_ENABLE_MAGIC=true", `"enable_magic"`},
	} {
		_, _, err := FromPluginEnv(append([]string{c.env}, grafanaOwn...))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "[plugin.panelcast-renderer]") {
			t.Errorf("%s: err = %v, want a sentence naming %s", c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error repeats a secret: %v", err)
		}
	}
}

func TestFromArgsPrecedence(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "token")
	os.WriteFile(secret, []byte("from-file\n"), 0o600)
	file := filepath.Join(dir, "panelcast.ini")
	os.WriteFile(file, []byte("[plugin.panelcast-renderer]\n# comment\nconcurrency = 2\nwidth = 800\nauth_token = $__file{"+secret+"}\ntimezone = \"Europe/Paris\"\n"), 0o600)
	env := []string{"PANELCAST_CONFIG=" + file, "PANELCAST_WIDTH=900", "PANELCAST_HEIGHT=300", "TOKEN2=t2",
		"PANELCAST_API_TOKEN=$__env{TOKEN2}"}
	c, _, err := FromArgs("test", []string{"--height", "400", "-max-scale=2"}, env, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 2 || c.Width != 900 || c.Height != 400 || c.MaxScale != 2 || c.Timezone != "Europe/Paris" {
		t.Errorf("precedence: %+v", c)
	}
	if len(c.AuthTokens) != 1 || c.AuthTokens[0].Reveal() != "from-file" || len(c.APITokens) != 1 || c.APITokens[0].Reveal() != "t2" {
		t.Errorf("secrets: %v %v", c.AuthTokens, c.APITokens)
	}
	if got := c.Get("auth_token"); got != "(set)" {
		t.Errorf("Get masks secrets: %q", got)
	}
}

func TestFromArgsErrors(t *testing.T) {
	cases := []struct {
		args, env []string
		want      string
	}{
		{args: []string{"--concurrency", "0"}, want: "concurrency"},
		{args: []string{"--nope", "1"}, want: "nope"},
		{env: []string{"PANELCAST_TIMEOUT=soon"}, want: "PANELCAST_TIMEOUT"},
		{env: []string{"PANELCAST_CONFIG=/nonexistent.ini"}, want: "--config"},
		{env: []string{"PANELCAST_AUTH_TOKEN=$__file{/nonexistent/token}"}, want: "$__file"},
	}
	for _, c := range cases {
		_, _, err := FromArgs("test", c.args, c.env, &bytes.Buffer{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err = %v, want it to mention %q", c.args, c.env, err, c.want)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	for _, in := range []string{"width\n", "nokey = 1\n", "width = wide\n"} {
		c := Default()
		if err := ReadFile(&c, strings.NewReader(in), nil); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: err = %v, want a line number", in, err)
		}
	}
}

func FuzzReadFile(f *testing.F) {
	f.Add("[plugin.panelcast-renderer]\nwidth = 800\ntls_mode = strict\n")
	f.Add("auth_token = \"$__env{X}\"\n; c\n# c\n")
	f.Add("rendering_ignore_https_errors = true\ntimeout = 2.5\n")
	f.Fuzz(func(t *testing.T, in string) {
		c := Default()
		if err := ReadFile(&c, strings.NewReader(in), map[string]string{"X": "y"}); err != nil {
			return
		}
		// Whatever was accepted is either valid or refused by Validate with
		// a message, never a panic.
		_ = c.Validate()
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "2m", "45", "1.5", "", "-1", "1e309"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDuration(s)
	})
}

func TestOutboxKeys(t *testing.T) {
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "pw")
	os.WriteFile(pwfile, []byte("s3cret\n"), 0o600)
	c, _, err := FromArgs("test", []string{"--outbox-url", "postgres://pc:$__file{" + pwfile + "}@db:5432/pc?sslmode=require",
		"--outbox_retention", "24h", "--outbox-lease", "10s"}, nil, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.OutboxURL.Reveal() != "postgres://pc:s3cret@db:5432/pc?sslmode=require" || c.OutboxRetention != 24*time.Hour || c.OutboxLease != 10*time.Second {
		t.Errorf("got %q %s %s", c.OutboxURL.Reveal(), c.OutboxRetention, c.OutboxLease)
	}
	if got := c.Get("outbox_url"); got != "(set)" {
		t.Errorf("Get shows outbox_url: %q", got)
	}
	if d := Default(); d.OutboxRetention != 168*time.Hour || d.OutboxLease != time.Minute || d.OutboxURL.IsSet() {
		t.Errorf("defaults: %s %s %q", d.OutboxRetention, d.OutboxLease, d.OutboxURL)
	}

	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"PANELCAST_OUTBOX_URL=mysql://u:s3cret@db/x"}, "outbox_url: is not a URL such as postgres://"},
		{[]string{"PANELCAST_OUTBOX_URL=host=db password=s3cret"}, "outbox_url: is not a URL such as postgres://"},
		{[]string{"PANELCAST_OUTBOX_URL=postgres://u:s3cret@db/x", "PANELCAST_OUTBOX_PATH=/var/lib/p.db"}, "not both"},
		{[]string{"PANELCAST_OUTBOX_RETENTION=10m"}, "outbox_retention: must be at least 1h"},
		{[]string{"PANELCAST_OUTBOX_LEASE=1s"}, "outbox_lease: must be 5s..10m"},
	} {
		_, _, err := FromArgs("test", nil, c.env, &bytes.Buffer{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: err = %v; want %q without the password", c.env, err, c.want)
		}
	}
}

// TestBrowserIdleTimeoutDefaults: inside Grafana the browser stops sooner
// than in serve, and a setting wins over either default.
func TestBrowserIdleTimeoutDefaults(t *testing.T) {
	plugin, _, err := FromPluginEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	serve, _, err := FromArgs("serve", nil, nil, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, _, err := FromPluginEnv([]string{"GF_PLUGIN_BROWSER_IDLE_TIMEOUT=0"})
	if err != nil {
		t.Fatal(err)
	}
	if plugin.BrowserIdleTimeout != PluginIdleTimeout || serve.BrowserIdleTimeout != Default().BrowserIdleTimeout ||
		PluginIdleTimeout >= serve.BrowserIdleTimeout || set.BrowserIdleTimeout != 0 {
		t.Errorf("browser_idle_timeout: plugin %s, serve %s, plugin set to 0: %s; want %s, %s, 0",
			plugin.BrowserIdleTimeout, serve.BrowserIdleTimeout, set.BrowserIdleTimeout, PluginIdleTimeout, Default().BrowserIdleTimeout)
	}
}
