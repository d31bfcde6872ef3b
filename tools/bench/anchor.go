package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/render"
)

// startAnchor runs the anchor, grafana-image-renderer v5's `server`, on
// the system's Chromium, with its defaults otherwise. It speaks the same
// remote-render API as the HTTP door, so it is driven the same way. Its
// Chromium is told to accept the stand-in's self-signed certificate, as
// Grafana's [rendering] renderer_ignore_https_errors would have it.
func startAnchor(bin string, g *grafanatest.Server) (*httpDoor, error) {
	chromium, err := render.FindChromium("")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "server", "--server.addr="+addr, "--server.auth-token="+benchToken,
		"--browser.path="+chromium, "--browser.flag=--ignore-certificate-errors", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the anchor %s: %w", bin, err)
	}
	d := &httpDoor{cmd: cmd, base: "http://" + addr, name: "anchor (grafana-image-renderer server, GET /render)"}
	if err := d.waitHealthy("the anchor on " + addr); err != nil {
		return nil, err
	}
	return d, nil
}
