package grafana

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/quote"
)

// maxPicture bounds a picture Grafana's /render answers with.
const maxPicture = 32 << 20

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// RenderURL is Grafana's /render URL of a page on Grafana, pageURL (a
// /d-solo/… URL under BaseURL): Grafana renders it as the caller through
// whatever renderer it has. width, height, tz and timeout (whole seconds)
// are /render's own query parameters; the page's query goes with it.
func (c *Client) RenderURL(pageURL string, width, height int, tz string, timeout time.Duration) (string, error) {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil {
		return "", fmt.Errorf("grafana_url %s is unusable (%v): fix it", quote.Clip(c.BaseURL), err)
	}
	page, err := url.Parse(pageURL)
	if err != nil || page.Host != base.Host || !strings.HasPrefix(page.Path, base.Path+"/") {
		return "", fmt.Errorf("%s is not a page of Grafana at %s, so Grafana cannot render it", quote.Clip(pageURL), base)
	}
	q := page.Query()
	q.Set("width", strconv.Itoa(width))
	q.Set("height", strconv.Itoa(height))
	if tz != "" {
		q.Set("tz", tz)
	}
	if timeout > 0 {
		q.Set("timeout", strconv.Itoa(int(max(timeout.Round(time.Second), time.Second)/time.Second)))
	}
	u := *base
	u.Path = base.Path + "/render" + strings.TrimPrefix(page.Path, base.Path)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Render asks Grafana's /render for the PNG of a page, as the service
// account. Errors are *APIError: Grafana's 5xx (its renderer failed or
// timed out) is temporary, a refusal of the token is not.
func (c *Client) Render(ctx context.Context, pageURL string, width, height int, tz string, timeout time.Duration) ([]byte, error) {
	u, err := c.RenderURL(pageURL, width, height, tz, timeout)
	if err != nil {
		return nil, &APIError{msg: err.Error()}
	}
	resp, err := c.send(ctx, u, "image/png", "Grafana's /render")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPicture+1))
	if err != nil {
		return nil, &APIError{Status: resp.StatusCode, msg: fmt.Sprintf("reading the picture from Grafana's /render failed (%v): it will be retried", err), temporary: true, err: err}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, &APIError{Status: resp.StatusCode, msg: "Grafana's /render refused grafana_token (401): set it to a valid, unexpired service-account token"}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &APIError{Status: resp.StatusCode, temporary: true,
			msg: fmt.Sprintf("Grafana's /render answered %d: its renderer failed or is missing (install grafana-image-renderer, or set [rendering] server_url); it will be retried", resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return nil, &APIError{Status: resp.StatusCode, msg: fmt.Sprintf("Grafana's /render answered %d for %s: check the panel and that the service account may view it", resp.StatusCode, pathOf(u))}
	case len(body) > maxPicture:
		return nil, &APIError{Status: resp.StatusCode, msg: fmt.Sprintf("Grafana's /render answered a picture over %d MiB: ask for a smaller panel", maxPicture>>20)}
	case !bytes.HasPrefix(body, pngMagic):
		return nil, &APIError{Status: resp.StatusCode, msg: "Grafana's /render answered something that is not a PNG: check that grafana_url is Grafana's address, not a proxy's login page"}
	}
	return body, nil
}

// RendererStatus is whether Grafana has a renderer for /render, and its
// version, as Grafana's frontend settings say (rendererAvailable,
// rendererVersion).
func (c *Client) RendererStatus(ctx context.Context) (available bool, version string, err error) {
	body, err := c.get(ctx, "/api/frontend/settings", "Grafana's frontend settings", func(code int, _ []byte) *APIError {
		return c.refused(code, "its frontend settings")
	})
	var settings struct {
		RendererAvailable bool   `json:"rendererAvailable"`
		RendererVersion   string `json:"rendererVersion"`
	}
	if err == nil {
		err = decode(body, &settings, "Grafana's frontend settings")
	}
	return settings.RendererAvailable, settings.RendererVersion, err
}

func pathOf(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
