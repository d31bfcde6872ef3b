// Package config holds Panelcast's one Config struct, its defaults, the
// sources it is read from (Grafana's GF_PLUGIN_* environment in plugin mode;
// flags, PANELCAST_* environment and an optional file in server mode) and
// its validation.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

// TLSMode says which certificate errors are tolerated; pkg/tlspolicy
// holds what each means.
type TLSMode = tlspolicy.Mode

const (
	TLSCallback = tlspolicy.Callback
	TLSStrict   = tlspolicy.Strict
	TLSInsecure = tlspolicy.Insecure
)

// Config is every setting Panelcast has. Zero values are replaced by
// Default(); Validate() must pass before use.
type Config struct {
	// Browser and rendering.
	ChromiumPath   string
	ChromiumArgs   []string
	TLSMode        TLSMode
	GrafanaCAFile  string
	GrafanaPins    []string
	GrafanaURL     string
	Timezone       string
	Language       string
	Width          int
	Height         int
	Scale          float64
	MaxWidth       int
	MaxHeight      int
	MaxScale       float64
	Concurrency    int
	QueueLength    int
	Timeout        time.Duration
	MaxTimeout     time.Duration
	FirstQueryWait time.Duration
	RecycleAfter   int
	LogLevel       string
	AuthTokens     []secret.Value

	// Plugin mode: folders besides Grafana's data png/, pdf/, csv/ where
	// Render may write the file Grafana names.
	OutputDirs []string

	// Server mode.
	Addr            string
	AllowedOrigins  []string
	ShutdownTimeout time.Duration

	// Chat delivery.
	GrafanaToken      secret.Value
	GrafanaAdminToken secret.Value
	APITokens         []secret.Value
	PushMinRole       string
	OutboxPath        string
	OutboxURL         secret.Value
	OutboxRetention   time.Duration
	OutboxLease       time.Duration
	MaxAttempts       int
	SlackBotToken     secret.Value
	SlackAPIURL       string
	MattermostURL     string
	MattermostToken   secret.Value
	MattermostTeam    string
	DiscordBotToken   secret.Value
	DiscordAPIURL     string
	TelegramBotToken  secret.Value
	TelegramAPIURL    string

	// Alerts.
	DefaultTo       []string
	AlertLookback   time.Duration
	AlertWidth      int
	AlertHeight     int
	AlertTheme      string
	AlertTemplate   string
	AlertGrouping   string
	ExpressionPanel string

	// Grafana is what Grafana's environment tells a plugin; nil when a
	// person started the binary. No key sets it.
	Grafana *GrafanaEnv
}

// GrafanaEnv is what the environment Grafana starts a plugin with says
// about where the plugin runs.
type GrafanaEnv struct {
	// DataDirs name Grafana's data folder, best first: GF_PATHS_DATA (set
	// only where Grafana's own process has it, as in its Docker image), then
	// DATA_DIR (the environment file of the deb and rpm packages' systemd
	// unit, which passes it to Grafana as cfg:default.paths.data).
	DataDirs []EnvDir
}

// EnvDir is a folder and the variable that named it.
type EnvDir struct{ Var, Path string }

// Alert grouping modes.
const (
	// GroupPerAlert posts one message per alert.
	GroupPerAlert = "alert"
	// GroupPerNotification posts one message per notification group.
	GroupPerNotification = "group"
)

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		TLSMode:         TLSCallback,
		Width:           1000,
		Height:          500,
		Scale:           1,
		MaxWidth:        3000,
		MaxHeight:       3000,
		MaxScale:        4,
		Concurrency:     8,
		QueueLength:     32,
		Timeout:         30 * time.Second,
		MaxTimeout:      5 * time.Minute,
		FirstQueryWait:  2 * time.Second,
		RecycleAfter:    500,
		LogLevel:        "info",
		Addr:            "127.0.0.1:8081",
		ShutdownTimeout: 60 * time.Second,
		PushMinRole:     "Editor",
		OutboxRetention: delivery.DefaultRetention,
		OutboxLease:     delivery.DefaultLease,
		MaxAttempts:     delivery.DefaultMaxAttempts,
		SlackAPIURL:     "https://slack.com/api/",
		DiscordAPIURL:   "https://discord.com/api/v10",
		TelegramAPIURL:  "https://api.telegram.org",
		AlertLookback:   time.Hour,
		AlertWidth:      1000,
		AlertHeight:     500,
		AlertTheme:      "dark",
		AlertGrouping:   GroupPerAlert,
	}
}

