package config

import (
	"strings"
	"testing"
)

// badValues holds, for every key whose value Validate checks, a value it
// must refuse and the sentence it must refuse it with. A key's check that
// is dropped, or a sentence that changes, fails TestKeyChecksRefuseBadValues;
// a check added without a bad value here fails TestEveryCheckedKeyHasBadValue.
var badValues = map[string]struct{ value, want string }{
	"chromium_path":    {"/nonexistent/chromium", `chromium_path: "/nonexistent/chromium" is not a file: install the chromium package or point the key at the browser binary`},
	"grafana_url":      {"ftp://x", `grafana_url: "ftp://x" is not an http(s) URL such as https://grafana.example.com:3000`},
	"timezone":         {"Mars/Olympus", `timezone: "Mars/Olympus" is not an IANA time zone such as Europe/Berlin`},
	"width":            {"0", "width: must be 1..3000 (max_width), got 0"},
	"height":           {"3001", "height: must be 1..3000 (max_height), got 3001"},
	"scale":            {"4.5", "scale: must be above 0 and at most 4 (max_scale), got 4.5"},
	"max_width":        {"16385", "max_width: must be 1..16384, got 16385"},
	"max_height":       {"16385", "max_height: must be 1..16384, got 16385"},
	"max_scale":        {"8.5", "max_scale: must be above 0 and at most 8, got 8.5"},
	"concurrency":      {"65", "concurrency: must be 1..64, got 65"},
	"queue_length":     {"-1", "queue_length: must be 0..10000, got -1"},
	"asset_cache_mb":   {"4097", "asset_cache_mb: must be 0..4096, got 4097"},
	"timeout":          {"0.5", "timeout: must be between 1s and max_timeout (5m0s), got 500ms"},
	"first_query_wait": {"2m", "first_query_wait: must be 0..1m, got 2m0s"},
	"recycle_after":    {"-1", "recycle_after: must be 0 (never) or more, got -1"},
	"log_level":        {"loud", `log_level: "loud" is not one of debug, info, warn, error`},
	"output_dirs":      {"/var/lib/grafana/png,png", `output_dirs: "png" is not a clean absolute folder path such as /var/lib/grafana/png`},
	"allowed_origins":  {"https://ok.example,grafana.example", `allowed_origins: "grafana.example" is not an http(s) URL such as https://grafana.example.com:3000`},
	"push_min_role":    {"editor", `push_min_role: "editor" is not one of Viewer, Editor, Admin`},
	"outbox_url":       {"mysql://u:s3cret@db/x", "outbox_url: is not a URL such as postgres://user:password@host:5432/panelcast?sslmode=require"},
	"outbox_retention": {"59m", "outbox_retention: must be at least 1h, got 59m0s"},
	"outbox_lease":     {"11m", "outbox_lease: must be 5s..10m, got 11m0s"},
	"max_attempts":     {"0", "max_attempts: must be 1..100, got 0"},
	"slack_api_url":    {"slack.com/api", `slack_api_url: "slack.com/api" is not an http(s) URL such as https://grafana.example.com:3000`},
	"mattermost_url":   {"https://", `mattermost_url: "https://" is not an http(s) URL such as https://grafana.example.com:3000`},
	"discord_api_url":  {"ws://discord.com", `discord_api_url: "ws://discord.com" is not an http(s) URL such as https://grafana.example.com:3000`},
	"telegram_api_url": {"::", `telegram_api_url: "::" is not an http(s) URL such as https://grafana.example.com:3000`},
	"alert_lookback":   {"30s", "alert_lookback: must be between 1m and 720h, got 30s"},
	"alert_width":      {"3001", "alert_width: must be 1..3000 (max_width), got 3001"},
	"alert_height":     {"0", "alert_height: must be 1..3000 (max_height), got 0"},
	"alert_theme":      {"blue", `alert_theme: "blue" is not light or dark`},
	"alert_grouping":   {"incident", `alert_grouping: "incident" is not alert (a message per alert) or group (a message per notification group)`},

	"browser_idle_timeout": {"500ms", "browser_idle_timeout: must be 0 (never) or at least 1s, got 500ms"},
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
}

// Each bad value, set alone on the defaults, is refused with exactly its
// sentence, which starts with the key an operator has to fix.
func TestKeyChecksRefuseBadValues(t *testing.T) {
	for key, bad := range badValues {
		t.Run(key, func(t *testing.T) {
			c := Default()
			if err := c.Set(key, bad.value); err != nil {
				t.Fatalf("Set: %v", err)
			}
			err := c.Validate()
			if err == nil {
				t.Fatalf("%s = %q passes Validate", key, bad.value)
			}
			if got := err.Error(); got != bad.want {
				t.Errorf("err = %q\nwant  %q", got, bad.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestEveryCheckedKeyHasBadValue(t *testing.T) {
	known := map[string]bool{}
	for _, k := range Keys {
		known[k.Name] = true
		if _, ok := badValues[k.Name]; (k.check != nil) != ok {
			t.Errorf("%s: has a check = %v, has a bad value in badValues = %v; want both or neither", k.Name, k.check != nil, ok)
		}
	}
	for key := range badValues {
		if !known[key] {
			t.Errorf("badValues names %s, which is no key", key)
		}
	}
}

// The checks that judge several keys together.
func TestCrossKeyChecks(t *testing.T) {
	for _, c := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"bad tls_mode", map[string]string{"tls_mode": "sometimes"}, `tls_mode: "sometimes" is not one of callback, strict, insecure`},
		{"missing CA file", map[string]string{"grafana_ca_file": "/nonexistent/ca.pem"}, "grafana_ca_file: open /nonexistent/ca.pem: no such file or directory: point it at a readable PEM file of the CA that issued Grafana's certificate"},
		{"pin in strict", map[string]string{"tls_mode": "strict", "grafana_cert_sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
			"grafana_cert_sha256: a pinned key is trusted whatever names its certificate has, and tls_mode = strict checks names: use tls_mode = callback with the pin, or grafana_ca_file"},
		{"both outboxes", map[string]string{"outbox_url": "postgres://u:s3cret@db/x", "outbox_path": "/var/lib/p.db"},
			"outbox_url: set either outbox_url (PostgreSQL, shared by replicas) or outbox_path (an SQLite file), not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			for k, v := range c.set {
				if err := cfg.Set(k, v); err != nil {
					t.Fatalf("Set(%s): %v", k, err)
				}
			}
			err := cfg.Validate()
			if err == nil || err.Error() != c.want {
				t.Errorf("err = %v\nwant  %q", err, c.want)
			}
		})
	}
}

// Every bad entry of a list key is its own sentence, each naming the key.
func TestListKeyNamesEachBadEntry(t *testing.T) {
	c := Default()
	if err := c.Set("output_dirs", "png,/var/lib/grafana/png,/tmp/../pdf"); err != nil {
		t.Fatal(err)
	}
	want := `output_dirs: "png" is not a clean absolute folder path such as /var/lib/grafana/png` + "\n" +
		`output_dirs: "/tmp/../pdf" is not a clean absolute folder path such as /var/lib/grafana/png`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %q", err, want)
	}
}
