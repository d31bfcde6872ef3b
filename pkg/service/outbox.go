package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/postgres"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
)

// ErrNoDataFolder means no folder the outbox may live in is writable; its
// sentence says what was tried and which key to set.
var ErrNoDataFolder = errors.New("no writable folder for the outbox")

// openOutbox opens the outbox where it belongs; st.mu is held. outbox_path
// wins. A plugin keeps it in Grafana's data folder: GF_PATHS_DATA, DATA_DIR,
// else the folder of the files Grafana asks it to write (see
// NoteGrafanaFile), which deb and rpm installs and Grafana started by hand
// need. A person's commands use the user's cache folder. A temporary folder
// never: a plugin's /tmp is private to Grafana's systemd unit and emptied
// at every restart, with the pushes in it.
//
// outbox_url is a PostgreSQL outbox instead, shared by a fleet. The store's
// kind and location (never a password) are kept for health; st.mu is held.
func (s *Service) openOutbox() (delivery.Store, error) {
	c := s.cfg
	st := &s.push
	if c.OutboxURL.IsSet() {
		st.kind = "postgres"
		st.location, _ = postgres.Location(c.OutboxURL.Reveal())
		o, err := postgres.Open(context.Background(), c.OutboxURL.Reveal(), postgres.Options{Logger: s.log})
		if err != nil {
			return nil, err // not a nil *postgres.Store in a non-nil Store
		}
		return o, nil
	}
	st.kind = "sqlite"
	if c.OutboxPath != "" {
		st.location = c.OutboxPath
		o, err := sqlite.Open(c.OutboxPath, sqlite.Options{Logger: s.log})
		if err != nil {
			return nil, err
		}
		return o, nil
	}
	var dirs []config.EnvDir
	var tried []string
	switch {
	case c.Grafana != nil:
		dirs = append(dirs, c.Grafana.DataDirs...)
		if d := s.push.grafanaData; d != "" {
			dirs = append(dirs, config.EnvDir{Var: "the folder of Grafana's pictures", Path: d})
		}
		for _, v := range []string{"GF_PATHS_DATA", "DATA_DIR"} {
			if !slices.ContainsFunc(c.Grafana.DataDirs, func(d config.EnvDir) bool { return d.Var == v }) {
				tried = append(tried, v+" is not set")
			}
		}
	default:
		d, err := os.UserCacheDir()
		if err != nil {
			tried = append(tried, "there is no user cache folder ("+err.Error()+")")
			break
		}
		if inTempDir(d) {
			tried = append(tried, "the user's cache folder "+d+" is a temporary folder")
			break
		}
		dirs = append(dirs, config.EnvDir{Var: "the user's cache folder", Path: d})
	}
	for _, d := range dirs {
		path := filepath.Join(d.Path, "panelcast", "outbox.db")
		o, err := sqlite.Open(path, sqlite.Options{Logger: s.log})
		if err == nil {
			st.location = path
			return o, nil
		}
		tried = append(tried, fmt.Sprintf("%s %s is not writable (%v)", d.Var, d.Path, err))
	}
	advice := "set outbox_path to a file on a local disk that Panelcast may write"
	switch {
	case c.Grafana != nil && s.throughGrafana:
		advice = "set outbox_path in the app's settings to a file on a local disk the grafana user may write, e.g. /var/lib/grafana/panelcast/outbox.db, or outbox_url when Grafana runs as several replicas; until then pushes are refused"
	case c.Grafana != nil:
		advice = "set outbox_path in [plugin.panelcast-renderer] to a file on a local disk the grafana user may write, e.g. /var/lib/grafana/panelcast/outbox.db; until then pushes are refused, and Panelcast tries Grafana's data folder again once Grafana has it render a picture"
	}
	return nil, fmt.Errorf("%w: %s: %s", ErrNoDataFolder, strings.Join(tried, "; "), advice)
}

// NoteGrafanaFile tells the service where Grafana had the plugin write a
// file (<data>/png/<name>.png): Grafana's data folder. While no other
// place for the outbox is writable, chat delivery opens it there.
func (s *Service) NoteGrafanaFile(path string) {
	dir := filepath.Dir(path)
	switch filepath.Base(dir) {
	case "png", "pdf", "csv":
	default:
		return
	}
	st := &s.push
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.started || st.stopped || st.outbox != nil || !errors.Is(st.openErr, ErrNoDataFolder) || st.grafanaData != "" {
		return
	}
	st.grafanaData = filepath.Dir(dir)
	o, err := s.openOutbox()
	if err != nil {
		st.openErr = err
		s.log.Error("chat delivery still has no outbox", "error", err)
		return
	}
	s.startWorker(o)
}

// inTempDir reports a path inside the system's temporary folder.
func inTempDir(path string) bool {
	rel, err := filepath.Rel(filepath.Clean(os.TempDir()), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
