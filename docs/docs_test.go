package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pages are the Markdown files whose names are checked: the README,
// docs/*.md, and the READMEs of the plugin's zip and of provisioning/ (the
// ADRs are records of their time and may name the past).
func pages(t *testing.T) []string {
	t.Helper()
	ps, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(root, "README.md"), filepath.Join(root, "src/README.md"),
		filepath.Join(root, "provisioning/README.md")}, ps...)
}

// Every key, endpoint, metric, PANELCAST_* variable and make target the
// pages name exists in the code.
func TestDocsNameWhatExists(t *testing.T) {
	tr, err := gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages(t) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range tr.check(scan(string(b))) {
			t.Errorf("%s %s", p, bad)
		}
	}
}

// The check reports each kind of name that does not exist, and passes the
// same page with names that do.
func TestDocsCheckReportsMissingNames(t *testing.T) {
	tr, err := gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, doc, want string // want: "" for a page that passes
	}{
		{"key", "Set `tls_mode`.", ""},
		{"no key", "Set `tls_modus`.", "key `tls_modus`"},
		{"key = value", "Set `concurrency = 8`.", ""},
		{"no key = value", "Set `concurrence = 8`.", "key `concurrence`"},
		{"old key", "`rendering_chrome_bin` still works", ""},
		{"ini key", "```ini\n[plugin.panelcast-renderer]\nconcurrency = 8\n```", ""},
		{"no ini key", "```ini\n[plugin.panelcast-renderer]\nconcurency = 8\n```", "key `concurency`"},
		{"other section", "```ini\n[rendering]\nserver_url = x\nanything_else = y\n```", ""},
		{"variable", "`PANELCAST_GRAFANA_URL=http://grafana:3000`", ""},
		{"no variable", "```sh\nPANELCAST_GRAFANA_ULR=x panelcast serve\n```", "variable `PANELCAST_GRAFANA_ULR`"},
		{"old key as variable", "`PANELCAST_RENDERING_ARGS`", "variable `PANELCAST_RENDERING_ARGS`"},
		{"chosen variable", "`$__env{PANELCAST_MY_TOKEN}`", ""},
		{"metric", "`panelcast_outbox_jobs{state}`", ""},
		{"no metric", "`panelcast_outbox_depth`", "metric `panelcast_outbox_depth`"},
		{"endpoint", "`GET /render/version` and `/api/outbox/{id}/retry`", ""},
		{"no endpoint", "`GET /render/versions`", "endpoint `GET /render/versions`"},
		{"wrong method", "`DELETE /render`", "endpoint `DELETE /render`"},
		{"no api route", "`/api/jobs`", "endpoint `/api/jobs`"},
		{"no server health", "`GET /health`", "endpoint `GET /health`"},
		{"plugin resource", "`/api/plugins/panelcast-renderer/resources/health`", ""},
		{"no plugin resource", "`/api/plugins/panelcast-renderer/resources/render`", "endpoint `/api/plugins/panelcast-renderer/resources/render`"},
		{"url", "```sh\ncurl http://localhost:8081/push/<id>\n```", ""},
		{"no url", "```sh\ncurl http://localhost:8081/pushes\n```", "endpoint `/pushes`"},
		{"subtree", "`GET /console/…`", ""},
		{"file", "`/etc/panelcast/env`", ""},
		{"target", "Run `make docs`, then\n```sh\nmake VERSION=4.2.0 package\n```", ""},
		{"no target", "```sh\nmake install\n```", "target `install`"},
		{"no target inline", "`make lint`", "target `lint`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := tr.check(scan(c.doc))
			switch {
			case c.want == "" && len(bad) > 0:
				t.Errorf("reported %q, want nothing", bad)
			case c.want != "" && (len(bad) != 1 || !strings.Contains(bad[0], c.want)):
				t.Errorf("reported %q, want one report naming %s", bad, c.want)
			}
		})
	}
}

// The truth is read from the code, so each source must yield something.
func TestDocsGatherFindsTheCode(t *testing.T) {
	tr, err := gather()
	if err != nil {
		t.Fatal(err)
	}
	for what, n := range map[string]int{"keys": len(tr.keys), "metrics": len(tr.metrics), "targets": len(tr.targets),
		"variables": len(tr.vars), "subtrees": len(tr.subtree)} {
		if n == 0 {
			t.Errorf("no %s gathered", what)
		}
	}
}
