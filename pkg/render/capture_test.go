package render

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"

	"github.com/go-rod/rod/lib/proto"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

// TestFastPNGKeepsEveryPixel: capture uses Chromium's fast PNG encoder
// (optimizeForSpeed), which compresses less but must not change a pixel.
// The same loaded page is taken with it and with the default encoder, and
// both pictures are decoded and compared pixel by pixel.
func TestFastPNGKeepsEveryPixel(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	for _, scenario := range []string{grafanatest.ScenarioScenes, grafanatest.ScenarioDemo} {
		t.Run(scenario, func(t *testing.T) {
			req := panelRequest(g, scenario, 1000, 500, 1)
			var fast, best []byte
			err := r.run(context.Background(), req, false, func(ctx context.Context, s *session) error {
				if err := s.waitReady(ctx); err != nil {
					return err
				}
				var err error
				if fast, err = s.capture(ctx, req); err != nil {
					return err
				}
				shot, err := proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng, FromSurface: true}.Call(s.page.Context(ctx))
				if err == nil {
					best = shot.Data
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			a, b := decodePNG(t, fast), decodePNG(t, best)
			if a.Bounds() != b.Bounds() {
				t.Fatalf("fast PNG is %v, default %v", a.Bounds(), b.Bounds())
			}
			differ := 0
			for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
				for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
					// By value: the encoders may choose different colour models.
					r1, g1, b1, a1 := a.At(x, y).RGBA()
					r2, g2, b2, a2 := b.At(x, y).RGBA()
					if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
						differ++
					}
				}
			}
			if differ > 0 {
				t.Errorf("%d of %d pixels differ between the fast and the default PNG encoder", differ, a.Bounds().Dx()*a.Bounds().Dy())
			}
			t.Logf("%s: fast PNG %d bytes, default %d bytes", scenario, len(fast), len(best))
		})
	}
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
