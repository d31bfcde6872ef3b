package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/config"
)

// Health says whether Latin and CJK text can be drawn, even when the
// browser is missing.
func TestHealthReportsFonts(t *testing.T) {
	cfg := config.Default()
	cfg.ChromiumPath = filepath.Join(t.TempDir(), "no-chromium")
	s := New(context.Background(), Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	h := s.Health(context.Background())
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Fonts.Latin || !h.Fonts.CJK || !strings.Contains(string(b), `"fonts":{"latin":true,"cjk":true,"message":"fonts: Latin and CJK`) {
		t.Errorf("health %s; Panelcast's tests need Latin and CJK fonts: apt-get install fonts-dejavu-core fonts-noto-cjk", b)
	}
}
