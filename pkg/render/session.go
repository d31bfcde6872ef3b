package render

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/ysmood/gson"
	"golang.org/x/sync/errgroup"

	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/secret"
)

// BindingName is the CDP runtime binding Grafana 12+ pages call when every
// panel has rendered.
const BindingName = "__grafanaImageRendererMessageChannel"

// mutationCounter runs in every document before the page's own scripts, so
// DOM stability can be judged for pages that give no Grafana signal.
const mutationCounter = `(() => {
  let n = 0;
  new MutationObserver(() => { window.__panelcastMutations = ++n; })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})();`

// drainSignal runs in every document before the page's own scripts: when
// Grafana 10–12's running-query count is set to 0, or older pages' count of
// rendered panels changes, it calls wakeBinding, so readiness looks at once
// instead of at the next poll (which, on a page with these signals, comes
// only every signalledPollEvery). It also notes that a query ran, however
// briefly, so a query that starts and ends between two polls is not taken
// for one that never started. Both counts are kept as plain values, so the
// page reads and writes them as ever.
const drainSignal = `(() => {
  const wake = () => { if (typeof window.` + wakeBinding + ` === 'function') window.` + wakeBinding + `(''); };
  let count, rendered;
  Object.defineProperty(window, '__grafanaRunningQueryCount', {configurable: true, enumerable: true,
    get() { return count; },
    set(v) { count = v; if (v > 0) window.__panelcastQueried = true; if (v === 0) wake(); }});
  Object.defineProperty(window, 'panelsRendered', {configurable: true, enumerable: true,
    get() { return rendered; },
    set(v) { rendered = v; wake(); }});
})();`

// wakeBinding is the binding drainSignal calls.
const wakeBinding = "__panelcastWake"

// session is one render's isolated browser context and page.
type session struct {
	b       *browser
	opts    Options
	ctx     *rod.Browser // the incognito context
	page    *rod.Page
	origin  string
	cancel  context.CancelFunc
	waitEvt func()

	bindingCalled atomic.Bool
	// wake has a value when a binding was called: readiness looks again
	// at once (see poll).
	wake      chan struct{}
	net       netTracker
	assetWait assetWait // see assetcache.go
	// viewport is the page's size now; a spare has the last render's.
	viewport proto.EmulationSetDeviceMetricsOverride

	mu       sync.Mutex
	certErrs []string // origins whose certificate was refused
	navErr   error    // the first main-frame navigation refused
	stage    string   // what readiness is waiting for, for timeout messages
	download *download
}

// newSession makes an incognito context and page and does the setup every
// render shares: the DOM counter, the completion binding, network tracking
// and the certificate policy. It costs a renderer process start, so the
// browser keeps one ready (see browser.takeSession).
func newSession(ctx context.Context, b *browser, opts Options) (*session, error) {
	inc, err := b.rod.Context(ctx).Incognito()
	if err != nil {
		return nil, fmt.Errorf("open a browser context: %w", err)
	}
	evCtx, cancel := context.WithCancel(b.life)
	s := &session{b: b, opts: opts, ctx: inc, cancel: cancel, stage: "opening the page", wake: make(chan struct{}, 1)}
	page, err := inc.Page(proto.TargetCreateTarget{})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("open a page: %w", err)
	}
	s.page = page
	p := page.Context(ctx)
	b.mu.Lock()
	viewport := b.viewport
	b.mu.Unlock()
	steps := []func() error{
		func() error {
			if viewport.Width == 0 {
				return nil
			}
			if err := viewport.Call(p); err != nil {
				return err
			}
			s.viewport = viewport
			return nil
		},
		func() error {
			_, err := proto.PageAddScriptToEvaluateOnNewDocument{Source: mutationCounter + drainSignal}.Call(p)
			return err
		},
		func() error { return proto.RuntimeAddBinding{Name: BindingName}.Call(p) },
		func() error { return proto.RuntimeAddBinding{Name: wakeBinding}.Call(p) },
		func() error { p.EnableDomain(&proto.NetworkEnable{}); return nil },
		func() error {
			// Every certificate error comes to onCertError, in every mode,
			// so refusals can be explained (and keys learned, see run).
			p.EnableDomain(&proto.SecurityEnable{})
			return proto.SecuritySetOverrideCertificateErrors{Override: true}.Call(p)
		},
	}
	var g errgroup.Group // independent calls: one round trip, see prepare
	for _, step := range steps {
		g.Go(step)
	}
	if err := g.Wait(); err != nil {
		s.close()
		return nil, fmt.Errorf("prepare the page: %w", err)
	}
	// The fetch handler only sees requests once prepare enables Fetch.
	handlers := []any{
		func(e *proto.RuntimeBindingCalled) {
			switch e.Name {
			case BindingName:
				s.bindingCalled.Store(true)
			case wakeBinding:
			default:
				return
			}
			select {
			case s.wake <- struct{}{}:
			default: // a wake is pending already
			}
		},
		func(e *proto.NetworkRequestWillBeSent) { s.net.start(string(e.RequestID)) },
		func(e *proto.NetworkResponseReceived) { s.net.responded(string(e.RequestID)) },
		func(e *proto.NetworkLoadingFinished) { s.net.end(string(e.RequestID)) },
		func(e *proto.NetworkLoadingFailed) { s.net.end(string(e.RequestID)) },
		func(e *proto.SecurityCertificateError) { s.onCertError(page, e) },
	}
	s.waitEvt = page.Context(evCtx).EachEvent(handlers...)
	go s.waitEvt()
	return s, nil
}

