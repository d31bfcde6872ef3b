package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"
	"github.com/panelcast/panelcast/internal/rodlaunch"
)

type view struct {
	name          string
	width, height int
	mobile        bool
	scheme        string
}

var views = []view{
	{"desktop-light", 1280, 900, false, "light"},
	{"desktop-dark", 1280, 900, false, "dark"},
	{"phone-light", 390, 844, true, "light"},
	{"phone-dark", 390, 844, true, "dark"},
}

// takeShots loads the console against the mock in Chromium: it measures
// cold loads, then for each view renders the demo panel, pushes it to
// inbox:demo and writes a full-page screenshot, checking on the way that
// nothing scrolls sideways and every control has a label.
func takeShots(base, bin, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, stop, err := rodlaunch.Launch(bin)
	if err != nil {
		return err
	}
	defer stop()
	if err := measure(b, base+"dev/baseline", "a one-line page (the floor)", false); err != nil {
		return err
	}
	if err := measure(b, base, "the console", true); err != nil {
		return err
	}
	if err := flows(b, base); err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	if err := signIn(b); err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	for _, v := range views {
		if err := shoot(b, base, dir, v); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}
	return nil
}

func open(b *rod.Browser, target string, v view, console bool) (*rod.Page, error) {
	inc, err := b.Incognito()
	if err != nil {
		return nil, err
	}
	p, err := inc.Page(proto.TargetCreateTarget{})
	if err != nil {
		return nil, err
	}
	if err := p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: v.width, Height: v.height, DeviceScaleFactor: 1, Mobile: v.mobile}); err != nil {
		return nil, err
	}
	err = proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: v.scheme}}}.Call(p)
	if err != nil {
		return nil, err
	}
	// Anything the page's Content-Security-Policy blocks is collected.
	if _, err := p.EvalOnNewDocument(`window.__csp = []; document.addEventListener('securitypolicyviolation', e => __csp.push(e.violatedDirective + ' ' + e.blockedURI))`); err != nil {
		return nil, err
	}
	p = p.Timeout(20 * time.Second)
	if err := p.Navigate(target); err != nil {
		return nil, err
	}
	if err := p.WaitLoad(); err != nil {
		return nil, err
	}
	if !console {
		return p, nil
	}
	if _, err := p.Element("#health-tiles .tile"); err != nil {
		return nil, fmt.Errorf("the health tiles did not appear: %w", err)
	}
	return p, nil
}

// measure loads a page cold five times and prints the medians of its
// paint timings and the bytes it fetched for itself (not the API's).
func measure(b *rod.Browser, target, label string, console bool) error {
	const runs = 5
	var fp, fcp, dcl, load []float64
	var bytes, encoded float64
	for range runs {
		p, err := open(b, target, views[0], console)
		if err != nil {
			return err
		}
		res, err := p.Eval(`async () => {
		  // Paint entries can come after load: wait for the first contentful paint.
		  await new Promise(done => {
		    new PerformanceObserver(l => l.getEntries().some(e => e.name === 'first-contentful-paint') && done()).observe({type: 'paint', buffered: true});
		    setTimeout(done, 5000);
		  });
		  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
		  const nav = performance.getEntriesByType('navigation')[0];
		  const own = [nav, ...performance.getEntriesByType('resource').filter(r => new URL(r.name).pathname.startsWith('/console/'))];
		  return JSON.stringify({fp: paint['first-paint'] ?? -1, fcp: paint['first-contentful-paint'] ?? -1,
		    dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
		    decoded: own.reduce((a, r) => a + r.decodedBodySize, 0), encoded: own.reduce((a, r) => a + r.encodedBodySize, 0)});
		}`)
		if err != nil {
			return err
		}
		var m struct{ FP, FCP, DCL, Load, Decoded, Encoded float64 }
		if err := json.Unmarshal([]byte(res.Value.Str()), &m); err != nil {
			return err
		}
		fp, fcp, dcl, load = append(fp, m.FP), append(fcp, m.FCP), append(dcl, m.DCL), append(load, m.Load)
		bytes, encoded = m.Decoded, m.Encoded
		_ = p.Close()
	}
	fmt.Printf("%s: %.0f bytes (%.0f on the wire)\n", label, bytes, encoded)
	fmt.Printf("  cold load, median of %d at 1280x900: first paint %.0f ms, first contentful paint %.0f ms, DOMContentLoaded %.0f ms, load %.0f ms\n",
		runs, median(fp), median(fcp), median(dcl), median(load))
	return nil
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func shoot(b *rod.Browser, base, dir string, v view) error {
	p, err := open(b, base, v, true)
	if err != nil {
		return err
	}
	defer p.Close()

	// Render the demo panel the mock's health offers.
	if err := click(p, "#render-form button[type=submit]"); err != nil {
		return err
	}
	if _, err := p.Element("#preview-img:not([hidden])"); err != nil {
		return fmt.Errorf("no picture after Render: %w", err)
	}
	// Push it to inbox:demo and wait until it is sent.
	to, err := p.Element("#s-to")
	if err != nil {
		return err
	}
	if err := to.Input("inbox:demo"); err != nil {
		return err
	}
	if err := click(p, "#send-form button[type=submit]"); err != nil {
		return err
	}
	if _, err := p.ElementR("#pushes .badge", "^sent$"); err != nil {
		return fmt.Errorf("the push to inbox:demo did not reach sent: %w", err)
	}
	if _, err := p.ElementR("#outbox-rows .badge", "^sent$"); err != nil {
		return err
	}
	// Let the inbox refresh and its pictures load (they load lazily, so
	// scroll them into view).
	if err := p.Wait(rod.Eval(`() => {
	  const imgs = document.querySelectorAll('#inbox-list img');
	  imgs[imgs.length - 1]?.scrollIntoView();
	  return imgs.length >= 3 && [...document.images].every(i => i.complete && i.naturalWidth > 0);
	}`)); err != nil {
		return fmt.Errorf("the inbox did not show the new picture: %w", err)
	}

	checks, err := p.Eval(`() => {
	  const problems = window.__csp.map(v => 'CSP blocked ' + v);
	  const sw = document.documentElement.scrollWidth, w = window.innerWidth;
	  if (sw > w) problems.push('scrolls sideways: ' + sw + ' > ' + w);
	  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
	    if (!el.labels?.length && !el.getAttribute('aria-label')) problems.push('no label: #' + el.id);
	  }
	  for (const el of document.querySelectorAll('[onclick], div[tabindex]')) problems.push('clickable non-button: ' + el.outerHTML.slice(0, 60));
	  const t = document.getElementById('theme'), before = t.getAttribute('aria-pressed');
	  t.click();
	  const after = t.getAttribute('aria-pressed'), stored = localStorage.getItem('panelcast.theme');
	  t.click();
	  if (before === after || !stored) problems.push('theme toggle: aria-pressed ' + before + ' -> ' + after + ', stored ' + stored);
	  return problems.join('; ');
	}`)
	if err != nil {
		return err
	}
	if s := checks.Value.Str(); s != "" {
		fmt.Printf("%s: PROBLEMS: %s\n", v.name, s)
	}
	// Leave the keyboard focus on the Send button, to see its ring.
	if err := p.Keyboard.Press(input.Tab); err == nil {
		_, _ = p.Eval(`() => document.querySelector('#send-form button[type=submit]').focus()`)
	}

	_, _ = p.Eval(`() => window.scrollTo(0, 0)`)
	png, err := p.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		return err
	}
	out := filepath.Join(dir, v.name+".png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %s (%d bytes)\n", v.name, out, len(png))
	return nil
}

