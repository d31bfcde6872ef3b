package cli

import (
	"context"
	"io"
	"log/slog"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	sdklog "github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/hashicorp/go-hclog"

	"github.com/panelcast/panelcast/pkg/server"
)

// Every logger writes a duration as Go does ("1.05s"): as nanoseconds a
// JSON reader such as Grafana's log shows 1.055e+09.

// newLogger writes text lines for a person (render, demo, push).
func newLogger(w io.Writer, level string) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, handlerOptions(level)))
}

// jsonLogger writes JSON lines for `panelcast serve`, each with the request
// id of the render it belongs to.
func jsonLogger(w io.Writer, level string) *slog.Logger {
	return slog.New(server.LogHandler(slog.NewJSONHandler(w, handlerOptions(level))))
}

func handlerOptions(level string) *slog.HandlerOptions {
	return &slog.HandlerOptions{Level: slogLevel(level), ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
}

// slogLevel reads log_level (validated by config); anything else is info.
func slogLevel(level string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(level)) != nil {
		return slog.LevelInfo
	}
	return l
}

// pluginLogger writes hclog's JSON lines, which Grafana's go-plugin client
// parses into its own log under the plugin's id (plain lines would arrive
// as unstructured noise), at log_level. Grafana shows a plugin's debug
// lines only when its own log level lets them through.
func pluginLogger(w io.Writer, level string) *slog.Logger {
	return slog.New(&hclogHandler{log: hclog.New(&hclog.LoggerOptions{
		Output: w, JSONFormat: true, Level: hclogLevel(slogLevel(level)),
	})})
}

// sdkLogLevel gives the SDK's own lines (its request middlewares' "Plugin
// Request Completed") log_level too; they go to stderr as ours do.
func sdkLogLevel(level string) {
	l := sdklog.Info
	switch slogLevel(level) {
	case slog.LevelDebug:
		l = sdklog.Debug
	case slog.LevelWarn:
		l = sdklog.Warn
	case slog.LevelError:
		l = sdklog.Error
	}
	sdklog.DefaultLogger = sdklog.NewWithLevel(l)
	backend.Logger = sdklog.DefaultLogger
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l >= slog.LevelError:
		return hclog.Error
	case l >= slog.LevelWarn:
		return hclog.Warn
	case l >= slog.LevelInfo:
		return hclog.Info
	}
	return hclog.Debug
}

// hclogHandler is a slog handler over hclog. Groups are flattened into
// dotted keys: Grafana's log has no nesting.
type hclogHandler struct {
	log    hclog.Logger
	prefix string
	attrs  []any
}

func (h *hclogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return hclogLevel(l) >= h.log.GetLevel()
}

func (h *hclogHandler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any{}, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = appendAttr(args, h.prefix, a)
		return true
	})
	h.log.Log(hclogLevel(r.Level), r.Message, args...)
	return nil
}

func (h *hclogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]any{}, h.attrs...)
	for _, a := range as {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return &n
}

func (h *hclogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

// appendAttr adds one attribute as key/value pairs hclog encodes the way
// the text and JSON handlers do.
func appendAttr(args []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		for _, g := range v.Group() {
			args = appendAttr(args, prefix+a.Key+".", g)
		}
		return args
	case slog.KindDuration:
		return append(args, prefix+a.Key, v.Duration().String())
	}
	if a.Key == "" {
		return args
	}
	return append(args, prefix+a.Key, v.Any())
}