// prepare applies what belongs to this request: viewport, time zone,
// headers, cookies and the origin that may see OriginHeaders.
func (s *session) prepare(ctx context.Context, req Request) error {
	origin, err := Origin(req.URL)
	if err != nil {
		return BadRequest("%v", err)
	}
	s.mu.Lock()
	s.origin = origin
	s.mu.Unlock()
	s.page = s.page.Context(ctx)
	p := s.page
	height := req.Height
	if height == FullPage {
		height = 1000 // a first viewport; the page is measured once it is done
	}
	viewport := proto.EmulationSetDeviceMetricsOverride{Width: req.Width, Height: height, DeviceScaleFactor: req.Scale}
	s.b.mu.Lock()
	s.b.viewport = viewport
	s.b.mu.Unlock()
	steps := []func() error{
		func() error {
			if s.viewport == viewport {
				return nil // a spare made after a render of this size
			}
			return viewport.Call(p)
		},
		func() error {
			if req.Timezone == "" {
				return nil
			}
			return proto.EmulationSetTimezoneOverride{TimezoneID: req.Timezone}.Call(p)
		},
		func() error {
			if len(req.Headers) == 0 {
				return nil
			}
			h := proto.NetworkHeaders{}
			for k, v := range req.Headers {
				h[k] = gson.New(v)
			}
			return proto.NetworkSetExtraHTTPHeaders{Headers: h}.Call(p)
		},
		func() error { return s.setCookies(req) },
		func() error {
			// Every document the page loads is paused for the navigation
			// guard (onRequestPaused), redirects and script navigations
			// included; with OriginHeaders so is every request to Grafana's
			// origin, so the header never reaches another host and other
			// requests pay nothing.
			patterns := []*proto.FetchRequestPattern{{URLPattern: "*", ResourceType: proto.NetworkResourceTypeDocument}}
			patterns = append(patterns, s.assetPatterns()...)
			if len(req.OriginHeaders) > 0 {
				patterns = append(patterns, &proto.FetchRequestPattern{URLPattern: strings.TrimSuffix(strings.TrimSuffix(origin, ":443"), ":80") + "/*"})
			}
			if err := (proto.FetchEnable{Patterns: patterns}).Call(p); err != nil {
				return err
			}
			evCtx, cancel := context.WithCancel(s.b.life)
			prev := s.cancel
			s.cancel = func() { cancel(); prev() }
			go p.Context(evCtx).EachEvent(func(e *proto.FetchRequestPaused) { s.onRequestPaused(p, e, req.OriginHeaders) },
				s.onRawHeaders)()
			return nil
		},
	}
	// The calls do not depend on each other: sent at once, they cost one
	// round trip to the browser instead of one each.
	var g errgroup.Group
	for _, step := range steps {
		g.Go(step)
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("prepare the page: %w", err)
	}
	return nil
}

func (s *session) setCookies(req Request) error {
	if len(req.Cookies) == 0 {
		return nil
	}
	u, _ := url.Parse(req.URL)
	var cookies []*proto.NetworkCookieParam
	for _, c := range req.Cookies {
		domain := c.Domain
		if domain == "" {
			domain = u.Hostname()
		}
		cookies = append(cookies, &proto.NetworkCookieParam{Name: c.Name, Value: c.Value.Reveal(), Domain: domain, Path: "/",
			Secure: u.Scheme == "https", HTTPOnly: true})
	}
	return proto.NetworkSetCookies{Cookies: cookies}.Call(s.page)
}

