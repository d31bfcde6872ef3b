// Package amtest starts the real Prometheus Alertmanager (Debian's
// prometheus-alertmanager) for tests: on a free loopback port, without
// clustering, in a temporary folder, stopped when the test ends. Only tests
// import it.
package amtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/testenv"
)

// Alertmanager is one running Alertmanager.
type Alertmanager struct {
	// Addr is host:port of its API.
	Addr string

	logs *testenv.LogBuffer
}

// Start runs Alertmanager with config (its YAML) and waits until it is
// ready. Without the program the test is skipped, except in CI.
func Start(t testing.TB, config string, args ...string) *Alertmanager {
	t.Helper()
	bin := testenv.NeedCommand(t, "prometheus-alertmanager")
	dir := t.TempDir()
	file := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	am := &Alertmanager{Addr: FreeAddr(t), logs: &testenv.LogBuffer{}}
	cmd := exec.Command(bin, append([]string{"--config.file=" + file, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + am.Addr,
		"--cluster.listen-address=", // no gossip: each Alertmanager alone
		"--log.level=warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = am.logs, am.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("alertmanager %s log:\n%s", am.Addr, am.logs.String())
		}
	})
	am.waitReady(t, exited)
	return am
}

// waitReady polls the readiness endpoint until it answers 200, failing when
// Alertmanager exits first (a config it refuses, for one).
func (am *Alertmanager) waitReady(t testing.TB, exited chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+am.Addr+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("Alertmanager exited: %v\n%s", err, am.logs.String())
		case <-ctx.Done():
			t.Fatalf("Alertmanager not ready at %s\n%s", am.Addr, am.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Post sends alerts to Alertmanager's API (POST /api/v2/alerts), as
// Prometheus does.
func (am *Alertmanager) Post(t testing.TB, alerts ...map[string]any) {
	t.Helper()
	b, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+am.Addr+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %s %s", resp.Status, body)
	}
}

// WebhookConfig is a route to one webhook receiver, as YAML: grouped by
// alertname, sent quickly, resolves included. url may carry a query;
// tokenFile, when set, is sent as Authorization: Bearer <its content>.
func WebhookConfig(url, tokenFile string) string {
	auth := ""
	if tokenFile != "" {
		auth = fmt.Sprintf("\n        http_config:\n          authorization:\n            type: Bearer\n            credentials_file: %s", strconv.Quote(tokenFile))
	}
	return fmt.Sprintf(`route:
  receiver: panelcast
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: panelcast
    webhook_configs:
      - url: %s
        send_resolved: true
        max_alerts: 0%s
`, strconv.Quote(url), auth)
}

// FreeAddr is a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
