// Package docs holds Panelcast's documentation; its test checks that the
// names the pages give (keys, endpoints, metrics, make targets) exist in
// the code, so a renamed key or route cannot leave a page behind.
package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/config"
)

// root is the repository, seen from this package.
const root = ".."

// truth is what the code has, gathered from it, for a page to be checked
// against.
type truth struct {
	keys    map[string]bool // keys, old image-renderer keys, ignored old keys
	vars    map[string]bool // PANELCAST_* variables that are no key (PANELCAST_CHROMIUM)
	metrics map[string]bool // metric names the code registers
	names   map[string]bool // other panelcast_* names the code defines (labels, annotations)
	server  *http.ServeMux  // the HTTP door's routes
	plugin  *http.ServeMux  // the plugin door's resource routes
	app     *http.ServeMux  // the app door's resource routes
	subtree map[string]bool // subtree patterns ("GET /console/"), without method
	targets map[string]bool // the Makefile's targets
}

// A reference is a name a page gives, where it gives it.
type reference struct {
	line int
	kind string // key, variable, metric, endpoint, target
	name string
}

func (r reference) String() string { return fmt.Sprintf("line %d: %s `%s`", r.line, r.kind, r.name) }

// gather reads the truth from the repository's code.
func gather() (*truth, error) {
	t := &truth{keys: map[string]bool{}, vars: map[string]bool{}, metrics: map[string]bool{}, names: map[string]bool{},
		server: http.NewServeMux(), plugin: http.NewServeMux(), app: http.NewServeMux(), subtree: map[string]bool{}, targets: map[string]bool{}}
	for _, k := range config.Keys {
		t.keys[k.Name] = true
		for _, a := range k.Aliases {
			t.keys[a] = true
		}
	}
	for _, k := range config.IgnoredOldKeys() {
		t.keys[k] = true
	}
	if err := t.gatherGo(); err != nil {
		return nil, err
	}
	// The queue-autoscaling example's adapter serves a metric of its own,
	// made from the outbox's.
	adapter, err := os.ReadFile(filepath.Join(root, "deploy/kubernetes-queue-autoscaling/prometheus-adapter.yaml"))
	if err != nil {
		return nil, err
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*as:\s*(panelcast_\w+)`).FindAllStringSubmatch(string(adapter), -1) {
		t.metrics[m[1]] = true
	}
	// Provisioning files read variables of their own from Grafana's
	// environment ($PANELCAST_WEBHOOK_TOKEN).
	err = filepath.WalkDir(filepath.Join(root, "provisioning"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range regexp.MustCompile(`\$\{?(PANELCAST_[A-Z0-9_]+)`).FindAllStringSubmatch(string(b), -1) {
			t.vars[m[1]] = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return nil, err
	}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z-]*):`).FindAllStringSubmatch(string(makefile), -1) {
		t.targets[m[1]] = true
	}
	return t, nil
}

// gatherGo walks pkg/'s code (tests excluded): the routes each door
// registers, the metrics registered with Prometheus, and the panelcast_*
// constants and PANELCAST_* variables the code names.
func (t *truth) gatherGo() error {
	return filepath.WalkDir(filepath.Join(root, "pkg"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				t.call(dir, n)
			case *ast.CompositeLit:
				// prometheus.CounterOpts{Name: "panelcast_..."} and the like.
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && isIdent(sel.X, "prometheus") && strings.HasSuffix(sel.Sel.Name, "Opts") {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Name") {
							if s, ok := stringLit(kv.Value); ok {
								t.metrics[s] = true
							}
						}
					}
				}
			case *ast.BasicLit:
				if s, ok := stringLit(n); ok {
					if strings.HasPrefix(s, "PANELCAST_") && len(s) > len("PANELCAST_") {
						t.vars[s] = true
					}
					if regexp.MustCompile(`^panelcast_[a-z0-9_]+$`).MatchString(s) {
						t.names[s] = true
					}
					// The PostgreSQL outbox's tables, which the pages name too.
					for _, m := range createdTable.FindAllStringSubmatch(s, -1) {
						t.names[m[1]] = true
					}
				}
			}
			return true
		})
		return nil
	})
}

