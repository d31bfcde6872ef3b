// Package console serves the web console: the static page built from
// src/console (npm run build) into dist/, which is committed and embedded,
// so the binary stays one file and building it needs no Node.
//
// The page lives at / (index.html) and its assets under /console/. Mount
// Handler for both, e.g.
//
//	mux.Handle("GET /{$}", console.Handler())
//	mux.Handle("GET /console/", console.Handler())
//
// The page calls the API with relative paths (api/health, push, ...), so it
// also works when a proxy serves Panelcast under a sub-path.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// csp allows the page only its own scripts, styles and API; pictures are
// also blob: URLs (a render's answer). No inline script or style exists,
// so none is allowed, and the page may not be framed.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// types are the Content-Types of what the build writes; an unknown
// extension is not served (see the test), rather than guessed.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

type asset struct {
	name  string // path in dist
	body  []byte
	gz    []byte // nil when compressing does not pay
	ctype string
	etag  string // strong, of body; the gzip form's ends in -gz
	page  bool   // index.html: revalidated; assets are immutable
}

// assets maps a URL path to its file, loaded and compressed once.
var assets = sync.OnceValues(func() (map[string]*asset, error) {
	out := map[string]*asset{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "dist/")
		ctype, ok := types[path.Ext(name)]
		if !ok || name == "build.json" {
			return nil
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{name: name, body: body, ctype: ctype, etag: hex.EncodeToString(sum[:8])}
		if ctype != "image/png" {
			a.gz = compress(body)
		}
		urlPath := "/" + name
		if name == "index.html" {
			urlPath, a.page = "/", true
		} else if !strings.HasPrefix(name, "console/") {
			return nil // only index.html and console/ are the page's
		}
		out[urlPath] = a
		return nil
	})
	if err == nil && out["/"] == nil {
		err = fmt.Errorf("console: dist/index.html is missing: run npm run build in src/console")
	}
	return out, err
})

func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() >= len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// Handler serves the console: / and /console/<asset>, GET and HEAD.
// index.html is revalidated on every load (ETag); assets carry their
// content's hash in their names and are cached for a year. Clients that
// accept gzip get it.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	files, err := assets()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a := files[r.URL.Path]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the console is read with GET", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.page {
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
	} else {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	body, etag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = a.gz, etag+"-gz"
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", strconv.Quote(etag))
	// ServeContent answers If-None-Match (304), HEAD and ranges; the zero
	// time leaves dates out, as the ETag decides.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reads Accept-Encoding: true when gzip is listed with a
// q-value above zero, or, when gzip is not named, * is.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			switch q := qValue(params); strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// qValue is the q=<weight> among ;-separated parameters: 1 when absent,
// 0 (refused) when it is not a number.
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || !(q >= 0) { // NaN too
				return 0
			}
			return q
		}
	}
	return 1
}
