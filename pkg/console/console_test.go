package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// src is the console's source folder, from this package's folder.
const src = "../../src/console"

type manifest struct {
	SourceHash string         `json:"sourceHash"`
	Files      map[string]int `json:"files"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := dist.ReadFile("dist/build.json")
	if err != nil {
		t.Fatalf("the embedded build has no build.json: run npm run build in src/console: %v", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("build.json: %v", err)
	}
	return m
}

// sourceFiles are the build's inputs, the same rule as sourceFiles in
// src/console/build.mjs: the logo, the build script, and every .ts, .css
// and .html outside node_modules and dev/ (the mock, never shipped).
func sourceFiles(root string) ([]string, error) {
	files := []string{"../img/logo.svg", "build.mjs"}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (d.Name() == "node_modules" || d.Name() == "dev" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".ts", ".css", ".html":
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

func sourceHash(root string) (string, error) {
	files, err := sourceFiles(root)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "%s\n%s\n", f, hex.EncodeToString(sum[:]))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TestBuildIsCurrent fails when src/console changed after the last build:
// dist is committed, so a forgotten `npm run build` would ship an old page.
func TestBuildIsCurrent(t *testing.T) {
	want, err := sourceHash(src)
	if err != nil {
		t.Fatalf("hash the console's sources: %v", err)
	}
	if got := readManifest(t).SourceHash; got != want {
		t.Fatalf("pkg/console/dist was built from other sources (build.json %s, src/console %s): run `npm ci && npm run build` in src/console and commit pkg/console/dist", got, want)
	}
}

// TestSourceHashSeesEdits proves the check above can fail: a changed,
// added or removed source changes the hash; a file the build ignores does not.
func TestSourceHashSeesEdits(t *testing.T) {
	root := filepath.Join(t.TempDir(), "src", "console")
	write := func(name, body string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hash := func() string {
		h, err := sourceHash(root)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	write("../img/logo.svg", "<svg/>")
	write("build.mjs", "// build")
	write("index.html", "<p>")
	write("app/main.ts", "let a = 1")
	base := hash()
	steps := []struct {
		name    string
		do      func()
		changes bool
	}{
		{"edit a .ts", func() { write("app/main.ts", "let a = 2") }, true},
		{"add a .css", func() { write("style.css", "p{}") }, true},
		{"edit the logo", func() { write("../img/logo.svg", "<svg></svg>") }, true},
		{"edit the mock", func() { write("dev/main.go", "package main") }, false},
		{"edit node_modules", func() { write("node_modules/x/index.ts", "x") }, false},
		{"edit package.json", func() { write("package.json", "{}") }, false},
	}
	for _, s := range steps {
		s.do()
		now := hash()
		if (now != base) != s.changes {
			t.Errorf("%s: hash changed = %v, want %v", s.name, now != base, s.changes)
		}
		base = now
	}
}

// TestDistMatchesManifest checks the embedded files are exactly the build's,
// their names carry their content's hash (so caching them for good is
// safe), and index.html names only files that exist.
func TestDistMatchesManifest(t *testing.T) {
	m := readManifest(t)
	var embedded []string
	if err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != "dist/build.json" {
			embedded = append(embedded, strings.TrimPrefix(p, "dist/"))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for name := range m.Files {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if !slices.Equal(embedded, listed) {
		t.Fatalf("embedded files %v, build.json lists %v: rebuild", embedded, listed)
	}
	hashed := regexp.MustCompile(`^console/[a-z]+-([0-9a-f]{12})\.[a-z]+$`)
	for _, name := range embedded {
		b, _ := dist.ReadFile("dist/" + name)
		if len(b) != m.Files[name] {
			t.Errorf("%s is %d bytes, build.json says %d", name, len(b), m.Files[name])
		}
		if _, ok := types[path.Ext(name)]; !ok {
			t.Errorf("%s has no Content-Type in types", name)
		}
		if name == "index.html" {
			continue
		}
		sum := sha256.Sum256(b)
		if g := hashed.FindStringSubmatch(name); g == nil || g[1] != hex.EncodeToString(sum[:])[:12] {
			t.Errorf("%s: the name does not carry its content's hash", name)
		}
	}
	index, _ := dist.ReadFile("dist/index.html")
	refs := regexp.MustCompile(`(?:src|href)="(console/[^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d assets, want the script, the style sheet and the icon", len(refs))
	}
	for _, r := range refs {
		if _, ok := m.Files[string(r[1])]; !ok {
			t.Errorf("index.html names %s, which is not in the build", r[1])
		}
	}
}

// TestPageWeight keeps the page small: a console that loads in a blink on
// a phone. Raise it only with a reason.
func TestPageWeight(t *testing.T) {
	const budget = 60 << 10
	total := 0
	for _, n := range readManifest(t).Files {
		total += n
	}
	if total > budget {
		t.Errorf("the console is %d bytes, over its %d-byte budget", total, budget)
	}
}