// call notes a route (mux.Handle/HandleFunc with a literal pattern) or a
// metric (prometheus.NewDesc).
func (t *truth) call(dir string, c *ast.CallExpr) {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || len(c.Args) == 0 {
		return
	}
	s, ok := stringLit(c.Args[0])
	if !ok {
		return
	}
	switch {
	case sel.Sel.Name == "NewDesc" && isIdent(sel.X, "prometheus"):
		t.metrics[s] = true
	case sel.Sel.Name == "Handle" || sel.Sel.Name == "HandleFunc":
		var muxes []*http.ServeMux
		switch {
		case strings.HasSuffix(dir, "pkg/server"):
			muxes = []*http.ServeMux{t.server}
		case strings.HasSuffix(dir, "pkg/plugin"):
			muxes = []*http.ServeMux{t.plugin}
		case strings.HasSuffix(dir, "pkg/app"):
			muxes = []*http.ServeMux{t.app}
		case strings.HasSuffix(dir, "pkg/httpapi"):
			// Every door mounts httpapi's handler (httpapi.Mount).
			muxes = []*http.ServeMux{t.server, t.plugin, t.app}
		default:
			return
		}
		if strings.HasSuffix(s, "/") {
			// A subtree ("/api/", "GET /console/") is named by pages as
			// "/console/…"; it must not make every path under it exist.
			_, path, _ := strings.Cut(" "+s, " /")
			t.subtree["/"+path] = true
			return
		}
		for _, m := range muxes {
			m.Handle(s, http.NotFoundHandler())
		}
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// notKeys look like keys (lower case with an underscore) but are other
// programs' names that the pages mention: Grafana's settings and alert
// fields, the chats' API fields, Alertmanager's, Prometheus's and
// PostgreSQL's settings, the console's JSON fields. A page that names one
// of them is not naming a Panelcast key.
var notKeys = map[string]bool{
	// grafana.ini settings and Grafana's webhook and alert fields.
	"allow_loading_unsigned_plugins": true, "callback_url": true, "server_url": true, "renderer_token": true,
	"root_url": true, "renderer_domain": true, "__dashboardUid__": true, "__panelId__": true, "managed_service_accounts_enabled": true,
	// Chats' API fields.
	"thread_ts": true, "root_id": true,
	// Alertmanager and Prometheus.
	"repeat_interval": true, "send_resolved": true, "max_alerts": true, "group_wait": true, "rule_files": true,
	"http_config": true,
	// PostgreSQL, pgx and Linux.
	"max_connections": true, "pool_max_conns": true, "process_resident_memory_bytes": true,
	// The placeholder of "key = value", and a page script's location = ….
	"key": true, "location": true,
	// Files of the plugin's zip, a log field, a chat's error code.
	"gpx_panelcast_linux_amd64": true, "plugin_start_linux_amd64": true, "request_id": true, "not_in_channel": true,
	// The platforms in the zips' names, and uname -m's name of amd64.
	"linux_amd64": true, "linux_arm64": true, "linux_arm": true, "darwin_amd64": true, "darwin_arm64": true,
	"windows_amd64": true, "x86_64": true,
}

// externalPaths are paths of other programs the pages name: Grafana's API
// that Panelcast calls or that serves the plugin, Grafana's URL paths,
// chat commands and the Telegram Bot API.
var externalPaths = []string{
	"/api/dashboards/", "/api/teams/", "/api/org", "/api/folders/", "/api/frontend/settings", "/apis/dashboard.grafana.app/", "/api/plugins/panelcast-renderer/metrics",
	"/d/", "/d-solo/", "/render/d-solo/", "/invite", "/newbot", "/bot", "/graph",
}

// fsRoots start file system paths, which are no endpoints.
var fsRoots = []string{"/etc/", "/var/", "/run/", "/tmp", "/usr/", "/lib/", "/opt/", "/dev/", "/proc/", "/sys/", "/home/", "/root/"}

var (
	inlineCode   = regexp.MustCompile("`([^`]+)`")
	fence        = regexp.MustCompile("^\\s*(```|~~~)")
	keyLike      = regexp.MustCompile(`^([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:\s*[=:].*)?$|^([a-z][a-z0-9]*) = `)
	createdTable = regexp.MustCompile(`CREATE TABLE (?:IF NOT EXISTS )?(panelcast_[a-z0-9_]+)`)
	metricLike   = regexp.MustCompile(`^(panelcast_[a-z0-9_]+)(?:\{[^}]*\}|\s*=.*)?$`)
	envLike      = regexp.MustCompile(`\bPANELCAST_[A-Z0-9][A-Z0-9_]*\b`)
	envExpansion = regexp.MustCompile(`\$__(?:env|file)\{[^}]*\}`)
	method       = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE|HEAD) (/\S*)`)
	makeCall     = regexp.MustCompile(`(?:^|[\s;&|(])make\s+((?:[A-Z_]+=\S+\s+)*)([a-z][a-z-]*)`)
	ourURL       = regexp.MustCompile(`https?://[^/\s'"]*(?::8081|<panelcast>[^/\s'"]*|:3000)(/(?:[^\s'"<>)]|<[a-z]+>)*)`)
	iniSection   = regexp.MustCompile(`^\s*\[([^\]]+)\]\s*$`)
	iniKey       = regexp.MustCompile(`^\s*([a-z][a-z0-9_]*)\s*=`)
)

// scan lists the names a Markdown page gives: in inline code, config keys,
// endpoints, metrics, make targets and PANELCAST_* variables; in code
// blocks, make targets, PANELCAST_* variables, Panelcast URLs and the keys
// of a [plugin.panelcast-renderer] section.
func scan(doc string) []reference {
	var refs []reference
	lines := strings.Split(doc, "\n")
	inFence, section := false, ""
	// Inline code may wrap to the next line, so prose is scanned a
	// paragraph at a time.
	var para []string
	paraStart := 0
	flush := func() {
		text := strings.Join(para, "\n")
		for _, m := range inlineCode.FindAllStringSubmatchIndex(text, -1) {
			line := paraStart + strings.Count(text[:m[0]], "\n") + 1
			span := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
			refs = append(refs, inline(line, span)...)
		}
		para = nil
	}
	for i, l := range lines {
		if fence.MatchString(l) {
			flush()
			inFence, section = !inFence, ""
			continue
		}
		if !inFence {
			if strings.TrimSpace(l) == "" {
				flush()
				continue
			}
			if para == nil {
				paraStart = i
			}
			para = append(para, l)
			continue
		}
		refs = append(refs, block(i+1, l)...)
		if m := iniSection.FindStringSubmatch(l); m != nil {
			section = m[1]
		} else if m := iniKey.FindStringSubmatch(l); m != nil && section == "plugin.panelcast-renderer" {
			refs = append(refs, reference{i + 1, "key", m[1]})
		}
	}
	flush()
	return refs
}

// inline reads one code span.
func inline(line int, span string) []reference {
	var refs []reference
	for _, v := range envLike.FindAllString(envExpansion.ReplaceAllString(span, ""), -1) {
		refs = append(refs, reference{line, "variable", v})
	}
	switch {
	case strings.HasPrefix(span, "make "):
		refs = append(refs, makeTargets(line, span)...)
	case method.MatchString(span):
		m := method.FindStringSubmatch(span)
		refs = append(refs, reference{line, "endpoint", m[1] + " " + m[2]})
		// "POST /push, GET /push/{id}, POST /alerts" names several.
		for _, more := range strings.Split(span, ", ")[1:] {
			if m := method.FindStringSubmatch(more); m != nil {
				refs = append(refs, reference{line, "endpoint", m[1] + " " + m[2]})
			}
		}
	case strings.HasPrefix(span, "/"):
		if p := strings.Fields(span)[0]; !isFile(p) {
			refs = append(refs, reference{line, "endpoint", p})
		}
	case metricLike.MatchString(span):
		refs = append(refs, reference{line, "metric", metricLike.FindStringSubmatch(span)[1]})
	case keyLike.MatchString(span):
		m := keyLike.FindStringSubmatch(span)
		refs = append(refs, reference{line, "key", m[1] + m[2]})
	}
	for _, m := range ourURL.FindAllStringSubmatch(span, -1) {
		refs = append(refs, reference{line, "endpoint", m[1]})
	}
	return refs
}

// block reads one line of a code block.
func block(line int, l string) []reference {
	var refs []reference
	if !strings.HasPrefix(strings.TrimSpace(l), "#") {
		refs = append(refs, makeTargets(line, l)...)
	}
	for _, v := range envLike.FindAllString(envExpansion.ReplaceAllString(l, ""), -1) {
		refs = append(refs, reference{line, "variable", v})
	}
	for _, m := range ourURL.FindAllStringSubmatch(l, -1) {
		refs = append(refs, reference{line, "endpoint", m[1]})
	}
	return refs
}

func makeTargets(line int, s string) []reference {
	var refs []reference
	for _, m := range makeCall.FindAllStringSubmatch(s, -1) {
		refs = append(refs, reference{line, "target", m[2]})
	}
	return refs
}

func isFile(p string) bool {
	return slices.ContainsFunc(fsRoots, func(r string) bool { return strings.HasPrefix(p, r) })
}

// check names each reference that the code does not have.
func (t *truth) check(refs []reference) []string {
	var bad []string
	for _, r := range refs {
		if why := t.missing(r); why != "" {
			bad = append(bad, r.String()+": "+why)
		}
	}
	return bad
}

func (t *truth) missing(r reference) string {
	switch r.kind {
	case "key":
		if t.keys[r.name] || notKeys[r.name] {
			return ""
		}
		return "no key of pkg/config (panelcast keys lists them); if it is another program's name, add it to notKeys in docs/check_test.go"
	case "variable":
		name := strings.TrimPrefix(r.name, "PANELCAST_")
		if isKey(strings.ToLower(name)) || t.vars[r.name] {
			return ""
		}
		return "PANELCAST_<KEY> of no key, and no variable the code or provisioning/ reads"
	case "metric":
		if t.metrics[r.name] || t.names[r.name] {
			return ""
		}
		return "no metric the code registers (nor a panelcast_ name it defines)"
	case "target":
		if t.targets[r.name] {
			return ""
		}
		return "no target of the Makefile"
	case "endpoint":
		return t.endpoint(r.name)
	}
	return "unknown kind " + r.kind
}

// isKey is true for a key's own name: PANELCAST_* variables and flags
// take no old image-renderer names.
func isKey(name string) bool {
	return slices.ContainsFunc(config.Keys, func(k config.Key) bool { return k.Name == name })
}

// placeholder is how pages write a path's variable part: {id}, <id>, :id.
var placeholder = regexp.MustCompile(`\{[^}]*\}|<[^>]*>|…|\.\.\.`)

// endpoint says why a path (with or without a method) is no route of
// Panelcast's doors, or "" when it is one.
func (t *truth) endpoint(ref string) string {
	meth, path := "", ref
	if m, p, ok := strings.Cut(ref, " "); ok {
		meth, path = m, p
	}
	path, _, _ = strings.Cut(path, "?")
	path = strings.TrimRight(path, ".,;:")
	mux := t.server
	if rest, ok := strings.CutPrefix(path, "/api/plugins/panelcast-renderer/resources"); ok {
		mux, path = t.plugin, rest
	} else if rest, ok := strings.CutPrefix(path, "/api/plugins/panelcast-app/resources"); ok {
		mux, path = t.app, rest
	} else if slices.ContainsFunc(externalPaths, func(e string) bool { return strings.HasPrefix(path, e) }) {
		return ""
	}
	if sub, ok := strings.CutSuffix(path, "…"); ok || strings.HasSuffix(path, "/") {
		if !ok {
			sub = path
		}
		if t.subtree[sub] || mux == t.server && t.subtree[strings.TrimSuffix(sub, "/")+"/"] {
			return ""
		}
	}
	concrete := placeholder.ReplaceAllString(path, "x")
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	if meth != "" {
		methods = []string{meth}
	}
	for _, m := range methods {
		if _, pattern := mux.Handler(httptest.NewRequest(m, "http://panelcast"+concrete, nil)); pattern != "" {
			return ""
		}
	}
	door := "pkg/server or pkg/httpapi"
	switch mux {
	case t.plugin:
		door = "the plugin's resources (pkg/plugin, pkg/httpapi)"
	case t.app:
		door = "the app's resources (pkg/app, pkg/httpapi)"
	}
	return "no route of " + door
}
