package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/secret"
)

// Key describes one setting: its name (the same in grafana.ini, as a flag
// and as PANELCAST_<NAME>), the old image renderer's names that mean the
// same, and how a text value is applied.
type Key struct {
	Name    string
	Aliases []string
	Help    string
	// Secret says the value is a secret.Value: never shown, Get says
	// "(set)".
	Secret  bool
	set     func(c *Config, v string) error
	get     func(c *Config) string
	secrets func(c *Config) []secret.Value
	// check judges the key's value for Validate, which puts the key's name
	// before the sentence; nil when any value will do.
	check func(c *Config) error
}

// checked gives a key the check Validate runs on its value.
func (k Key) checked(check func(c *Config) error) Key {
	k.check = check
	return k
}

// Secrets are the values of every secret key that is set, so that whatever
// keeps them out of texts (the error scrubber) knows them all, including
// keys added later.
func (c *Config) Secrets() []secret.Value {
	var out []secret.Value
	for _, k := range Keys {
		if k.secrets != nil {
			for _, v := range k.secrets(c) {
				if v.IsSet() {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// Keys lists every setting in the order docs/configuration.md (generated
// from it by tools/docgen) and `panelcast keys` show them.
var Keys = []Key{
	str("chromium_path", "Chromium binary; empty searches PANELCAST_CHROMIUM, then chromium-headless-shell (preferred: half the CPU per render), chrome-headless-shell, chromium, chromium-browser, google-chrome on the PATH", func(c *Config) *string { return &c.ChromiumPath }, "rendering_chrome_bin").
		checked(checkChromiumPath),
	list("chromium_args", "extra Chromium flags, comma-separated (e.g. --lang=de)", func(c *Config) *[]string { return &c.ChromiumArgs }, "rendering_args"),
	{Name: "tls_mode", Aliases: []string{"rendering_ignore_https_errors"},
		Help: "which certificate errors are tolerated: callback (forgive a loopback callback origin such as https://localhost:3000; any other origin must verify or match grafana_ca_file or grafana_cert_sha256), strict (verify everything, loopback too), insecure (accept everything); rendering_ignore_https_errors=true means insecure",
		set: func(c *Config, v string) error {
			c.TLSMode = TLSMode(strings.ToLower(strings.TrimSpace(v)))
			return nil
		},
		get: func(c *Config) string { return string(c.TLSMode) }},
	str("grafana_ca_file", "PEM file of the CA(s) that issued Grafana's certificate, trusted besides the system's (callback and strict)", func(c *Config) *string { return &c.GrafanaCAFile }),
	list("grafana_cert_sha256", "SHA-256 of Grafana's certificate key (SubjectPublicKeyInfo), hex or base64, comma-separated for a rotation; trusted whatever names the certificate has (callback only)", func(c *Config) *[]string { return &c.GrafanaPins }),
	str("grafana_url", "Grafana's URL as the renderer reaches it; default: Grafana's app URL from the plugin context or GF_APP_URL; serve with neither this nor allowed_origins renders its built-in demo dashboard", func(c *Config) *string { return &c.GrafanaURL }).
		checked(func(c *Config) error { return optionalHTTPURL(c.GrafanaURL) }),
	str("timezone", "IANA time zone used when a request names none; default: the browser's (the machine's)", func(c *Config) *string { return &c.Timezone }, "rendering_timezone").
		checked(checkTimezone),
	str("language", "Accept-Language sent when a request names none", func(c *Config) *string { return &c.Language }, "rendering_language"),
	integer("width", "default viewport width in CSS pixels", func(c *Config) *int { return &c.Width }, "rendering_viewport_width").
		checked(func(c *Config) error { return upTo(c.Width, c.MaxWidth, "max_width") }),
	integer("height", "default viewport height in CSS pixels", func(c *Config) *int { return &c.Height }, "rendering_viewport_height").
		checked(func(c *Config) error { return upTo(c.Height, c.MaxHeight, "max_height") }),
	float("scale", "default device scale factor", func(c *Config) *float64 { return &c.Scale }, "rendering_viewport_device_scale_factor").
		checked(func(c *Config) error {
			return refuseIf(c.Scale <= 0 || c.Scale > c.MaxScale, "must be above 0 and at most %g (max_scale), got %g", c.MaxScale, c.Scale)
		}),
	integer("max_width", "largest width accepted", func(c *Config) *int { return &c.MaxWidth }, "rendering_viewport_max_width").
		checked(func(c *Config) error { return between(c.MaxWidth, 1, 16384) }),
	integer("max_height", "largest height accepted (also caps full-page captures)", func(c *Config) *int { return &c.MaxHeight }, "rendering_viewport_max_height").
		checked(func(c *Config) error { return between(c.MaxHeight, 1, 16384) }),
	float("max_scale", "largest device scale factor accepted", func(c *Config) *float64 { return &c.MaxScale }, "rendering_viewport_max_device_scale_factor").
		checked(func(c *Config) error {
			return refuseIf(c.MaxScale <= 0 || c.MaxScale > 8, "must be above 0 and at most 8, got %g", c.MaxScale)
		}),
	integer("concurrency", "renders running at once in the one browser", func(c *Config) *int { return &c.Concurrency }, "rendering_clustering_max_concurrency").
		checked(func(c *Config) error { return between(c.Concurrency, 1, 64) }),
	integer("queue_length", "renders that may wait for a slot; more are refused at once", func(c *Config) *int { return &c.QueueLength }).
		checked(func(c *Config) error { return between(c.QueueLength, 0, 10000) }),
	duration("timeout", "render timeout when a request names none (Go duration or seconds)", func(c *Config) *time.Duration { return &c.Timeout }, "rendering_clustering_timeout").
		checked(func(c *Config) error {
			return refuseIf(c.Timeout < time.Second || c.Timeout > c.MaxTimeout, "must be between 1s and max_timeout (%s), got %s", c.MaxTimeout, c.Timeout)
		}),
	duration("max_timeout", "largest timeout a request may ask for", func(c *Config) *time.Duration { return &c.MaxTimeout }),
	integer("asset_cache_mb", "MiB of Grafana's static files (bundles, fonts, images it marks public and cacheable) kept in memory and served to every render instead of asking Grafana again; 0 turns it off", func(c *Config) *int { return &c.AssetCacheMB }).
		checked(func(c *Config) error { return between(c.AssetCacheMB, 0, 4096) }),
	duration("first_query_wait", "how long a Grafana 10-12 page may take to start its first query before it counts as a panel without queries", func(c *Config) *time.Duration { return &c.FirstQueryWait }).
		checked(func(c *Config) error {
			return refuseIf(c.FirstQueryWait < 0 || c.FirstQueryWait > time.Minute, "must be 0..1m, got %s", c.FirstQueryWait)
		}),
	integer("recycle_after", "restart the browser after this many renders (0: never)", func(c *Config) *int { return &c.RecycleAfter }).
		checked(func(c *Config) error {
			return refuseIf(c.RecycleAfter < 0, "must be 0 (never) or more, got %d", c.RecycleAfter)
		}),
	duration("browser_idle_timeout", "stop the browser after this long without a render and start it again for the next one (0: never); the plugins' default is 5m, serve's 15m", func(c *Config) *time.Duration { return &c.BrowserIdleTimeout }).
		checked(func(c *Config) error {
			return refuseIf(c.BrowserIdleTimeout != 0 && c.BrowserIdleTimeout < time.Second, "must be 0 (never) or at least 1s, got %s", c.BrowserIdleTimeout)
		}),
	{Name: "log_level", Aliases: []string{"rendering_verbose_logging"},
		Help:  "debug, info, warn or error; rendering_verbose_logging=true means debug",
		set:   func(c *Config, v string) error { c.LogLevel = strings.ToLower(strings.TrimSpace(v)); return nil },
		get:   func(c *Config) string { return c.LogLevel },
		check: func(c *Config) error { return oneOf(c.LogLevel, "debug", "info", "warn", "error") }},
	secretList("auth_token", "renderer token(s) Grafana must present ([rendering] renderer_token), comma-separated; empty accepts any in plugin mode", func(c *Config) *[]secret.Value { return &c.AuthTokens }),
	list("output_dirs", "plugin mode: folders, comma-separated, where Render may write the file Grafana names besides its data folder's png/, pdf/ and csv/", func(c *Config) *[]string { return &c.OutputDirs }).
		checked(func(c *Config) error { return eachEntry(c.OutputDirs, checkCleanAbsDir) }),
	str("addr", "server mode: listen address", func(c *Config) *string { return &c.Addr }),
	list("allowed_origins", "origins that may be rendered besides grafana_url's (a plugin with neither renders any origin Grafana asks for), and that a page may navigate to besides its own, comma-separated", func(c *Config) *[]string { return &c.AllowedOrigins }).
		checked(func(c *Config) error { return eachEntry(c.AllowedOrigins, checkHTTPURL) }),
	duration("shutdown_timeout", "server mode: how long a shutdown waits for renders in flight", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	secretKey("grafana_token", "Grafana service-account token (Viewer is enough) the browser sends, only to Grafana's origin, when rendering panels for pushes and alerts", func(c *Config) *secret.Value { return &c.GrafanaToken }),
	secretKey("grafana_admin_token", "plugin mode: an Admin service-account token Panelcast uses only to ask Grafana whether the Grafana user pushing may view the dashboard; the browser never gets it; without it grafana_token is asked, which then needs the Admin role", func(c *Config) *secret.Value { return &c.GrafanaAdminToken }),
	secretList("api_token", "server mode: token(s) for the console, /api/, /push and /alerts (bearer, or the console's sign-in), comma-separated; without one they are open on a loopback addr and off on any other", func(c *Config) *[]secret.Value { return &c.APITokens }),
	str("push_min_role", "plugin mode: lowest Grafana role that may push (Viewer, Editor, Admin)", func(c *Config) *string { return &c.PushMinRole }).
		checked(func(c *Config) error { return oneOf(c.PushMinRole, "Viewer", "Editor", "Admin") }),
	str("outbox_path", "outbox database; default: panelcast/outbox.db in Grafana's data folder (plugin: $GF_PATHS_DATA, $DATA_DIR, else where Grafana has it write pictures), or in the user's cache folder (serve, push); never a temporary folder", func(c *Config) *string { return &c.OutboxPath }),
	secretKey("outbox_url", "PostgreSQL outbox that several replicas share, instead of outbox_path: postgres://user:password@host:5432/db?sslmode=require", func(c *Config) *secret.Value { return &c.OutboxURL }).
		checked(checkOutboxURL),
	duration("outbox_retention", "how long sent and failed jobs, their dedupe and thread keys, and inbox messages are kept", func(c *Config) *time.Duration { return &c.OutboxRetention }).
		checked(func(c *Config) error {
			return refuseIf(c.OutboxRetention < time.Hour, "must be at least 1h, got %s", c.OutboxRetention)
		}),
	duration("outbox_lease", "how long a claim on a job being sent lasts unless renewed; the jobs of a replica that died go to the others after this", func(c *Config) *time.Duration { return &c.OutboxLease }).
		checked(func(c *Config) error {
			return refuseIf(c.OutboxLease < 5*time.Second || c.OutboxLease > 10*time.Minute, "must be 5s..10m, got %s", c.OutboxLease)
		}),
	integer("max_attempts", "send attempts before a push is marked failed", func(c *Config) *int { return &c.MaxAttempts }).
		checked(func(c *Config) error { return between(c.MaxAttempts, 1, 100) }),
	secretKey("slack_bot_token", "Slack bot token (xoxb-...)", func(c *Config) *secret.Value { return &c.SlackBotToken }),
	str("slack_api_url", "Slack Web API base URL", func(c *Config) *string { return &c.SlackAPIURL }).
		checked(func(c *Config) error { return optionalHTTPURL(c.SlackAPIURL) }),
	str("mattermost_url", "Mattermost server URL", func(c *Config) *string { return &c.MattermostURL }).
		checked(func(c *Config) error { return optionalHTTPURL(c.MattermostURL) }),
	secretKey("mattermost_token", "Mattermost bot or personal access token", func(c *Config) *secret.Value { return &c.MattermostToken }),
	str("mattermost_team", "Mattermost team name used to resolve channel names", func(c *Config) *string { return &c.MattermostTeam }),
	secretKey("discord_bot_token", "Discord bot token", func(c *Config) *secret.Value { return &c.DiscordBotToken }),
	str("discord_api_url", "Discord API base URL", func(c *Config) *string { return &c.DiscordAPIURL }).
		checked(func(c *Config) error { return optionalHTTPURL(c.DiscordAPIURL) }),
	secretKey("telegram_bot_token", "Telegram bot token", func(c *Config) *secret.Value { return &c.TelegramBotToken }),
	str("telegram_api_url", "Telegram Bot API base URL", func(c *Config) *string { return &c.TelegramAPIURL }).
		checked(func(c *Config) error { return optionalHTTPURL(c.TelegramAPIURL) }),
	list("default_to", "addresses an alert goes to when neither the webhook's ?to= nor its panelcast_to label names one, comma-separated (e.g. slack:#ops)", func(c *Config) *[]string { return &c.DefaultTo }),
	{Name: "destinations", Help: `named chat addresses people pick from, a JSON list like [{"name": "Ops on Slack", "to": "slack:#ops"}]`,
		set: setDestinations, get: getDestinations},
	boolean("free_addresses", "whether a push may name an address that is not one of destinations (true), or only those (false)", func(c *Config) *bool { return &c.FreeAddresses }),
	duration("alert_lookback", "how far before an alert started its picture begins", func(c *Config) *time.Duration { return &c.AlertLookback }).
		checked(func(c *Config) error {
			return refuseIf(c.AlertLookback < time.Minute || c.AlertLookback > 30*24*time.Hour, "must be between 1m and 720h, got %s", c.AlertLookback)
		}),
	integer("alert_width", "width of alert pictures in CSS pixels", func(c *Config) *int { return &c.AlertWidth }).
		checked(func(c *Config) error { return upTo(c.AlertWidth, c.MaxWidth, "max_width") }),
	integer("alert_height", "height of alert pictures in CSS pixels", func(c *Config) *int { return &c.AlertHeight }).
		checked(func(c *Config) error { return upTo(c.AlertHeight, c.MaxHeight, "max_height") }),
	str("alert_theme", "theme of alert pictures: dark or light", func(c *Config) *string { return &c.AlertTheme }).
		checked(func(c *Config) error {
			return refuseIf(c.AlertTheme != "light" && c.AlertTheme != "dark", "%q is not light or dark", c.AlertTheme)
		}),
	str("alert_template", "file of Go text/templates that replace the built-in alert texts (see docs/alerts.md)", func(c *Config) *string { return &c.AlertTemplate }),
	str("alert_grouping", "alert: one message per alert; group: one message per notification group, with a picture per distinct panel", func(c *Config) *string { return &c.AlertGrouping }).
		checked(checkAlertGrouping),
	str("expression_panel", "uid:panelId of a dashboard panel that queries ${expr}: Prometheus alerts that name no panel are drawn there with var-expr set to their expression", func(c *Config) *string { return &c.ExpressionPanel }),
}

// Set applies one key (or one of its old names) from text. Unknown keys are
// an error so a typo in grafana.ini does not pass silently.
func (c *Config) Set(name, value string) error {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, k := range Keys {
		if k.Name == name {
			if err := k.set(c, value); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}
		for _, a := range k.Aliases {
			if a == name {
				if err := setAlias(c, k, a, value); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				return nil
			}
		}
	}
	if ignoredOldKeys[name] {
		return nil
	}
	return fmt.Errorf("%s: unknown setting; `panelcast keys` lists every key", name)
}

// ignoredOldKeys are the old image renderer's keys that mean nothing here
// (Panelcast always keeps one warm browser); accepting them lets an operator
// rename the section and keep the values.
var ignoredOldKeys = map[string]bool{
	"rendering_mode": true, "rendering_clustering_mode": true, "rendering_dumpio": true,
	"rendering_timing_metrics": true, "rendering_viewport_page_zoom_level": true,
}

func setAlias(c *Config, k Key, alias, value string) error {
	switch alias {
	case "rendering_ignore_https_errors":
		on, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%q is not true or false", value)
		}
		if on {
			c.TLSMode = TLSInsecure
		}
		return nil
	case "rendering_verbose_logging":
		on, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("%q is not true or false", value)
		}
		if on {
			c.LogLevel = "debug"
		}
		return nil
	case "rendering_args":
		// The old renderer's args include its own defaults (--no-sandbox,
		// --disable-gpu); they are harmless duplicates of ours.
		return k.set(c, value)
	}
	return k.set(c, value)
}

// Get returns a key's current value as text; a secret is "(set)" or "".
func (c *Config) Get(name string) string {
	for _, k := range Keys {
		if k.Name == name {
			return k.get(c)
		}
	}
	return ""
}

func str(name, help string, f func(*Config) *string, aliases ...string) Key {
	return Key{Name: name, Help: help, Aliases: aliases,
		set: func(c *Config, v string) error { *f(c) = strings.TrimSpace(v); return nil },
		get: func(c *Config) string { return *f(c) }}
}

// secretKey is a key whose value is a secret.Value: it is never shown,
// Get says "(set)".
func secretKey(name, help string, f func(*Config) *secret.Value) Key {
	return Key{Name: name, Help: help, Secret: true,
		set:     func(c *Config, v string) error { *f(c) = secret.New(strings.TrimSpace(v)); return nil },
		get:     func(c *Config) string { return shownSecret(f(c).IsSet()) },
		secrets: func(c *Config) []secret.Value { return []secret.Value{*f(c)} }}
}

func shownSecret(set bool) string {
	if set {
		return "(set)"
	}
	return ""
}

func list(name, help string, f func(*Config) *[]string, aliases ...string) Key {
	return Key{Name: name, Help: help, Aliases: aliases,
		set: func(c *Config, v string) error { *f(c) = splitList(v); return nil },
		get: func(c *Config) string { return strings.Join(*f(c), ",") }}
}

// secretList is a comma-separated list of secrets, such as the tokens of
// a rotation.
func secretList(name, help string, f func(*Config) *[]secret.Value) Key {
	return Key{Name: name, Help: help, Secret: true,
		set:     func(c *Config, v string) error { *f(c) = secret.List(splitList(v)...); return nil },
		get:     func(c *Config) string { return shownSecret(len(*f(c)) > 0) },
		secrets: func(c *Config) []secret.Value { return *f(c) }}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func integer(name, help string, f func(*Config) *int, aliases ...string) Key {
	return Key{Name: name, Help: help, Aliases: aliases,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			*f(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(*f(c)) }}
}

func boolean(name, help string, f func(*Config) *bool) Key {
	return Key{Name: name, Help: help,
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*f(c) = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*f(c)) }}
}

func setDestinations(c *Config, v string) error {
	if strings.TrimSpace(v) == "" {
		c.Destinations = nil
		return nil
	}
	var ds []Destination
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ds); err != nil {
		return fmt.Errorf(`is not a JSON list like [{"name": "Ops on Slack", "to": "slack:#ops"}] (%v)`, err)
	}
	seen := map[string]bool{}
	for i, d := range ds {
		if strings.TrimSpace(d.Name) == "" || strings.TrimSpace(d.To) == "" {
			return fmt.Errorf("entry %d needs both a name and a to address", i+1)
		}
		if seen[d.Name] {
			return fmt.Errorf("the name %q is given twice: give each destination its own name", d.Name)
		}
		seen[d.Name] = true
	}
	c.Destinations = ds
	return nil
}

func getDestinations(c *Config) string {
	if len(c.Destinations) == 0 {
		return ""
	}
	b, _ := json.Marshal(c.Destinations)
	return string(b)
}

func float(name, help string, f func(*Config) *float64, aliases ...string) Key {
	return Key{Name: name, Help: help, Aliases: aliases,
		set: func(c *Config, v string) error {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			*f(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.FormatFloat(*f(c), 'g', -1, 64) }}
}

// duration accepts Go durations ("45s", "2m") and bare numbers, which are
// seconds as in the old renderer's rendering_clustering_timeout.
func duration(name, help string, f func(*Config) *time.Duration, aliases ...string) Key {
	return Key{Name: name, Help: help, Aliases: aliases,
		set: func(c *Config, v string) error {
			d, err := ParseDuration(v)
			if err != nil {
				return err
			}
			*f(c) = d
			return nil
		},
		get: func(c *Config) string { return f(c).String() }}
}

// ParseDuration reads "30s", "2m" or a bare number of seconds.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 30s or 2m", v)
	}
	return d, nil
}
