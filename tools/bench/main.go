// Command bench measures Panelcast's rendering the way Grafana uses it,
// through both doors of the real binary: as a plugin started by the
// project's Grafana-like go-plugin host (Grafana 9-12), and as `panelcast
// serve` answering GET /render (Grafana 13+), both rendering the stand-in
// Grafana pages over https. For each it prints the render overhead over
// the page's own time (p50, p95), the wall time of 8 concurrent renders of
// a page that needs 1 s, and the process tree's memory over 200 renders.
// Then the page built from Grafana's own frontend (the scenes stand-in):
// 8 at once, and the bytes Grafana serves per warm render; the breakdown
// of a render by phase; and, once the door's browser_idle_timeout (-idle)
// has passed, its memory and the cold render that follows. It ends with
// issue 20's goals table for every door, and with -anchor (a
// grafana-image-renderer binary) the anchor's figures from the same run
// and each door's ratio to them.
//
// The page's own time is measured on the server side: from the moment the
// page's document was requested until its query was answered (plus the
// paint delay the page adds after it); overhead is the rest of the render.
//
// Then it measures the outbox's throughput, end to end, on SQLite and on a
// PostgreSQL it starts (see benchOutbox).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
)

func main() {
	sequential := flag.Int("n", 40, "sequential renders for the overhead figures")
	soak := flag.Int("soak", 200, "renders for the memory figures")
	soakAt := flag.Int("soak-at", 8, "renders at once in the memory soak (the peak PSS figure is for 8)")
	anchor := flag.String("anchor", "", "a grafana-image-renderer (v5) binary to measure the same way, through its GET /render, for the ratios")
	idle := flag.Duration("idle", 3*time.Second, "browser_idle_timeout the doors run with, for the idle memory and cold start figures (0: not set, for a build without the key)")
	prebuilt := flag.String("bin", "", "a panelcast binary to measure instead of building this checkout (e.g. an older build, for before and after in one run)")
	doors := flag.String("door", "plugin,http", "doors to measure, comma-separated: plugin (Grafana 9-12), http (panelcast serve, Grafana 13+); empty for none")
	outbox := flag.String("outbox", "sqlite,postgres", "outbox stores to measure, comma-separated: sqlite, postgres; empty for none")
	outboxJobs := flag.Int("outbox-jobs", 2000, "jobs per outbox measurement")
	outboxConcurrency := flag.Int("outbox-concurrency", 0, "the worker's concurrency in the outbox measurement (0: its default)")
	alerts := flag.Int("alerts", 20, "single alerts for the webhook-to-chat figures (0: no alert figures)")
	flag.Parse()
	err := run(options{sequential: *sequential, soak: *soak, soakAt: *soakAt, doors: list(*doors), alerts: *alerts,
		anchor: *anchor, idle: *idle, bin: *prebuilt})
	if err == nil {
		err = benchAssets(*assetRenders)
	}
	if err == nil && len(list(*outbox)) > 0 {
		err = benchOutbox(list(*outbox), *outboxJobs, *outboxConcurrency)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func list(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// options are the render benchmarks' flags.
type options struct {
	sequential, soak, soakAt int
	doors                    []string
	alerts                   int
	anchor                   string
	idle                     time.Duration
	bin                      string
}

func run(o options) error {
	if len(o.doors) == 0 && o.alerts == 0 && o.anchor == "" {
		return nil
	}
	ctx := context.Background()
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: benchSAToken})
	if err != nil {
		return err
	}
	defer g.Close()
	dir, err := os.MkdirTemp("", "panelcast-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.bin
	if bin == "" {
		fmt.Println("building the binary…")
		if bin, err = pluginhost.BuildPlugin(dir); err != nil {
			return err
		}
	}
	var settings map[string]string
	var env []string
	if o.idle > 0 {
		settings = map[string]string{"browser_idle_timeout": o.idle.String()}
		env = []string{"PANELCAST_BROWSER_IDLE_TIMEOUT=" + o.idle.String()}
	}
	names := o.doors
	if o.anchor != "" {
		names = append(names, "anchor")
	}
	var all []*figures
	for _, name := range names {
		var d door
		switch name {
		case "plugin":
			d, err = startPluginDoor(ctx, bin, dir, g, settings)
		case "http":
			d, err = startServe(bin, g, env...)
		case "anchor":
			d, err = startAnchor(o.anchor, g)
		default:
			return fmt.Errorf("unknown door %q: use plugin or http", name)
		}
		if err != nil {
			return err
		}
		f := &figures{door: name}
		err = (&bench{soakAt: o.soakAt, ctx: ctx, g: g, door: d, f: f, idle: o.idle}).suite(o.sequential, o.soak)
		d.stop()
		if err != nil {
			return err
		}
		all = append(all, f)
	}
	if len(all) > 0 {
		printTable(all)
	}
	if o.alerts > 0 {
		return benchAlerts(bin, dir, g, o.alerts)
	}
	return nil
}

// door is one way into the binary: a render of the page at pageURL, its
// metrics, the process whose tree holds the browser, and a stop.
type door interface {
	describe() string
	render(ctx context.Context, pageURL, renderKey string) error
	metrics() (string, error)
	pid() int
	stop()
}

// pluginDoor is the binary started by the Grafana-like go-plugin host.
type pluginDoor struct{ h *pluginhost.Host }

func startPluginDoor(ctx context.Context, bin, dir string, g *grafanatest.Server, settings map[string]string) (door, error) {
	data := filepath.Join(dir, "data")
	for _, d := range []string{"png", "csv"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o700); err != nil {
			return nil, err
		}
	}
	h, err := pluginhost.Start(ctx, pluginhost.Config{Executable: bin, PluginID: "panelcast-renderer", PluginVersion: "4.0.0",
		GrafanaVersion: "12.1.0", AppURL: g.URL, DataPath: data, Section: settings})
	if err != nil {
		return nil, err
	}
	return pluginDoor{h}, nil
}

func (d pluginDoor) describe() string { return "plugin door, Grafana host 12.1.0" }

func (d pluginDoor) render(ctx context.Context, pageURL, renderKey string) error {
	path, err := d.h.Render(ctx, &pluginextensionv2.RenderRequest{Url: pageURL, Width: 1000, Height: 500, DeviceScaleFactor: 1,
		RenderKey: renderKey, Domain: "localhost", Timeout: 30, AuthToken: "-", Encoding: "png"})
	if err == nil {
		os.Remove(path)
	}
	return err
}

func (d pluginDoor) metrics() (string, error) {
	b, err := d.h.CollectMetrics(context.Background())
	return string(b), err
}

func (d pluginDoor) pid() int { return d.h.Pid() }
func (d pluginDoor) stop()    { d.h.Kill() }

// suite runs every measurement through the bench's door: after a warm-up,
// the overhead of sequential renders, rounds of concurrent ones, the
// memory soak, the Grafana-frontend page and the idle stop.
func (b *bench) suite(sequential, soak int) error {
	for i := 0; i < 5; i++ { // warm up
		if _, err := b.render(grafanatest.ScenarioScenes, nil); err != nil {
			return err
		}
	}
	own, err := b.sequentialRenders(sequential)
	if err != nil {
		return err
	}
	printPhases(b.f, own)
	if err := b.concurrentRounds(); err != nil {
		return err
	}
	b.memorySoak(soak)
	if err := b.frontendPage(); err != nil {
		return err
	}
	return b.idleStop()
}

// sequentialRenders prints, per page, the page's own time and what
// Panelcast adds to it, over n renders one after another; it keeps the
// figures and the scenes page's phases, and returns that page's mean own
// time.
func (b *bench) sequentialRenders(n int) (time.Duration, error) {
	fmt.Printf("\n%s: %d renders each, 1000x500 PNG\n\n", b.door.describe(), n)
	fmt.Printf("%-34s %8s %8s %8s %8s %9s\n", "page", "own p50", "total", "ovh p50", "ovh p95", "CPU mean")
	var scenesOwn time.Duration
	for _, c := range []struct {
		name, scenario string
		params         url.Values
		paintAfter     time.Duration
	}{
		{"scenes (Grafana 10-12)", grafanatest.ScenarioScenes, nil, 0},
		{"binding (Grafana 12+)", grafanatest.ScenarioBinding, nil, grafanatest.BindingPaintDelay},
		{"scenes, 1 s page", grafanatest.ScenarioScenes, url.Values{"query": {"500"}}, 0},
	} {
		var own, total, over []time.Duration
		before, _ := b.door.metrics()
		cpu := tree(b.door.pid()).cpu()
		for i := 0; i < n; i++ {
			m, err := b.render(c.scenario, c.params)
			if err != nil {
				return 0, err
			}
			o := m.own + c.paintAfter
			own, total, over = append(own, o), append(total, m.total), append(over, m.total-o)
		}
		// The door's process tree, browser included, per render: what 8 at once divide among the cores.
		perRender := (tree(b.door.pid()).cpu() - cpu) / time.Duration(n)
		fmt.Printf("%-34s %8s %8s %8s %8s %9s\n", c.name, ms(pct(own, 50)), ms(pct(total, 50)), ms(pct(over, 50)), ms(pct(over, 95)), ms(perRender))
		switch c.scenario {
		case grafanatest.ScenarioBinding:
			b.f.overheadBind = pct(over, 50)
		case grafanatest.ScenarioScenes:
			if c.params != nil {
				continue
			}
			b.f.overhead, b.f.warm = pct(over, 50), pct(total, 50)
			after, _ := b.door.metrics()
			b.keepPhases(before, after, mean(total))
			scenesOwn = mean(own)
		}
	}
	return scenesOwn, nil
}

// keepPhases works out the mean of each render phase, and of the door's
// own time, between two scrapes of its metrics.
func (b *bench) keepPhases(before, after string, client time.Duration) {
	b.f.clientTotal = client
	if after == "" {
		return
	}
	meanOf := func(name, match, key string) map[string]time.Duration {
		out := map[string]time.Duration{}
		was := promSums(before, name, match, key)
		for k, v := range promSums(after, name, match, key) {
			if n := v[1] - was[k][1]; n > 0 {
				out[k] = time.Duration((v[0] - was[k][0]) / n * float64(time.Second))
			}
		}
		return out
	}
	phases := meanOf("panelcast_render_phase_seconds", "phase=", "phase")
	for _, name := range []string{"queue", "browser", "context", "prepare", "navigate", "ready", "capture", "write"} {
		if d, ok := phases[name]; ok {
			b.f.phases = append(b.f.phases, phase{name, d})
		}
	}
	b.f.serverTotal = meanOf("panelcast_render_duration_seconds", `result="ok"`, "kind")["png"]
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return sum / time.Duration(max(len(d), 1))
}

// concurrentRounds prints the wall time of three rounds of 8 renders at
// once of a page that needs 1 s.
func (b *bench) concurrentRounds() error {
	fmt.Printf("\n8 concurrent renders of a page that needs 1 s (boot 300 + gap 200 + query 500 ms):\n")
	return b.rounds(3, grafanatest.ScenarioScenes, url.Values{"query": {"500"}}, &b.f.simple8)
}

// rounds renders the page 8 at once, n times, and keeps each round's wall
// time in s. A round's failed renders (the anchor times out under load)
// are counted and shown, not fatal: the round's time is then a lower bound.
func (b *bench) rounds(n int, scenario string, params url.Values, s *span) error {
	for round := 1; round <= n; round++ {
		// One reading of the tree for the round's start, before its clock.
		procs := tree(b.door.pid())
		cpu := procs.cpu()
		browser, mainCPU := procs.browserMain()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		var mu sync.Mutex
		var before, own []time.Duration
		for i := 0; i < 8; i++ {
			wg.Go(func() {
				m, err := b.render(scenario, params)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				before, own = append(before, m.before), append(own, m.own)
				mu.Unlock()
			})
		}
		wg.Wait()
		close(errs)
		took := time.Since(start)
		procs = tree(b.door.pid())
		used := procs.cpu() - cpu
		use := fmt.Sprintf("CPU %.2f s, %s per render: on %d cores at least %.2f s", used.Seconds(), ms(used/8), runtime.NumCPU(), (used / time.Duration(runtime.NumCPU())).Seconds())
		var serial time.Duration // the browser's main thread, when one browser did the round (not the anchor's browser per render)
		if after, c := procs.browserMain(); browser != 0 && after == browser {
			serial = c - mainCPU
			use += fmt.Sprintf("; the browser's main thread %.2f s, %s per render, one after another", serial.Seconds(), ms(serial/8))
		}
		s.add(took, used, serial)
		if len(own) > 0 {
			// When each page could start, and how long it then took under the others' load.
			use += fmt.Sprintf("; documents asked for after %s–%s, the pages' own time %s–%s", ms(pct(before, 0)), ms(pct(before, 100)), ms(pct(own, 0)), ms(pct(own, 100)))
		}
		failed := 0
		var first error
		for err := range errs {
			if failed++; first == nil {
				first = err
			}
		}
		if failed == 8 {
			return first
		}
		s.failed += failed
		if failed > 0 {
			fmt.Printf("  round %d: %s wall (%s), %d of 8 failed: %v\n", round, ms(took), use, failed, first)
			continue
		}
		fmt.Printf("  round %d: %s wall (%s)\n", round, ms(took), use)
	}
	return nil
}

// frontendPage renders the page built from Grafana's own frontend (the
// scenes stand-in, 2.3 MB of script): what Grafana serves per warm render,
// one at a time, then rounds of 8 at once.
func (b *bench) frontendPage() error {
	params := url.Values{"query": {"50"}}
	for i := 0; i < 2; i++ { // warm up: the first render may fill caches
		if _, err := b.render(grafanatest.ScenarioDemo, params); err != nil {
			return err
		}
	}
	const n = 4
	before := b.g.Served()
	for i := 0; i < n; i++ {
		if _, err := b.render(grafanatest.ScenarioDemo, params); err != nil {
			return err
		}
	}
	served := grafanatest.Since(b.g.Served(), before)
	static := served[grafanatest.ClassStatic]
	b.f.demoBytes, b.f.demoReqs = float64(static.Bytes)/n, float64(static.Requests)/n
	for _, t := range served {
		b.f.demoAllBytes += float64(t.Bytes) / n
	}
	fmt.Printf("\nthe scenes stand-in (Grafana's frontend), per warm render: Grafana served %.0f static requests, %s; %s in all\n",
		b.f.demoReqs, bytesString(b.f.demoBytes), bytesString(b.f.demoAllBytes))
	fmt.Printf("8 concurrent renders of it:\n")
	return b.rounds(3, grafanatest.ScenarioDemo, params, &b.f.demo8)
}

// idleStop waits for the door's idle timeout to pass, prints the process
// tree's memory then, and times the render that follows against a warm one.
func (b *bench) idleStop() error {
	if b.idle == 0 {
		return nil // the build has no idle stop
	}
	time.Sleep(b.idle + time.Second)
	rss, pss, procs := tree(b.door.pid()).memory()
	// The browser's helpers may take a moment to go.
	for deadline := time.Now().Add(10 * time.Second); procs > 1 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		rss, pss, procs = tree(b.door.pid()).memory()
	}
	b.f.idleMem, b.f.idleRSS, b.f.idleProcs = pss, rss, procs
	b.f.idleAnon, b.f.idleFile = pssSplit(b.door.pid())
	start := time.Now()
	if _, err := b.render(grafanatest.ScenarioScenes, nil); err != nil {
		return err
	}
	b.f.cold = time.Since(start)
	fmt.Printf("\nafter %s without a render: PSS %.0f MiB (RSS %.0f MiB, %d processes; the door's own PSS: %.0f MiB anonymous, %.0f MiB of its files); the next render %s (warm p50 %s)\n",
		b.idle, mib(pss), mib(rss), procs, mib(b.f.idleAnon), mib(b.f.idleFile), ms(b.f.cold), ms(b.f.warm))
	return nil
}

