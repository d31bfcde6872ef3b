package service

import (
	"context"
	"time"

	"github.com/panelcast/panelcast/pkg/svg"
)

// SanitizeSVG makes an uploaded SVG image safe to show (Grafana's Sanitize
// RPC): see package svg for what is removed. The error is a sentence for
// the uploader.
func (s *Service) SanitizeSVG(ctx context.Context, filename string, content []byte) ([]byte, error) {
	start := time.Now()
	out, err := svg.Sanitize(content)
	attrs := []any{"file", filename, "bytes", len(content), "duration", time.Since(start).Round(time.Microsecond)}
	if err != nil {
		s.log.WarnContext(ctx, "svg not sanitised", append(attrs, "error", err)...)
		return nil, err
	}
	s.log.InfoContext(ctx, "svg sanitised", append(attrs, "kept_bytes", len(out))...)
	return out, nil
}
