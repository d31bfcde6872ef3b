package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/secret"
)

// notWritable is a folder no one may create, root included.
func notWritable(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(file, "folder")
}

// startOutbox starts chat delivery (a Slack token makes it open the
// outbox; nothing is sent) and returns where the outbox went and why not.
func startOutbox(t *testing.T, c config.Config) (*Service, string, error) {
	t.Helper()
	c.SlackBotToken = secret.New("xoxb-outbox-test")
	s := planService(c)
	err := s.startDelivery(delivery.WorkerOptions{})
	t.Cleanup(func() { _ = s.stopDelivery() })
	return s, s.OutboxPath(), err
}

func TestOutboxNeverInATemporaryFolder(t *testing.T) {
	// A person's command without a home or a cache folder: not /tmp.
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	_, path, err := startOutbox(t, config.Default())
	if path != "" || err == nil || !strings.Contains(err.Error(), "outbox_path") {
		t.Errorf("without a cache folder: outbox %q, %v; want none and a sentence naming outbox_path", path, err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(os.TempDir(), "cache"))
	if _, path, err = startOutbox(t, config.Default()); path != "" || err == nil {
		t.Errorf("cache folder in %s: outbox %q, %v; want none", os.TempDir(), path, err)
	}
	cache := t.TempDir()
	if strings.HasPrefix(cache, os.TempDir()) {
		t.Setenv("TMPDIR", notWritable(t)) // t.TempDir is under the system's temporary folder
	}
	t.Setenv("XDG_CACHE_HOME", cache)
	if _, path, err = startOutbox(t, config.Default()); path != filepath.Join(cache, "panelcast", "outbox.db") || err != nil {
		t.Errorf("user cache folder: outbox %q, %v", path, err)
	}
}

func TestOutboxInGrafanasDataFolder(t *testing.T) {
	c := config.Default()
	data := t.TempDir()
	c.Grafana = &config.GrafanaEnv{DataDirs: []config.EnvDir{{Var: "GF_PATHS_DATA", Path: notWritable(t)}, {Var: "DATA_DIR", Path: data}}}
	if _, path, err := startOutbox(t, c); path != filepath.Join(data, "panelcast", "outbox.db") || err != nil {
		t.Errorf("DATA_DIR after an unwritable GF_PATHS_DATA: outbox %q, %v", path, err)
	}

	// Neither variable: the plugin waits for Grafana's first picture.
	c.Grafana = &config.GrafanaEnv{}
	t.Setenv("HOME", data) // a writable home must not be used either
	s, path, err := startOutbox(t, c)
	if path != "" || err == nil || !strings.Contains(err.Error(), "GF_PATHS_DATA is not set; DATA_DIR is not set") ||
		!strings.Contains(err.Error(), "outbox_path") {
		t.Fatalf("no data folder: outbox %q, %v", path, err)
	}
	if _, err := s.push.outboxFor("slack"); err == nil || !strings.Contains(err.Error(), "outbox_path") {
		t.Errorf("a push would get %v", err)
	}
	s.NoteGrafanaFile(filepath.Join(data, "elsewhere", "x.png")) // not a folder Grafana writes pictures to
	if s.OutboxPath() != "" {
		t.Errorf("outbox opened beside %s", filepath.Join(data, "elsewhere"))
	}
	s.NoteGrafanaFile(filepath.Join(data, "png", "abc.png"))
	if got := s.OutboxPath(); got != filepath.Join(data, "panelcast", "outbox.db") {
		t.Errorf("after Grafana's picture: outbox %q", got)
	}
	if _, err := s.push.outboxFor("slack"); err != nil {
		t.Errorf("a push after the picture: %v", err)
	}
}
