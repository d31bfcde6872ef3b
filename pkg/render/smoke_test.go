package render

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

func TestSmoke(t *testing.T) {
	g, err := grafanatest.Start(grafanatest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := New(context.Background(), Options{Logger: log, Concurrency: 2, QueueLength: 4, Limits: Limits{MaxWidth: 3000, MaxHeight: 3000, MaxScale: 4, MaxTimeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		png, err := r.Render(context.Background(), Request{URL: g.PanelURL("scenes", url.Values{}), Cookies: []Cookie{{Name: "renderKey", Value: g.RenderKey}}, Width: 400, Height: 200, Scale: 1, Timeout: 10 * time.Second, Encoding: PNG})
		t.Log(time.Since(t0), len(png), err)
	}
	for _, rep := range g.Reports() {
		t.Logf("%+v", rep)
	}
}