// flows checks what a person does besides the happy push: a push that
// fails shows its reason, and a failed job can be retried from the outbox.
func flows(b *rod.Browser, base string) error {
	p, err := open(b, base, views[0], true)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Keyboard.Press(input.Tab); err != nil {
		return err
	}
	if skip, err := p.Eval(`() => document.activeElement.className`); err != nil || skip.Value.Str() != "skip" {
		return fmt.Errorf("the first Tab does not reach the skip link")
	}
	to, err := p.Element("#s-to")
	if err != nil {
		return err
	}
	if err := to.Input("discord:bad-channel"); err != nil {
		return err
	}
	if err := click(p, "#send-form button[type=submit]"); err != nil {
		return err
	}
	if _, err := p.ElementR("#pushes .reason", "bot token is wrong"); err != nil {
		return fmt.Errorf("a failing push does not show its reason: %w", err)
	}
	if _, err := p.ElementR("#send-status", "failed"); err != nil {
		return fmt.Errorf("the failure is not announced: %w", err)
	}
	// slack:#private fails until retried once (the mock's rule).
	retry, err := p.Element(`#outbox-rows button[aria-label*="slack:#private"]`)
	if err != nil {
		return fmt.Errorf("no Retry button for the failed job: %w", err)
	}
	if err := retry.Click(proto.InputMouseButtonLeft, 1); err != nil {
		return err
	}
	if _, err := p.ElementR("#outbox-status", "Retrying the message to slack:#private"); err != nil {
		return err
	}
	if err := p.Wait(rod.Eval(`() => [...document.querySelectorAll('#outbox-rows tr')].some(r => r.textContent.includes('slack:#private') && r.querySelector('.badge')?.textContent === 'sent')`)); err != nil {
		return fmt.Errorf("the retried job did not become sent: %w", err)
	}
	fmt.Println("flows: skip link first, failed push shows its reason, retry works")
	return nil
}

// signIn runs the console against a mock that wants a token: the form
// shows, a wrong token is refused with the reason, the right one opens the
// console, and logging out shows the form again.
func signIn(b *rod.Browser) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(newMock("s3cret"), "")}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	p, err := open(b, fmt.Sprintf("http://%s/", ln.Addr()), views[2], false)
	if err != nil {
		return err
	}
	defer p.Close()
	token, err := p.Element("#login-token")
	if err != nil {
		return err
	}
	if visible, _ := token.Visible(); !visible {
		return fmt.Errorf("no sign-in form")
	}
	if err := token.Input("wrong"); err != nil {
		return err
	}
	if err := p.Keyboard.Press(input.Enter); err != nil {
		return err
	}
	if _, err := p.ElementR("#login-error", "not one of api_token"); err != nil {
		return fmt.Errorf("a wrong token shows no reason: %w", err)
	}
	if err := token.Input("s3cret"); err != nil {
		return err
	}
	if err := p.Keyboard.Press(input.Enter); err != nil {
		return err
	}
	if _, err := p.Element("#health-tiles .tile"); err != nil {
		return fmt.Errorf("signed in, but the console did not load: %w", err)
	}
	cookie, err := p.Eval(`() => document.cookie`)
	if err != nil || cookie.Value.Str() != "" {
		return fmt.Errorf("the session cookie is readable from script: %q", cookie.Value.Str())
	}
	if err := click(p, "#logout"); err != nil {
		return err
	}
	if _, err := p.ElementR("#login-error", "signed out"); err != nil {
		return fmt.Errorf("logging out did not show the form: %w", err)
	}
	fmt.Println("sign-in: form shown, wrong token refused, right token admitted (HttpOnly cookie), logout works")
	return nil
}

func click(p *rod.Page, selector string) error {
	el, err := p.Element(selector)
	if err != nil {
		return err
	}
	return el.Click(proto.InputMouseButtonLeft, 1)
}
