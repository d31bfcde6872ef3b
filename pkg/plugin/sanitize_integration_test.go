package plugin_test

import (
	"context"
	"strings"
	"testing"
)

// upload is an SVG as a user uploads it to Grafana's storage, with what
// an attacker would add.
const upload = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 64 64" onload="alert(1)">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#73bf69"/></linearGradient></defs>
  <script>alert(document.cookie)</script>
  <circle cx="32" cy="32" r="30" fill="url(#g)" onclick="alert(2)" stroke="url(https://evil.example/p#x)"/>
  <use xlink:href="https://evil.example/sprite.svg#icon"/><use href="#g"/>
  <foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example/"/></foreignObject>
</svg>`

// Grafana calls Sanitize on the renderer's connection for SVG uploads; the
// plugin answers with a safe SVG instead of Unimplemented, which would make
// Grafana refuse the upload.
func TestPluginSanitizesSVG(t *testing.T) {
	g := standIn(t)
	h, logs := startHost(t, g, nil)
	out, err := h.Sanitize(context.Background(), "", []byte(upload))
	if err != nil {
		t.Fatalf("Sanitize: %v\n%s", err, logs)
	}
	s := string(out)
	for _, gone := range []string{"script", "onload", "onclick", "evil.example", "foreignObject", "iframe"} {
		if strings.Contains(s, gone) {
			t.Errorf("the sanitised SVG still has %q:\n%s", gone, s)
		}
	}
	for _, kept := range []string{`viewBox="0 0 64 64"`, `<linearGradient id="g">`, `fill="url(#g)"`, `<use href="#g"/>`, `<circle`} {
		if !strings.Contains(s, kept) {
			t.Errorf("the sanitised SVG lost %q:\n%s", kept, s)
		}
	}
	// Not an SVG: an answer Grafana shows the uploader, not a gRPC error.
	if _, err := h.Sanitize(context.Background(), "notes.svg", []byte("hello")); err == nil || !strings.Contains(err.Error(), "not an SVG") {
		t.Errorf("plain text: %v", err)
	}
}
