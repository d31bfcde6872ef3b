package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Every command's logger writes durations as Go does and honours log_level.
func TestLoggers(t *testing.T) {
	for name, newLog := range map[string]func(w io.Writer, level string) *slog.Logger{
		"text (render, push)": newLogger, "json (serve)": jsonLogger, "hclog json (plugin)": pluginLogger,
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := newLog(&buf, "warn")
			log.Info("hidden")
			log.With("kind", "png").WithGroup("render").Warn("slow render", "duration", 1055*time.Millisecond,
				slog.Group("phases", "navigate", 20*time.Millisecond), "error", errors.New("boom"))
			out := buf.String()
			if strings.Contains(out, "hidden") {
				t.Errorf("an info line passed log_level warn: %s", out)
			}
			for _, want := range []string{"slow render", "1.055s", "20ms", "boom", "png"} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in %s", want, out)
				}
			}
			if strings.Contains(out, "1055000000") || strings.Contains(out, "e+09") {
				t.Errorf("a duration was written as nanoseconds: %s", out)
			}
			if strings.HasPrefix(name, "text") {
				return
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &line); err != nil {
				t.Fatalf("not one JSON line: %v: %s", err, out)
			}
		})
	}
}

func TestLogLevels(t *testing.T) {
	for _, level := range []string{"debug", "info", "warn", "error"} {
		var buf bytes.Buffer
		log := pluginLogger(&buf, level)
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		log.Error("e")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var line struct {
				Message string `json:"@message"`
			}
			_ = json.Unmarshal([]byte(l), &line)
			got = append(got, line.Message)
		}
		want := map[string]string{"debug": "d i w e", "info": "i w e", "warn": "w e", "error": "e"}[level]
		if strings.Join(got, " ") != want {
			t.Errorf("log_level %s let through %v, want %s", level, got, want)
		}
	}
}