// TestNoMarkupFromText enforces that the page builds the DOM with text
// nodes only: texts from the API are untrusted.
func TestNoMarkupFromText(t *testing.T) {
	files, err := sourceFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	banned := regexp.MustCompile(`\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|eval)\b|new Function\(`)
	for _, f := range files {
		if !strings.HasSuffix(f, ".ts") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if banned.MatchString(line) {
				t.Errorf("%s:%d builds markup from a string: use h() or textContent: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}

func get(t *testing.T, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assetPath is the embedded file with extension ext, as a URL path.
func assetPath(t *testing.T, ext string) string {
	t.Helper()
	for name := range readManifest(t).Files {
		if strings.HasPrefix(name, "console/") && path.Ext(name) == ext {
			return "/" + name
		}
	}
	t.Fatalf("the build has no %s asset", ext)
	return ""
}

func TestHandler(t *testing.T) {
	js, css, svg := assetPath(t, ".js"), assetPath(t, ".css"), assetPath(t, ".svg")
	tests := []struct {
		target, ctype, cache string
		code                 int
	}{
		{"/", "text/html; charset=utf-8", "no-cache", 200},
		{js, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{css, "text/css; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{svg, "image/svg+xml", "public, max-age=31536000, immutable", 200},
		{"/index.html", "", "", 404},
		{"/build.json", "", "", 404},
		{"/console/build.json", "", "", 404},
		{"/console/", "", "", 404},
		{"/console/../index.html", "", "", 404},
		{"/api/health", "", "", 404},
	}
	for _, tt := range tests {
		res := get(t, tt.target)
		if res.StatusCode != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.target, res.StatusCode, tt.code)
			continue
		}
		if tt.code != 200 {
			continue
		}
		if got := res.Header.Get("Content-Type"); got != tt.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.target, got, tt.ctype)
		}
		if got := res.Header.Get("Cache-Control"); got != tt.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tt.target, got, tt.cache)
		}
		if res.Header.Get("ETag") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v lack ETag or nosniff", tt.target, res.Header)
		}
		file := strings.TrimPrefix(tt.target, "/")
		if file == "" {
			file = "index.html"
		}
		want, _ := dist.ReadFile("dist/" + file)
		if got := body(t, res); !bytes.Equal(got, want) {
			t.Errorf("GET %s: body is not the embedded file", tt.target)
		}
	}

	page := get(t, "/")
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("the page's CSP %q must allow only its own scripts", csp)
	}

	r := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow=%q, want 405 GET, HEAD", w.Code, w.Header().Get("Allow"))
	}

	r = httptest.NewRequest(http.MethodHead, js, nil)
	w = httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD %s: %d with %d body bytes, Content-Length %q", js, w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
}

func TestConditionalAndGzip(t *testing.T) {
	js := assetPath(t, ".js")
	plain := get(t, js)
	etag := plain.Header.Get("ETag")
	if res := get(t, js, "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", etag, res.StatusCode)
	}
	if res := get(t, js, "If-None-Match", `"other"`); res.StatusCode != 200 {
		t.Errorf("If-None-Match for another version: %d, want 200", res.StatusCode)
	}

	zipped := get(t, js, "Accept-Encoding", "br, gzip;q=0.8")
	if zipped.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip asked: headers %v", zipped.Header)
	}
	if zipped.Header.Get("ETag") == etag {
		t.Error("the gzip form has the same ETag as the plain one")
	}
	zr, err := gzip.NewReader(bytes.NewReader(body(t, zipped)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if want := body(t, plain); !bytes.Equal(unzipped, want) || len(unzipped) == 0 {
		t.Error("the gzip body does not unpack to the file")
	}
	if res := get(t, js, "If-None-Match", zipped.Header.Get("ETag"), "Accept-Encoding", "gzip"); res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating the gzip form: %d, want 304", res.StatusCode)
	}
	if res := get(t, js, "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		in   []string
		want bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"gzip, deflate, br, zstd"}, true},
		{[]string{"br", "gzip"}, true},
		{[]string{"br;q=1.0, gzip;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=abc"}, false},
		{[]string{"gzip;q=NaN"}, false},
		{[]string{"deflate, br"}, false},
		{[]string{"identity"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"gzip, gzip;q=0"}, true},
		{[]string{"gzipped"}, false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.in); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "br, gzip;q=0.5", "gzip;q=0", "*", "*;q=0, identity", "gzip;q=1;foo=bar", ";;,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := acceptsGzip([]string{s})
		lower := strings.ToLower(s)
		if got && !strings.Contains(lower, "gzip") && !strings.Contains(lower, "*") {
			t.Errorf("%q accepted gzip without naming it or *", s)
		}
		// A header split over several lines means the same.
		if split := acceptsGzip(strings.Split(s, ",")); split != got {
			t.Errorf("%q: one line %v, split into values %v", s, got, split)
		}
		// Naming gzip plainly always accepts it.
		if !acceptsGzip([]string{s + ",gzip"}) {
			t.Errorf("%q followed by gzip is refused", s)
		}
	})
}
