package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
)

var (
	assetRenders = flag.Int("assets", 12, "sequential renders per mode for the asset cache figures (0: no asset figures)")
	assetBoot    = flag.Int("assets-boot", 300, "ms the stand-in delays Grafana's bundle (its download from Grafana) in the asset cache figures")
)

// assetMode is one way of running the renderer for the asset figures.
type assetMode struct {
	name string
	opts render.Options
	r    *render.Renderer
	cpu  []time.Duration // Chromium's CPU time per sequential render
}

// benchAssets measures the page built from Grafana's own frontend (2.3 MB
// of script) with the renderer package itself, without the asset cache and
// with it, side by side and interleaved so that the machine's noise falls
// on both alike. For each it prints the time of one render (and Chromium's
// CPU time for it) and of 8 at once, and what a render still costs Grafana
// (requests and bytes, per path class), counted by the stand-in.
func benchAssets(n int) error {
	if n <= 0 {
		return nil
	}
	g, err := grafanatest.Start(grafanatest.Options{TLS: true})
	if err != nil {
		return err
	}
	defer g.Close()
	ctx := context.Background()
	const cacheBytes = 64 << 20
	modes := []*assetMode{
		{name: "no asset cache", opts: render.Options{}},
		{name: "asset cache", opts: render.Options{AssetCacheSize: cacheBytes}},
	}
	for _, m := range modes {
		m.opts.Concurrency, m.opts.QueueLength = 8, 32
		m.opts.Limits = render.Limits{MaxWidth: 3000, MaxHeight: 3000, MaxScale: 4, MaxTimeout: time.Minute}
		if m.r, err = render.New(ctx, m.opts); err != nil {
			return fmt.Errorf("start the renderer (%s): %w", m.name, err)
		}
		defer m.r.Close(ctx)
	}
	req := render.Request{URL: g.PanelURL(grafanatest.ScenarioDemo, url.Values{"boot": {fmt.Sprint(*assetBoot)}}),
		Width: 1000, Height: 500, Scale: 1, Timeout: 30 * time.Second, Encoding: render.PNG,
		Cookies: []render.Cookie{{Name: "renderKey", Value: secret.New(g.RenderKey), Domain: "localhost"}}}
	one := func(m *assetMode) (time.Duration, map[string]grafanatest.Traffic, error) {
		before, cpu := g.Served(), tree(m.r.Stats().BrowserPID).cpu()
		start := time.Now()
		_, err := m.r.Render(ctx, req)
		d := time.Since(start)
		m.cpu = append(m.cpu, tree(m.r.Stats().BrowserPID).cpu()-cpu)
		return d, grafanatest.Since(g.Served(), before), err
	}

	fmt.Printf("\nthe page built from Grafana's own frontend (scenes stand-in, bundle delayed %d ms), 1000x500 PNG, renderer package:\n", *assetBoot)
	cold := map[*assetMode]map[string]grafanatest.Traffic{}
	for _, m := range modes {
		if _, cold[m], err = one(m); err != nil {
			return err
		}
	}
	times := map[*assetMode][]time.Duration{}
	warm := map[*assetMode][]map[string]grafanatest.Traffic{}
	for i := 0; i < n; i++ {
		for _, m := range modes {
			d, t, err := one(m)
			if err != nil {
				return err
			}
			times[m], warm[m] = append(times[m], d), append(warm[m], t)
		}
	}
	fmt.Printf("  %-16s %8s %8s %9s   %-40s %s\n", "", "p50", "min", "CPU p50", "Grafana served: first render", "per warm render (mean)")
	for _, m := range modes {
		fmt.Printf("  %-16s %8s %8s %9s   %-40s %s\n", m.name, ms(pct(times[m], 50)), ms(pct(times[m], 0)), ms(pct(m.cpu[1:], 50)),
			traffic(cold[m]), traffic(meanTraffic(warm[m])))
	}

	fmt.Printf("\n  8 at once, wall time of each round:\n")
	for round := 1; round <= 3; round++ {
		for _, m := range modes {
			before := g.Served()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := 0; i < 8; i++ {
				wg.Go(func() {
					if _, err := m.r.Render(ctx, req); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				return err
			}
			wall := time.Since(start)
			per := grafanatest.Since(g.Served(), before)
			for c, t := range per {
				per[c] = grafanatest.Traffic{Requests: t.Requests / 8, Bytes: t.Bytes / 8}
			}
			fmt.Printf("  round %d  %-16s %8s   per render: %s\n", round, m.name, ms(wall), traffic(per))
		}
	}
	return nil
}

// traffic prints what Grafana served, per path class.
func traffic(t map[string]grafanatest.Traffic) string {
	var out string
	classes := make([]string, 0, len(t))
	for c := range t {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		out += fmt.Sprintf("%s %d req %s  ", c, t[c].Requests, kib(t[c].Bytes))
	}
	return out
}

// meanTraffic is the mean traffic of renders.
func meanTraffic(ts []map[string]grafanatest.Traffic) map[string]grafanatest.Traffic {
	sum := map[string]grafanatest.Traffic{}
	for _, t := range ts {
		for c, v := range t {
			s := sum[c]
			s.Requests += v.Requests
			s.Bytes += v.Bytes
			sum[c] = s
		}
	}
	for c, s := range sum {
		sum[c] = grafanatest.Traffic{Requests: s.Requests / int64(len(ts)), Bytes: s.Bytes / int64(len(ts))}
	}
	return sum
}

func kib(b int64) string {
	if b < 10<<10 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
}
