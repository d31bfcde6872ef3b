package render

import (
	"context"
	"fmt"
	"image/color"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// leavingPages serves, on its own origin, pages that leave it for another
// origin: by an HTTP redirect (directly or after a hop on the same origin)
// and by script. The other origin counts the requests it gets.
type leavingPages struct {
	own, other   *httptest.Server
	ownURL       string
	otherOrigin  string
	otherVisited atomic.Int64
}

func newLeavingPages(t *testing.T) *leavingPages {
	p := &leavingPages{}
	p.other = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.otherVisited.Add(1)
		fmt.Fprint(w, `<html><body style="background:#f00"><div class="panel-solo"></div><script>window.panelsRendered = 1</script></body></html>`)
	}))
	p.otherOrigin = "http://127.0.0.1:" + p.other.URL[strings.LastIndexByte(p.other.URL, ':')+1:]
	p.own = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, p.other.URL+"/landed", http.StatusFound)
		case "/hop": // same origin first, then away
			http.Redirect(w, r, "/redirect", http.StatusMovedPermanently)
		case "/script":
			fmt.Fprintf(w, `<html><body><div class="panel-solo"></div><script>setTimeout(() => { location = %q }, 200)</script></body></html>`, p.other.URL+"/by-script")
		default:
			fmt.Fprint(w, `<html><body style="background:#0f0"><div class="panel-solo"></div><script>window.panelsRendered = 1</script></body></html>`)
		}
	}))
	// The page is asked for as localhost, so the other server (127.0.0.1) is
	// another origin even though both are on this machine.
	p.ownURL = strings.Replace(p.own.URL, "127.0.0.1", "localhost", 1)
	t.Cleanup(func() { p.own.Close(); p.other.Close() })
	return p
}

func (p *leavingPages) request(path string) Request {
	return Request{URL: p.ownURL + path, Width: 200, Height: 100, Scale: 1, Timeout: 10 * time.Second, Encoding: PNG}
}

func TestNavigationGuardRefusesLeavingTheOrigin(t *testing.T) {
	r := newRenderer(t, Options{})
	p := newLeavingPages(t)
	for _, path := range []string{"/redirect", "/hop", "/script"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			_, err := r.Render(context.Background(), p.request(path))
			want := "the page navigated to " + p.otherOrigin + ", which is not an allowed origin"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the refusal took %s: it should end the render at once, not at its timeout", took)
			}
		})
	}
	if n := p.otherVisited.Load(); n != 0 {
		t.Errorf("the other origin got %d requests", n)
	}
	// The origin's own pages still render.
	if _, err := r.Render(context.Background(), p.request("/")); err != nil {
		t.Fatal(err)
	}
}

func TestNavigationGuardFollowsAllowedOrigins(t *testing.T) {
	p := newLeavingPages(t)
	r := newRenderer(t, Options{AllowedOrigins: []string{p.other.URL}})
	for _, path := range []string{"/redirect", "/script"} {
		out, err := r.Render(context.Background(), p.request(path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if path == "/redirect" {
			wantColor(t, decode(t, out), 0.5, 0.5, color.RGBA{255, 0, 0, 255}, "the page it was redirected to")
		}
	}
	if p.otherVisited.Load() == 0 {
		t.Error("the allowed origin was never visited")
	}
}
