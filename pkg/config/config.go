// Package config holds Panelcast's one Config struct, its defaults, the
// sources it is read from (Grafana's GF_PLUGIN_* environment in plugin mode;
// flags, PANELCAST_* environment and an optional file in server mode) and
// its validation.
package config

import (
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
	AssetCacheMB   int
	FirstQueryWait time.Duration
	RecycleAfter   int
	LogLevel       string
	AuthTokens     []secret.Value

	// BrowserIdleTimeout stops the browser after this long without a
	// render (0: never); see PluginIdleTimeout for the plugins' default.
	BrowserIdleTimeout time.Duration

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
	DefaultTo []string
	// Destinations are the named addresses a person picks from (the app's
	// "Send to chat…"); FreeAddresses lets a push name any other address.
	Destinations    []Destination
	FreeAddresses   bool
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

// Destination is a chat address under the name people know it by.
type Destination struct {
	Name string `json:"name"`
	To   string `json:"to"`
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

// PluginIdleTimeout is browser_idle_timeout's default inside Grafana (the
// renderer and the app plugin): there the browser shares a small machine
// with Grafana and renders come seldom (alerts, reports), so it stops
// sooner than serve's (see docs/performance.md for what a cold start costs).
const PluginIdleTimeout = 5 * time.Minute

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
		AssetCacheMB:    64,
		FirstQueryWait:  2 * time.Second,
		RecycleAfter:    500,
		LogLevel:        "info",
		Addr:            "127.0.0.1:8081",
		ShutdownTimeout: 60 * time.Second,
		PushMinRole:     "Editor",
		FreeAddresses:   true,
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

		// serve is a renderer of its own, where a warm browser is what it
		// is for, yet it need not hold ~400 MiB through a quiet night.
		BrowserIdleTimeout: 15 * time.Minute,
	}
}

// TLSPolicy is the certificate policy for Grafana's origins that the
// browser and the Go clients share.
func (c *Config) TLSPolicy() (*tlspolicy.Policy, error) {
	return tlspolicy.New(tlspolicy.Options{Mode: c.TLSMode, CAFile: c.GrafanaCAFile, Pins: c.GrafanaPins})
}
