package cli

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/rodlaunch"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// The console tests drive the page in the system's Chromium (never a
// downloaded one) against a real `panelcast serve` in demo mode, through
// the ids src/console/README.md promises.

// consoleBrowser starts Chromium for the test.
func consoleBrowser(t *testing.T) *rod.Browser {
	t.Helper()
	testenv.NeedChromium(t, render.FindChromium)
	bin, _ := render.FindChromium("")
	b, stop, err := rodlaunch.Launch(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return b
}

// consolePage is the console open in a tab of width×height CSS px.
type consolePage struct {
	t *testing.T
	p *rod.Page
}

func openConsole(t *testing.T, b *rod.Browser, base string, width, height int, mobile bool) *consolePage {
	t.Helper()
	p, err := b.Page(proto.TargetCreateTarget{})
	if err != nil {
		t.Fatal(err)
	}
	c := &consolePage{t: t, p: p.Timeout(90 * time.Second)}
	c.must(p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile}))
	c.must(c.p.Navigate(base + "/"))
	c.must(c.p.WaitLoad())
	return c
}

func (c *consolePage) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("%v\npage text: %s", err, c.text("body"))
	}
}

// text is an element's text, "" when there is none.
func (c *consolePage) text(selector string) string {
	el, err := c.p.Timeout(time.Second).Element(selector)
	if err != nil {
		return ""
	}
	s, _ := el.Text()
	return s
}

func (c *consolePage) el(selector string) *rod.Element {
	c.t.Helper()
	el, err := c.p.Element(selector)
	c.must(err)
	return el
}

// waitText waits for an element matching selector whose text (as shown:
// innerText, after CSS text-transform) matches re, a JavaScript regular
// expression, "/…/flags" or without slashes.
func (c *consolePage) waitText(selector, re string) *rod.Element {
	c.t.Helper()
	el, err := c.p.ElementR(selector, re)
	if err != nil {
		c.t.Fatalf("no %s with text /%s/: %v\npage text: %s", selector, re, err, c.text("main"))
	}
	return el
}

func (c *consolePage) click(selector string) {
	c.t.Helper()
	c.must(c.el(selector).Click(proto.InputMouseButtonLeft, 1))
}

func (c *consolePage) fill(selector, value string) {
	c.t.Helper()
	el := c.el(selector)
	c.must(el.SelectAllText())
	c.must(el.Input(value))
}

// picture is an image's pixels as the page shows them, read through a
// canvas: the page's CSP lets no script fetch its blob: pictures.
func (c *consolePage) picture(selector string) image.Image {
	c.t.Helper()
	res, err := c.el(selector).Eval(`function () {
	  const cv = document.createElement('canvas');
	  cv.width = this.naturalWidth;
	  cv.height = this.naturalHeight;
	  cv.getContext('2d').drawImage(this, 0, 0);
	  return cv.toDataURL('image/png').split(',')[1];
	}`)
	c.must(err)
	raw, err := base64.StdEncoding.DecodeString(res.Value.Str())
	c.must(err)
	img, err := png.Decode(bytes.NewReader(raw))
	c.must(err)
	return img
}

