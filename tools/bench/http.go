package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

// benchToken is the renderer token the bench's Grafana "sends".
const benchToken = "bench-renderer-token-0123456789"

// httpDoor is the same binary run as `panelcast serve`, asked the way
// Grafana 13 asks: GET /render with the page and the render key in the
// query and the token in X-Auth-Token.
type httpDoor struct {
	cmd  *exec.Cmd
	base string
	name string // "" is Panelcast's
}

// startServe runs `panelcast serve` for g's pages with more PANELCAST_*
// settings, and waits until it is healthy.
func startServe(bin string, g *grafanatest.Server, env ...string) (*httpDoor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "PANELCAST_ADDR="+addr, "PANELCAST_GRAFANA_URL="+g.URL,
		"PANELCAST_AUTH_TOKEN="+benchToken, "PANELCAST_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	d := &httpDoor{cmd: cmd, base: "http://" + addr}
	if err := d.waitHealthy("panelcast serve on " + addr); err != nil {
		return nil, err
	}
	return d, nil
}

// waitHealthy waits up to 30 s for the door's /healthz to answer 200, and
// stops the door when it never does (what names it in the error).
func (d *httpDoor) waitHealthy(what string) error {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(d.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			return fmt.Errorf("%s was not healthy after 30 s", what)
		}
	}
}

func (d *httpDoor) describe() string {
	if d.name != "" {
		return d.name
	}
	return "HTTP door (panelcast serve, GET /render)"
}

// metrics is what /metrics answers.
func (d *httpDoor) metrics() (string, error) {
	res, err := http.Get(d.base + "/metrics")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func (d *httpDoor) render(ctx context.Context, pageURL, renderKey string) error {
	q := url.Values{"url": {pageURL}, "width": {"1000"}, "height": {"500"}, "deviceScaleFactor": {"1.000000"},
		"timeout": {"30"}, "renderKey": {renderKey}, "domain": {"localhost"}, "encoding": {"png"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/render?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", benchToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET /render: %s: %s", res.Status, body)
	}
	return err
}

func (d *httpDoor) pid() int { return d.cmd.Process.Pid }

// stop asks for the graceful shutdown a supervisor would (SIGTERM).
func (d *httpDoor) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-exited
	}
}
