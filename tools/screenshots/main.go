// Command screenshots makes the README's pictures with the project's own
// tools and measures the console: it builds the binary, runs `panelcast
// serve` in demo mode, pushes the demo panel to inbox:demo, posts a
// recorded Grafana alert notification (its panel pointed at the demo
// dashboard) to inbox:alerts, and drives the console in the system's
// Chromium:
//
//   - docs/console.png: the console at 1280×960 after rendering the demo
//     panel;
//   - docs/alert.png: the alert's message in the console's inbox, with its
//     panel's picture, which it checks shows the alert's instance alone.
//
// It prints the console's page weight (the bytes of the page and its
// assets, and on the wire with gzip) and the medians of five cold loads'
// first paint and first contentful paint.
//
//	go run ./tools/screenshots -out docs
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/rodlaunch"
	"github.com/panelcast/panelcast/pkg/demo"
	"github.com/panelcast/panelcast/pkg/render"
)

func main() {
	out := flag.String("out", "docs", "folder for console.png and alert.png")
	payload := flag.String("alert", "pkg/notification/testdata/grafana-firing-panel.json", "a recorded Grafana webhook notification whose panel is drawn")
	flag.Parse()
	if err := run(*out, *payload); err != nil {
		log.Fatal(err)
	}
}

func run(out, payload string) error {
	dir, err := os.MkdirTemp("", "panelcast-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := pluginhost.BuildPlugin(dir)
	if err != nil {
		return err
	}
	s, err := startServe(bin, dir)
	if err != nil {
		return err
	}
	defer s.stop()
	if err := s.post("/push", `{"panel": {"dashboardUid": "demo", "panelId": 2, "from": "now-6h", "to": "now"}, "to": "inbox:demo", "text": "CPU of the web tier this afternoon"}`); err != nil {
		return err
	}
	body, instance, err := alertBody(payload, s.demoURL)
	if err != nil {
		return err
	}
	if err := s.post("/alerts?to=inbox:alerts", string(body)); err != nil {
		return err
	}

	bin, err = render.FindChromium("")
	if err != nil {
		return err
	}
	b, stop, err := rodlaunch.Launch(bin)
	if err != nil {
		return err
	}
	defer stop()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := measure(b, s.base); err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	if err := consoleShot(b, s.base, filepath.Join(out, "console.png")); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if err := alertShot(b, s.base, filepath.Join(out, "alert.png")); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	return checkAlertPicture(s.base, instance)
}

// checkAlertPicture checks that the alert's picture in the inbox is the
// demo panel with the alert's instance alone: the alert's labels became
// var-instance through the demo dashboard's instance variable.
func checkAlertPicture(base, instance string) error {
	i := slices.IndexFunc(demo.All, func(s demo.Series) bool { return s.Name == instance })
	if i < 0 {
		return fmt.Errorf("the alert's instance %q is no series of the demo", instance)
	}
	res, err := http.Get(base + "/api/inbox?channel=alerts")
	if err != nil {
		return err
	}
	var inbox struct{ Messages []struct{ Images []string } }
	err = json.NewDecoder(res.Body).Decode(&inbox)
	res.Body.Close()
	if err != nil || len(inbox.Messages) != 1 || len(inbox.Messages[0].Images) != 1 {
		return fmt.Errorf("inbox:alerts holds %+v (%v), want one message with one picture", inbox, err)
	}
	res, err = http.Get(base + "/" + inbox.Messages[0].Images[0])
	if err != nil {
		return err
	}
	defer res.Body.Close()
	img, err := png.Decode(res.Body)
	if err != nil {
		return fmt.Errorf("the alert's picture: %w", err)
	}
	if _, err := grafanatest.CheckDemoPictureOf(img, demo.All[i:i+1]); err != nil {
		return fmt.Errorf("the alert's picture is not the demo panel with %s alone: %w", instance, err)
	}
	fmt.Printf("alert picture: the demo panel with %s alone\n", instance)
	return nil
}

// serve is `panelcast serve` in demo mode.
type serve struct {
	cmd     *exec.Cmd
	base    string // the console, http://127.0.0.1:<port>
	demoURL string // the demo dashboard's Grafana
}

func startServe(bin, dir string) (*serve, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--outbox-path", filepath.Join(dir, "outbox.db"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serve{cmd: cmd}
	console := regexp.MustCompile(`^console: (http://\S+)/$`)
	demoLine := regexp.MustCompile(`demo dashboard on (https://localhost:\d+)`)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for s.base == "" || s.demoURL == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				s.stop()
				return nil, errors.New("panelcast serve stopped before it printed its addresses")
			}
			if m := console.FindStringSubmatch(line); m != nil {
				s.base = m[1]
			}
			if m := demoLine.FindStringSubmatch(line); m != nil {
				s.demoURL = m[1]
			}
		case <-timeout:
			s.stop()
			return nil, errors.New("panelcast serve printed no console and demo address in 30 s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s, nil
}

func (s *serve) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

func (s *serve) post(path, body string) error {
	res, err := http.Post(s.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, answer)
	}
	return nil
}

// alertBody is the recorded notification with its panel on the demo
// dashboard and its alert started 40 minutes ago, so the picture shows the
// last hour and a half as a fresh alert's would.
func alertBody(path, demoURL string) (body []byte, instance string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var n map[string]any
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	alerts, _ := n["alerts"].([]any)
	if len(alerts) == 0 {
		return nil, "", fmt.Errorf("%s holds no alert", path)
	}
	for _, a := range alerts {
		a := a.(map[string]any)
		if labels, ok := a["labels"].(map[string]any); ok && instance == "" {
			instance, _ = labels["instance"].(string)
		}
		a["startsAt"] = time.Now().Add(-40 * time.Minute).Format(time.RFC3339)
		for _, k := range []string{"dashboardURL", "panelURL"} {
			if v, ok := a[k].(string); ok {
				a[k] = regexp.MustCompile(`^https://[^/]+/d/[^?]+`).ReplaceAllString(v, demoURL+"/d/"+demo.DashboardUID)
			}
		}
	}
	body, err = json.Marshal(n)
	return body, instance, err
}

