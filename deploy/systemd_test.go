package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/testenv"
)

// unitLines are the Key=value lines of the unit's [Service] section.
func unitLines(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", "panelcast.service"))
	if err != nil {
		t.Fatal(err)
	}
	out, section := map[string][]string{}, ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// envExample reads env.example: the variables set, and those shown in
// comments (#PANELCAST_X=...), in order.
func envExample(t *testing.T) (set map[string]string, commented [][2]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	set = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		body, isComment := strings.CutPrefix(line, "#")
		k, v, ok := strings.Cut(body, "=")
		if !ok || strings.ContainsAny(k, " \t") || k == "" {
			continue
		}
		if isComment {
			commented = append(commented, [2]string{k, v})
		} else {
			set[k] = v
		}
	}
	return set, commented
}

// TestSystemdUnit has systemd read the unit (systemd-analyze verify: unknown
// keys, bad values) and checks what it runs: the settings of the unit and
// env.example load as serve loads them, the outbox is in the state
// directory (not the cache), the PostgreSQL alternative the example shows
// loads too, and TimeoutStopSec allows a clean stop.
func TestSystemdUnit(t *testing.T) {
	unit := unitLines(t)
	// The variables systemd gives the process, %S and %C as for a system
	// service.
	spec := strings.NewReplacer("%S", "/var/lib", "%C", "/var/cache")
	env := map[string]string{}
	for _, e := range unit["Environment"] {
		k, v, _ := strings.Cut(spec.Replace(e), "=")
		env[k] = v
	}
	set, commented := envExample(t)
	for k, v := range set {
		env[k] = v
	}
	// The example leaves the token for the operator to fill in.
	if env["PANELCAST_AUTH_TOKEN"] == "" {
		env["PANELCAST_AUTH_TOKEN"] = "0123456789abcdef0123456789abcdef"
	}
	cfg := checkSettings(t, "panelcast.service with env.example", env)
	if cfg.OutboxPath != "/var/lib/panelcast/outbox.db" || !strings.Contains(strings.Join(unit["StateDirectory"], " "), "panelcast") {
		t.Errorf("the outbox is %q with StateDirectory %v; keep it in the state directory", cfg.OutboxPath, unit["StateDirectory"])
	}
	with := func(kvs ...[2]string) map[string]string {
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		for _, kv := range kvs {
			m[kv[0]] = kv[1]
		}
		return m
	}
	// Each commented setting, uncommented as it is shown; the outbox lines
	// go together.
	var outbox [][2]string
	for _, kv := range commented {
		if kv[0] == "PANELCAST_OUTBOX_PATH" || kv[0] == "PANELCAST_OUTBOX_URL" {
			outbox = append(outbox, kv)
		} else if strings.HasPrefix(kv[0], "PANELCAST_") {
			checkSettings(t, "env.example with "+kv[0]+" uncommented", with(kv))
		}
	}
	// The shared outbox, as the example's last lines show it: with the path
	// emptied, or serve refuses both.
	shared := with(outbox...)
	if c := checkSettings(t, "env.example with its PostgreSQL lines", shared); !c.OutboxURL.IsSet() || c.OutboxPath != "" {
		t.Errorf("with the PostgreSQL lines: outbox_url %q, outbox_path %q", c.OutboxURL, c.OutboxPath)
	}

	stop, err := time.ParseDuration(strings.Join(unit["TimeoutStopSec"], ""))
	if err != nil {
		t.Fatalf("TimeoutStopSec %v: %v", unit["TimeoutStopSec"], err)
	}
	checkStopTimeout(t, "TimeoutStopSec", cfg, 0, stop)

	// systemd's own reading; the binary is not installed here, so the
	// copy starts /bin/true instead.
	analyze := testenv.NeedCommand(t, "systemd-analyze")
	b, err := os.ReadFile(filepath.Join("systemd", "panelcast.service"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "panelcast.service")
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(b, []byte("/usr/local/bin/panelcast"), []byte("/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