// One person's session: the console shows health, renders the demo panel
// it offers, pushes it to inbox:demo and shows the message with its
// picture; a push to a Slack whose token is wrong shows Slack's reason,
// and once the token is right the failed push is retried from the
// outbox and sent. Then the page at a phone's 390 px does not scroll
// sideways.
func TestConsoleInBrowser(t *testing.T) {
	b := consoleBrowser(t)
	slack := slackfake.New("xoxb-rotated-token")
	t.Cleanup(slack.Close)
	slack.AddChannel("C0OPS00001", "ops", true)
	slack.SetShareDelay(0)
	const token = "xoxb-console-token"
	d := startDemoServe(t, "--slack-api-url", slack.APIURL(), "PANELCAST_SLACK_BOT_TOKEN="+token)
	c := openConsole(t, b, d.base, 1280, 900, false)

	c.waitText("#health-tiles .tile", "/^chromium/i")
	c.waitText("#health-tiles .tile", "/^fonts.*Latin: found.*CJK: found/is")
	c.waitText("#health-tiles .tile", "/^chat.*slack: failing.*invalid_auth/is")
	// The form starts with the demo panel health offers.
	if uid, _ := c.el("#f-uid").Property("value"); uid.Str() != grafanatest.ScenarioDemo {
		t.Errorf("the form's dashboard UID is %q, want the demo's", uid.Str())
	}
	c.click("#render-form button[type=submit]")
	c.el("#preview-img:not([hidden])")
	if caption := c.waitText("#preview-caption", `rendered in \d+ ms`); caption != nil {
		text, _ := caption.Text()
		if !regexp.MustCompile(`^1000×500 px, `).MatchString(text) {
			t.Errorf("caption %q, want the 1000×500 picture's", text)
		}
	}
	if _, err := grafanatest.CheckDemoPicture(c.picture("#preview-img")); err != nil {
		t.Errorf("the rendered picture is not the demo panel: %v", err)
	}

	// Send to the inbox: followed to sent, then in the inbox with its picture.
	c.fill("#s-to", "inbox:demo")
	c.fill("#s-text", "CPU on the demo")
	c.click("#send-form button[type=submit]")
	c.waitText("#pushes li .badge", "^sent$")
	c.waitText("#inbox-list .message", "CPU on the demo")
	c.must(c.p.Wait(rod.Eval(`() => { const i = document.querySelector('#inbox-list img'); i?.scrollIntoView(); return !!i && i.complete && i.naturalWidth > 0 }`)))
	if _, err := grafanatest.CheckDemoPicture(c.picture("#inbox-list img")); err != nil {
		t.Errorf("the inbox picture is not the demo panel: %v", err)
	}
	c.waitText("#outbox-rows tr", "/inbox:demo.*sent.*Show in inbox/s")

	// Slack refuses the token: the push fails with Slack's reason.
	c.fill("#s-to", "slack:#ops")
	c.click("#send-form button[type=submit]")
	c.waitText("#pushes li .reason", "/invalid_auth.*slack_bot_token/s")
	if len(slack.Messages()) != 0 {
		t.Fatalf("Slack has messages from a wrong token")
	}
	// The token is made right; the failed push is retried from the outbox.
	slack.SetToken(token)
	c.click(`#outbox-rows button[aria-label="Retry the push to slack:#ops"]`)
	c.waitText("#outbox-status", "Retrying the message to slack:#ops")
	c.waitText("#outbox-rows tr", "/slack:#ops.*\\bsent\\b/s")
	if msgs := slack.Messages(); len(msgs) != 1 || msgs[0].ChannelID != "C0OPS00001" || len(msgs[0].Files) != 1 {
		t.Errorf("Slack got %+v, want the retried push with its picture", msgs)
	}

	// On a phone.
	phone := openConsole(t, b, d.base, 390, 844, true)
	phone.waitText("#health-tiles .tile", "/^chromium/i")
	phone.waitText("#inbox-list .message", "CPU on the demo")
	phone.waitText("#outbox-rows tr", "slack:#ops")
	res, err := phone.p.Eval(`() => [document.documentElement.scrollWidth, window.innerWidth]`)
	phone.must(err)
	if sw, w := res.Value.Arr()[0].Int(), res.Value.Arr()[1].Int(); w != 390 || sw > w {
		t.Errorf("at 390 px the page is %d px wide (viewport %d): it scrolls sideways", sw, w)
	}
}

// With api_token the console asks for it: a wrong one is refused with the
// reason, the right one opens the console with a cookie script cannot
// read, and signing out shows the form again.
func TestConsoleSignInInBrowser(t *testing.T) {
	b := consoleBrowser(t)
	const token = "console-sign-in-token-0123456789"
	d := startDemoServe(t, "PANELCAST_API_TOKEN="+token)
	c := openConsole(t, b, d.base, 390, 844, true)
	if visible, _ := c.el("#login-token").Visible(); !visible {
		t.Fatalf("no sign-in form: %s", c.text("body"))
	}
	c.fill("#login-token", "wrong")
	c.must(c.p.Keyboard.Press(input.Enter))
	c.waitText("#login-error", "not one of api_token")
	c.fill("#login-token", token)
	c.must(c.p.Keyboard.Press(input.Enter))
	c.waitText("#health-tiles .tile", "/^chromium/i")
	if res, err := c.p.Eval(`() => document.cookie`); err != nil || res.Value.Str() != "" {
		t.Errorf("script can read the session cookie: %q", res.Value.Str())
	}
	if !strings.Contains(d.curlLine(t), `Authorization: Bearer $PANELCAST_API_TOKEN`) {
		t.Errorf("with api_token the curl line sends no token: %s", d.curlLine(t))
	}
	c.click("#logout")
	c.waitText("#login-error", "signed out")
	if res, err := c.p.Eval(`async () => (await fetch('api/outbox')).status`); err != nil || res.Value.Int() != 401 {
		t.Errorf("after signing out the API answers %v", res.Value)
	}
}