func open(b *rod.Browser, base string, width, height int) (*rod.Page, error) {
	inc, err := b.Incognito()
	if err != nil {
		return nil, err
	}
	p, err := inc.Page(proto.TargetCreateTarget{})
	if err != nil {
		return nil, err
	}
	if err := p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: width, Height: height, DeviceScaleFactor: 1}); err != nil {
		return nil, err
	}
	err = proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}.Call(p)
	if err != nil {
		return nil, err
	}
	p = p.Timeout(60 * time.Second)
	if err := p.Navigate(base + "/"); err != nil {
		return nil, err
	}
	if err := p.WaitLoad(); err != nil {
		return nil, err
	}
	if _, err := p.ElementR("#health-tiles .tile", "/^chromium/i"); err != nil {
		return nil, fmt.Errorf("the health tiles did not appear: %w", err)
	}
	return p, nil
}

// consoleShot renders the demo panel in the console and takes the window.
func consoleShot(b *rod.Browser, base, file string) error {
	p, err := open(b, base, 1280, 960)
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := p.ElementR("#outbox-rows tr", "/alert.*sent/s"); err != nil {
		return fmt.Errorf("the alert was not sent: %w", err)
	}
	submit, err := p.Element("#render-form button[type=submit]")
	if err != nil {
		return err
	}
	if err := submit.Click(proto.InputMouseButtonLeft, 1); err != nil {
		return err
	}
	if _, err := p.ElementR("#preview-caption", `rendered in \d+ ms`); err != nil {
		return err
	}
	if err := p.Mouse.MoveTo(proto.Point{X: 0, Y: 0}); err != nil {
		return err
	}
	shot, err := p.Screenshot(false, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		return err
	}
	return write(file, shot)
}

// alertShot takes the alert's message in the inbox, shown alone (the
// inbox filtered to its channel) at a width where it fills a column.
func alertShot(b *rod.Browser, base, file string) error {
	p, err := open(b, base, 720, 900)
	if err != nil {
		return err
	}
	defer p.Close()
	channel, err := p.Element("#inbox-channel")
	if err != nil {
		return err
	}
	if err := channel.Input("alerts"); err != nil {
		return err
	}
	if err := channel.Type(input.Enter); err != nil {
		return err
	}
	// The filtered list replaces the whole one.
	if err := p.Wait(rod.Eval(`() => { const m = document.querySelectorAll('#inbox-list .message'); return m.length === 1 && m[0].textContent.includes('HighCPU') }`)); err != nil {
		return fmt.Errorf("the inbox did not show the alert alone: %w", err)
	}
	msg, err := p.Element("#inbox-list .message")
	if err != nil {
		return err
	}
	if err := msg.ScrollIntoView(); err != nil {
		return err
	}
	if err := p.Wait(rod.Eval(`() => [...document.querySelectorAll('#inbox-list img')].every(i => i.complete && i.naturalWidth > 0)`)); err != nil {
		return err
	}
	shot, err := msg.Screenshot(proto.PageCaptureScreenshotFormatPng, 0)
	if err != nil {
		return err
	}
	return write(file, shot)
}

func write(file string, shot []byte) error {
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return err
	}
	// Re-encoded at the best compression: Chromium's is fast, not small.
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %v, %d KB\n", file, img.Bounds().Size(), buf.Len()>>10)
	return nil
}

// measure loads the console cold five times and prints the bytes of the
// page and its assets and the medians of its paint timings.
func measure(b *rod.Browser, base string) error {
	const runs = 5
	var fp, fcp []float64
	var decoded, encoded float64
	for range runs {
		p, err := open(b, base, 1280, 900)
		if err != nil {
			return err
		}
		res, err := p.Eval(`async () => {
		  await new Promise(done => {
		    new PerformanceObserver(l => l.getEntries().some(e => e.name === 'first-contentful-paint') && done()).observe({type: 'paint', buffered: true});
		    setTimeout(done, 5000);
		  });
		  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
		  const nav = performance.getEntriesByType('navigation')[0];
		  const own = [nav, ...performance.getEntriesByType('resource').filter(r => new URL(r.name).pathname.startsWith('/console/'))];
		  return JSON.stringify({fp: paint['first-paint'] ?? -1, fcp: paint['first-contentful-paint'] ?? -1,
		    decoded: own.reduce((a, r) => a + r.decodedBodySize, 0), encoded: own.reduce((a, r) => a + r.encodedBodySize, 0)});
		}`)
		_ = p.Close()
		if err != nil {
			return err
		}
		var m struct{ FP, FCP, Decoded, Encoded float64 }
		if err := json.Unmarshal([]byte(res.Value.Str()), &m); err != nil {
			return err
		}
		fp, fcp = append(fp, m.FP), append(fcp, m.FCP)
		decoded, encoded = m.Decoded, m.Encoded
	}
	fmt.Printf("console page weight: %.0f bytes (%.0f with gzip, on the wire)\n", decoded, encoded)
	fmt.Printf("cold load at 1280x900, median of %d: first paint %.0f ms, first contentful paint %.0f ms\n", runs, median(fp), median(fcp))
	return nil
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