// Validate checks every value and names the key of the first bad one, so an
// operator knows which line of grafana.ini or which flag to fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if _, err := c.TLSPolicy(); err != nil {
		var ke *tlspolicy.KeyError
		if errors.As(err, &ke) {
			bad(ke.Key, "%v", ke.Err)
		} else {
			errs = append(errs, err)
		}
	}
	if c.GrafanaURL != "" {
		if err := checkHTTPURL(c.GrafanaURL); err != nil {
			bad("grafana_url", "%v", err)
		}
	}
	for _, d := range c.OutputDirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d {
			bad("output_dirs", "%q is not a clean absolute folder path such as /var/lib/grafana/png", d)
		}
	}
	for _, o := range c.AllowedOrigins {
		if err := checkHTTPURL(o); err != nil {
			bad("allowed_origins", "%v", err)
		}
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			bad("timezone", "%q is not an IANA time zone such as Europe/Berlin", c.Timezone)
		}
	}
	if c.MaxWidth < 1 || c.MaxWidth > 16384 {
		bad("max_width", "must be 1..16384, got %d", c.MaxWidth)
	}
	if c.MaxHeight < 1 || c.MaxHeight > 16384 {
		bad("max_height", "must be 1..16384, got %d", c.MaxHeight)
	}
	if c.MaxScale <= 0 || c.MaxScale > 8 {
		bad("max_scale", "must be above 0 and at most 8, got %g", c.MaxScale)
	}
	if c.Width < 1 || c.Width > c.MaxWidth {
		bad("width", "must be 1..%d (max_width), got %d", c.MaxWidth, c.Width)
	}
	if c.Height < 1 || c.Height > c.MaxHeight {
		bad("height", "must be 1..%d (max_height), got %d", c.MaxHeight, c.Height)
	}
	if c.Scale <= 0 || c.Scale > c.MaxScale {
		bad("scale", "must be above 0 and at most %g (max_scale), got %g", c.MaxScale, c.Scale)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		bad("concurrency", "must be 1..64, got %d", c.Concurrency)
	}
	if c.QueueLength < 0 || c.QueueLength > 10000 {
		bad("queue_length", "must be 0..10000, got %d", c.QueueLength)
	}
	if c.Timeout < time.Second || c.Timeout > c.MaxTimeout {
		bad("timeout", "must be between 1s and max_timeout (%s), got %s", c.MaxTimeout, c.Timeout)
	}
	if c.FirstQueryWait < 0 || c.FirstQueryWait > time.Minute {
		bad("first_query_wait", "must be 0..1m, got %s", c.FirstQueryWait)
	}
	if c.RecycleAfter < 0 {
		bad("recycle_after", "must be 0 (never) or more, got %d", c.RecycleAfter)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.PushMinRole {
	case "Viewer", "Editor", "Admin":
	default:
		bad("push_min_role", "%q is not one of Viewer, Editor, Admin", c.PushMinRole)
	}
	if c.OutboxURL.IsSet() {
		if c.OutboxPath != "" {
			bad("outbox_url", "set either outbox_url (PostgreSQL, shared by replicas) or outbox_path (an SQLite file), not both")
		}
		// The value holds a password: the message never repeats it.
		if u, err := url.Parse(c.OutboxURL.Reveal()); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
			bad("outbox_url", "is not a URL such as postgres://user:password@host:5432/panelcast?sslmode=require")
		}
	}
	if c.OutboxRetention < time.Hour {
		bad("outbox_retention", "must be at least 1h, got %s", c.OutboxRetention)
	}
	if c.OutboxLease < 5*time.Second || c.OutboxLease > 10*time.Minute {
		bad("outbox_lease", "must be 5s..10m, got %s", c.OutboxLease)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		bad("max_attempts", "must be 1..100, got %d", c.MaxAttempts)
	}
	for key, u := range map[string]string{"slack_api_url": c.SlackAPIURL, "mattermost_url": c.MattermostURL,
		"discord_api_url": c.DiscordAPIURL, "telegram_api_url": c.TelegramAPIURL} {
		if u != "" {
			if err := checkHTTPURL(u); err != nil {
				bad(key, "%v", err)
			}
		}
	}
	if c.AlertLookback < time.Minute || c.AlertLookback > 30*24*time.Hour {
		bad("alert_lookback", "must be between 1m and 720h, got %s", c.AlertLookback)
	}
	if c.AlertWidth < 1 || c.AlertWidth > c.MaxWidth {
		bad("alert_width", "must be 1..%d (max_width), got %d", c.MaxWidth, c.AlertWidth)
	}
	if c.AlertHeight < 1 || c.AlertHeight > c.MaxHeight {
		bad("alert_height", "must be 1..%d (max_height), got %d", c.MaxHeight, c.AlertHeight)
	}
	switch c.AlertTheme {
	case "light", "dark":
	default:
		bad("alert_theme", "%q is not light or dark", c.AlertTheme)
	}
	switch c.AlertGrouping {
	case GroupPerAlert, GroupPerNotification:
	default:
		bad("alert_grouping", "%q is not %s (a message per alert) or %s (a message per notification group)", c.AlertGrouping, GroupPerAlert, GroupPerNotification)
	}
	if c.ChromiumPath != "" {
		if st, err := os.Stat(c.ChromiumPath); err != nil || st.IsDir() {
			bad("chromium_path", "%q is not a file: install the chromium package or point the key at the browser binary", c.ChromiumPath)
		}
	}
	return errors.Join(errs...)
}

// TLSPolicy is the certificate policy for Grafana's origins that the
// browser and the Go clients share.
func (c *Config) TLSPolicy() (*tlspolicy.Policy, error) {
	return tlspolicy.New(tlspolicy.Options{Mode: c.TLSMode, CAFile: c.GrafanaCAFile, Pins: c.GrafanaPins})
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL such as https://grafana.example.com:3000", raw)
	}
	return nil
}