// onCertError decides one certificate error. The event names no
// certificate, so what is forgiven here is by origin alone: in callback
// mode the rendered page's own origin (Grafana's callback URL) when it is
// loopback, in insecure mode everything. Certificates the policy trusts on
// their merits reach the browser as keys (see Renderer.learn).
func (s *session) onCertError(page *rod.Page, e *proto.SecurityCertificateError) {
	action := proto.SecurityCertificateErrorActionCancel
	o, err := Origin(e.RequestURL)
	s.mu.Lock()
	if err == nil && s.opts.TLS.Forgives(o, o == s.origin) {
		action = proto.SecurityCertificateErrorActionContinue
	} else if err == nil && !slices.Contains(s.certErrs, o) {
		s.certErrs = append(s.certErrs, o)
	}
	s.mu.Unlock()
	_ = proto.SecurityHandleCertificateError{EventID: e.EventID, Action: action}.Call(page)
}

// refusedCertificates are the origins whose certificate the page refused.
func (s *session) refusedCertificates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.certErrs)
}

// onRequestPaused guards the main frame's navigations, answers assets from
// the asset cache and adds OriginHeaders to requests for the page's own
// origin. Only asset requests that missed the cache come back with their
// answer (see assetAnswered).
func (s *session) onRequestPaused(page *rod.Page, e *proto.FetchRequestPaused, extra map[string]secret.Value) {
	if e.ResponseStatusCode != nil || e.ResponseErrorReason != "" {
		s.assetAnswered(page, e)
		return
	}
	o, oerr := Origin(e.Request.URL)
	s.mu.Lock()
	origin := s.origin
	s.mu.Unlock()
	if e.ResourceType == proto.NetworkResourceTypeDocument && e.FrameID == proto.PageFrameID(page.TargetID) &&
		(oerr != nil || (o != origin && !slices.Contains(s.opts.AllowedOrigins, o))) {
		s.refuseNavigation(e.Request.URL, o, origin)
		_ = proto.FetchFailRequest{RequestID: e.RequestID, ErrorReason: proto.NetworkErrorReasonBlockedByClient}.Call(page)
		return
	}
	if s.assetFromCache(page, e) {
		return
	}
	seeAnswer := s.isAsset(e)
	if len(extra) == 0 || oerr != nil || o != origin {
		_ = proto.FetchContinueRequest{RequestID: e.RequestID, InterceptResponse: seeAnswer}.Call(page)
		return
	}
	var headers []*proto.FetchHeaderEntry
	for k, v := range e.Request.Headers {
		if _, replaced := extra[k]; !replaced {
			headers = append(headers, &proto.FetchHeaderEntry{Name: k, Value: v.String()})
		}
	}
	for k, v := range extra {
		headers = append(headers, &proto.FetchHeaderEntry{Name: k, Value: v.Reveal()})
	}
	_ = proto.FetchContinueRequest{RequestID: e.RequestID, Headers: headers, InterceptResponse: seeAnswer}.Call(page)
}

func (s *session) refuseNavigation(rawURL, o, own string) {
	if o == "" {
		o = quote.Clip(rawURL)
	}
	allowed := append([]string{own}, s.opts.AllowedOrigins...)
	err := fmt.Errorf("the page navigated to %s, which is not an allowed origin: a render may only show %s; "+
		"if that address is Grafana's too, add it to allowed_origins, else look for a redirect or script in the dashboard that leaves Grafana",
		o, strings.Join(allowed, ", "))
	s.mu.Lock()
	if s.navErr == nil {
		s.navErr = err
	}
	s.mu.Unlock()
}

// refusedNavigation is the first main-frame navigation the guard refused.
func (s *session) refusedNavigation() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.navErr
}

// navigate loads the page; readiness is the caller's next step.
func (s *session) navigate(ctx context.Context, req Request) error {
	s.setStage("loading " + s.origin)
	res, err := proto.PageNavigate{URL: req.URL}.Call(s.page.Context(ctx))
	if err != nil {
		return fmt.Errorf("navigate to %s: %w", s.origin, err)
	}
	if res.ErrorText != "" {
		return s.navigationError(res.ErrorText)
	}
	return nil
}