// memorySoak renders n quick panels, b.soakAt at a time, and prints the
// process tree's memory every 50, with the peaks since the last line.
func (b *bench) memorySoak(n int) {
	fmt.Printf("\nmemory of the process tree (Panelcast + Chromium) over %d renders, %d at a time:\n", n, b.soakAt)
	fmt.Printf("  %8s %12s %12s %6s %16s %16s\n", "renders", "RSS sum", "PSS", "procs", "peak RSS sum", "peak PSS")
	var peakRSS, peakPSS int64
	report := func(done int) {
		rss, pss, procs := tree(b.door.pid()).memory()
		if done == 0 {
			b.f.pssRest = pss
		}
		fmt.Printf("  %8d %10.0f MiB %8.0f MiB %6d %12.0f MiB %12.0f MiB\n", done, mib(rss), mib(pss), procs, mib(peakRSS), mib(peakPSS))
		peakRSS, peakPSS = 0, 0
	}
	time.Sleep(time.Second) // the last renders' contexts are disposed of after their answers
	report(0)
	for done := 0; done < n; {
		batch := min(b.soakAt, n-done)
		rss, pss := b.soakBatch(batch)
		peakRSS, peakPSS = max(peakRSS, rss), max(peakPSS, pss)
		if batch == 8 {
			b.f.pssPeak8 = max(b.f.pssPeak8, pss)
		}
		if done += batch; done%50 == 0 || done == n {
			report(done)
		}
	}
}

