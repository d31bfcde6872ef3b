package render

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"time"

	"github.com/go-rod/rod/lib/proto"
)

// Probe renders a tiny built-in page and checks its pixels: proof that the
// browser starts, lays out and paints. It returns the browser's version.
func (r *Renderer) Probe(ctx context.Context) (string, error) {
	if err := r.begin(); err != nil {
		return "", err
	}
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	free, err := r.slot(ctx)
	if err != nil {
		return "", err
	}
	defer free()
	b, err := r.acquire(ctx)
	if err != nil {
		return "", err
	}
	broken := false
	defer func() { r.release(b, broken || b.dead()) }()
	ctx, unbind := b.bind(ctx)
	defer unbind()
	inc, err := b.rod.Context(ctx).Incognito()
	if err != nil {
		broken = true
		return "", fmt.Errorf("open a browser context: %w", err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(b.life, 5*time.Second)
		defer ccancel()
		if inc.Context(cctx).Close() != nil {
			broken = true
		}
	}()
	p, err := inc.Page(proto.TargetCreateTarget{})
	if err != nil {
		return "", fmt.Errorf("open a page: %w", err)
	}
	p = p.Context(ctx)
	if err := (proto.EmulationSetDeviceMetricsOverride{Width: 16, Height: 16, DeviceScaleFactor: 1}).Call(p); err != nil {
		return "", err
	}
	if err := p.SetDocumentContent(`<body style="margin:0;background:rgb(18,52,86)"></body>`); err != nil {
		return "", fmt.Errorf("load the probe page: %w", err)
	}
	shot, err := proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng, FromSurface: true}.Call(p)
	if err != nil {
		return "", fmt.Errorf("take the probe screenshot: %w", err)
	}
	img, err := png.Decode(bytes.NewReader(shot.Data))
	if err != nil {
		return "", fmt.Errorf("decode the probe screenshot: %w", err)
	}
	cr, cg, cb, _ := img.At(8, 8).RGBA()
	if cr>>8 != 18 || cg>>8 != 52 || cb>>8 != 86 {
		return "", fmt.Errorf("the probe page painted rgb(%d,%d,%d) instead of rgb(18,52,86): the browser does not render correctly", cr>>8, cg>>8, cb>>8)
	}
	return b.version, nil
}