func (s *session) navigationError(text string) error {
	if err := s.refusedNavigation(); err != nil {
		return err
	}
	if strings.Contains(text, "ERR_CERT") || slices.Contains(s.refusedCertificates(), s.origin) {
		// run explains the refused certificate.
		return fmt.Errorf("load %s: its certificate was refused (%s)", s.origin, text)
	}
	return fmt.Errorf("load %s: %s: check that Grafana is reachable from the renderer at this address (callback_url)", s.origin, text)
}

func (s *session) setStage(st string) {
	s.mu.Lock()
	s.stage = st
	s.mu.Unlock()
}

// currentStage is what the render is doing.
func (s *session) currentStage() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stage
}

// describeWait says what the render was waiting for, for timeout errors.
func describeWait(s *session) string {
	if s == nil {
		return "the page never opened"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return "the page was not done (" + s.stage + ")"
}

// capture takes the picture of a loaded page.
func (s *session) capture(ctx context.Context, req Request) ([]byte, error) {
	p := s.page.Context(ctx)
	if req.Encoding == PDF {
		return s.pdf(p, req)
	}
	if req.Height == FullPage {
		if err := s.growToFullHeight(ctx, req); err != nil {
			return nil, err
		}
	}
	s.setStage("taking the screenshot")
	// Fast encoding: the file is larger, but encoding a big PNG at the best
	// compression costs more than the whole readiness wait.
	shot, err := proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng, FromSurface: true, OptimizeForSpeed: true}.Call(p)
	if err != nil {
		return nil, fmt.Errorf("take the screenshot: %w", err)
	}
	return shot.Data, nil
}

// growToFullHeight resizes the viewport to the page's height (capped by
// max_height), then waits again: panels that came into view start queries.
func (s *session) growToFullHeight(ctx context.Context, req Request) error {
	var h float64
	if err := s.eval(ctx, `Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)`, &h); err != nil {
		return fmt.Errorf("measure the page: %w", err)
	}
	height := int(h)
	if height < 1 {
		height = 1
	}
	if max := s.opts.Limits.MaxHeight; max > 0 && height > max {
		height = max
	}
	if err := (proto.EmulationSetDeviceMetricsOverride{Width: req.Width, Height: height, DeviceScaleFactor: req.Scale}).Call(s.page.Context(ctx)); err != nil {
		return fmt.Errorf("resize to the full page: %w", err)
	}
	return s.waitSettled(ctx)
}

func (s *session) pdf(p *rod.Page, req Request) ([]byte, error) {
	s.setStage("printing the PDF")
	o := req.PDF
	size, ok := paperSizes[strings.ToLower(o.Format)]
	if !ok {
		size = paperSizes["a4"]
	}
	w, h := size[0], size[1]
	res, err := proto.PagePrintToPDF{Landscape: o.Landscape, PrintBackground: o.PrintBackground, PaperWidth: &w, PaperHeight: &h,
		PageRanges: o.PageRanges}.Call(p)
	if err != nil {
		return nil, fmt.Errorf("print the PDF: %w", err)
	}
	return res.Data, nil
}

// close disposes the context (its pages, cookies, cache and any request
// still open). It reports false when the browser did not answer in time,
// which means it hung and must be replaced.
func (s *session) close() bool {
	defer func() { s.cancel() }()
	ctx, cancel := context.WithTimeout(s.b.life, 5*time.Second)
	defer cancel()
	if s.download != nil {
		s.download.cleanup()
	}
	return s.ctx.Context(ctx).Close() == nil
}

// netTracker counts the page's requests in flight. A request whose
// response has arrived counts as done: Chromium reports no end for a body
// the page never reads, and a stream (server-sent events) never ends.
type netTracker struct {
	mu      sync.Mutex
	waiting map[string]bool // requests still waiting for their response
	last    time.Time       // last request start, response or end
}

func (n *netTracker) start(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.waiting == nil {
		n.waiting = map[string]bool{}
	}
	n.waiting[id] = true
	n.last = time.Now()
}

func (n *netTracker) responded(id string) { n.end(id) }

func (n *netTracker) end(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.waiting[id] {
		delete(n.waiting, id)
		n.last = time.Now()
	}
}

// idleFor reports how long no request has been waiting (0 if one is).
func (n *netTracker) idleFor() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.waiting) > 0 {
		return 0
	}
	if n.last.IsZero() {
		return time.Duration(1<<62 - 1)
	}
	return time.Since(n.last)
}
