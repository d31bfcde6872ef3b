package cli

import (
	"context"
	"log/slog"

	sdklog "github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

// pluginLogger writes through the SDK's logger, whose JSON lines Grafana
// parses into its own log with the plugin's id; plain stderr lines would
// arrive as unstructured noise.
func pluginLogger() *slog.Logger {
	return slog.New(&sdkHandler{log: sdklog.DefaultLogger})
}

type sdkHandler struct {
	log   sdklog.Logger
	attrs []any
}

func (h *sdkHandler) Enabled(_ context.Context, l slog.Level) bool {
	switch h.log.Level() {
	case sdklog.Error:
		return l >= slog.LevelError
	case sdklog.Warn:
		return l >= slog.LevelWarn
	case sdklog.Info:
		return l >= slog.LevelInfo
	}
	return true
}

func (h *sdkHandler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any{}, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = append(args, a.Key, a.Value.Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.log.Error(r.Message, args...)
	case r.Level >= slog.LevelWarn:
		h.log.Warn(r.Message, args...)
	case r.Level >= slog.LevelInfo:
		h.log.Info(r.Message, args...)
	default:
		h.log.Debug(r.Message, args...)
	}
	return nil
}

func (h *sdkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &sdkHandler{log: h.log, attrs: append([]any{}, h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, a.Key, a.Value.Any())
	}
	return n
}

// WithGroup flattens groups: Grafana's log has no nesting.
func (h *sdkHandler) WithGroup(string) slog.Handler { return h }
