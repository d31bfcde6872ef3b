package deploy_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/server"
)

// otherVariables are PANELCAST_ variables that are no setting of their own.
var otherVariables = map[string]bool{"PANELCAST_CONFIG": true, "PANELCAST_CHROMIUM": true}

// checkSettings loads the PANELCAST_ variables a deploy file gives `panelcast
// serve` the way serve does (config.FromArgs, then server.CheckConfig), so a
// misspelt key, a value serve refuses or a forbidden combination fails here
// rather than in the operator's first start. It returns the configuration.
func checkSettings(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	keys := map[string]bool{}
	for _, k := range config.Keys {
		keys["PANELCAST_"+strings.ToUpper(k.Name)] = true
	}
	var environ []string
	for name, value := range env {
		if !strings.HasPrefix(name, "PANELCAST_") {
			continue
		}
		if !keys[name] && !otherVariables[name] {
			t.Errorf("%s: %s is no Panelcast setting (panelcast keys lists them)", where, name)
		}
		environ = append(environ, name+"="+value)
	}
	cfg, _, err := config.FromArgs("panelcast serve", nil, environ, io.Discard, nil)
	if err != nil {
		t.Fatalf("%s: serve refuses the settings: %v", where, err)
	}
	if err := server.CheckConfig(cfg); err != nil {
		t.Fatalf("%s: serve refuses to start: %v", where, err)
	}
	return cfg
}

// checkStopTimeout checks a supervisor waits long enough after SIGTERM
// (after pause, e.g. a preStop hook) for a clean stop: renders in flight get
// shutdown_timeout, then chat attempts in flight the worker's grace.
func checkStopTimeout(t *testing.T, where string, cfg config.Config, pause, stop time.Duration) {
	t.Helper()
	if need := pause + cfg.ShutdownTimeout + delivery.DefaultShutdownGrace; stop <= need {
		t.Errorf("%s: the process is killed %s after the stop begins; a clean stop may need %s (pause %s + shutdown_timeout %s + chat grace %s)",
			where, stop, need, pause, cfg.ShutdownTimeout, delivery.DefaultShutdownGrace)
	}
}