// soakBatch runs n quick renders at once and returns the tree's peak
// memory, sampled while they run.
func (b *bench) soakBatch(n int) (peakRSS, peakPSS int64) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The soak measures memory; a failed render shows in the next figures.
			_, _ = b.render(grafanatest.ScenarioScenes, url.Values{"boot": {"50"}, "querystart": {"20"}, "query": {"50"}})
		}()
	}
	sampled := make(chan struct{})
	go func() { wg.Wait(); close(sampled) }()
	for {
		rss, pss, _ := tree(b.door.pid()).memory()
		peakRSS, peakPSS = max(peakRSS, rss), max(peakPSS, pss)
		select {
		case <-sampled:
			return peakRSS, peakPSS
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type bench struct {
	soakAt int // renders at once in the memory soak
	ctx    context.Context
	g      *grafanatest.Server
	door   door
	f      *figures      // what the suite found
	idle   time.Duration // the door's browser_idle_timeout
}

// measure is one render as the stand-in saw it: how long after the
// render began Grafana got its document request (before: Panelcast's own
// work, and its queue), the page's own time from that request until its
// query was answered, and the render's whole time.
type measure struct{ before, own, total time.Duration }

// render renders one panel through the door and works out the page's own
// time from the stand-in's record of that render's requests.
func (b *bench) render(scenario string, params url.Values) (measure, error) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	q := url.Values{"bench": {id}}
	for k, v := range params {
		q[k] = v
	}
	start := time.Now()
	err := b.door.render(b.ctx, b.g.PanelURL(scenario, q), b.g.RenderKey)
	total := time.Since(start)
	if err != nil {
		return measure{}, err
	}
	var docAt, queryEnd time.Time
	for _, v := range b.g.Visits() {
		if v.At.Before(start) {
			continue
		}
		switch {
		case strings.HasPrefix(v.Path, "/d-solo/") && v.Query.Get("bench") == id:
			docAt = v.At
		case v.Path == "/api/ds/query" && !docAt.IsZero() && queryEnd.IsZero() && v.At.After(docAt):
			d, _ := strconv.Atoi(v.Query.Get("ms"))
			queryEnd = v.At.Add(time.Duration(d) * time.Millisecond)
		}
	}
	if docAt.IsZero() || queryEnd.IsZero() {
		return measure{total: total}, nil
	}
	return measure{before: docAt.Sub(start), own: queryEnd.Sub(docAt), total: total}, nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }
