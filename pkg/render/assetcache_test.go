package render

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"
	"github.com/ysmood/gson"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/secret"
)

func TestStorable(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	get := proto.NetworkHeaders{}
	cases := []struct {
		name    string
		method  string
		req     proto.NetworkHeaders
		status  int
		headers map[string][]string
		life    time.Duration // 0: not storable
	}{
		{"Grafana's /public/build", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=31536000"}}, 31536000 * time.Second},
		{"Grafana's /public", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=3600"}}, time.Hour},
		{"immutable", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60, immutable"}}, time.Minute},
		{"s-maxage wins for a shared cache", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=3600, s-maxage=60"}}, time.Minute},
		{"age counts", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=3600"}, "Age": {"600"}}, 50 * time.Minute},
		{"vary by encoding", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}, "Vary": {"Accept-Encoding"}}, time.Minute},
		{"split header", "GET", get, 200, map[string][]string{"Cache-Control": {"public", "max-age=60"}}, time.Minute},
		{"not public", "GET", get, 200, map[string][]string{"Cache-Control": {"max-age=3600"}}, 0},
		{"private", "GET", get, 200, map[string][]string{"Cache-Control": {"public, private, max-age=3600"}}, 0},
		{"no-store", "GET", get, 200, map[string][]string{"Cache-Control": {"public, no-store, max-age=3600"}}, 0},
		{"no-cache", "GET", get, 200, map[string][]string{"Cache-Control": {"public, no-cache, max-age=3600"}}, 0},
		{"no lifetime", "GET", get, 200, map[string][]string{"Cache-Control": {"public"}}, 0},
		{"only Expires", "GET", get, 200, map[string][]string{"Cache-Control": {"public"}, "Expires": {"Tue, 01 Jan 2030 00:00:00 GMT"}}, 0},
		{"zero lifetime", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=0"}}, 0},
		{"older than its lifetime", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}, "Age": {"60"}}, 0},
		{"no header", "GET", get, 200, nil, 0},
		{"garbage", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=soon"}}, 0},
		{"vary by cookie", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}, "Vary": {"Accept-Encoding, Cookie"}}, 0},
		{"vary by authorization", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}, "Vary": {"authorization"}}, 0},
		{"vary by anything", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}, "Vary": {"*"}}, 0},
		{"sets a cookie", "GET", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}, "Set-Cookie": {"grafana_session=1"}}, 0},
		{"not 200", "GET", get, 203, map[string][]string{"Cache-Control": {"public, max-age=60"}}, 0},
		{"partial", "GET", get, 206, map[string][]string{"Cache-Control": {"public, max-age=60"}}, 0},
		{"a range asked for", "GET", proto.NetworkHeaders{"range": gson.New("bytes=0-10")}, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}}, 0},
		{"POST", "POST", get, 200, map[string][]string{"Cache-Control": {"public, max-age=60"}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expires, ok := storable(c.method, c.req, c.status, http.Header(c.headers), now)
			if ok != (c.life > 0) || (ok && expires.Sub(now) != c.life) {
				t.Errorf("storable = %v, %v; want storable %v for %v", ok, expires.Sub(now), c.life > 0, c.life)
			}
		})
	}
}

func TestAssetCacheBound(t *testing.T) {
	now := time.Now()
	c := newAssetCache(1000)
	entry := func(key string, size int) *asset {
		return &asset{key: key, body: bytes.Repeat([]byte{'x'}, size-len(key)), expires: now.Add(time.Hour)}
	}
	for i := range 10 {
		c.put(entry(fmt.Sprint("k", i), 200))
		if st := c.stats(); st.Bytes > 1000 {
			t.Fatalf("after %d entries the cache holds %d bytes, over its bound of 1000", i+1, st.Bytes)
		}
	}
	if st := c.stats(); st.Entries != 5 || st.Bytes != 1000 {
		t.Errorf("holds %d entries, %d bytes; want the 5 latest, 1000 bytes", st.Entries, st.Bytes)
	}
	if c.get("k4", now) != nil || c.get("k5", now) == nil {
		t.Error("did not drop the least recently used entries first")
	}
	// k5 was used last, so k6 goes first.
	c.put(entry("k10", 200))
	if c.get("k6", now) != nil || c.get("k5", now) == nil {
		t.Error("a use did not count: the entry used last was dropped")
	}
	c.put(entry("big", 251))
	if c.get("big", now) != nil {
		t.Error("kept an entry over a quarter of the bound, which would push the others out")
	}
	if c.get("k5", now.Add(2*time.Hour)) != nil {
		t.Error("served an entry past its expiry")
	}
	if st := c.stats(); st.Entries != 4 || st.Bytes != 800 {
		t.Errorf("after the expired entry went, holds %d entries, %d bytes; want 4, 800", st.Entries, st.Bytes)
	}
	c.clear()
	if st := c.stats(); st.Entries != 0 || st.Bytes != 0 || c.get("k4", now) != nil {
		t.Errorf("after clear, holds %d entries, %d bytes", st.Entries, st.Bytes)
	}
	c.put(&asset{key: "k6", body: make([]byte, 100), expires: now.Add(time.Hour)})
	if c.get("k6", now) == nil {
		t.Error("a cleared cache keeps nothing new")
	}
	if newAssetCache(0) != nil {
		t.Error("a size of 0 made a cache; it turns the cache off")
	}
	newAssetCache(0).clear() // no cache: nothing to clear, no panic
}

// The isolation tests' colours: a stripe shows whose answer its script
// got.
var (
	aliceColor = color.RGBA{0xd0, 0x20, 0x20, 0xff}
	bobColor   = color.RGBA{0x20, 0x40, 0xd0, 0xff}
	okColor    = color.RGBA{0x20, 0xb0, 0x40, 0xff}
)

// userAsset is one file of the identity server: how it is cached, and
// whether its answer depends on who asks.
type userAsset struct {
	path     string
	headers  map[string]string
	perUser  bool
	fetched  bool // by fetch() (an API answer), not a <script>
	stripe   int  // which stripe of the picture shows its answer
	wantOnce bool // served once for all renders: the cache must keep it
}

var userAssets = []userAsset{
	{path: "/public/build/shared.js", headers: map[string]string{"Cache-Control": "public, max-age=3600"}, stripe: 0, wantOnce: true},
	{path: "/public/build/vary.js", headers: map[string]string{"Cache-Control": "public, max-age=3600", "Vary": "Cookie"}, perUser: true, stripe: 1},
	{path: "/public/build/private.js", headers: map[string]string{"Cache-Control": "private, max-age=3600"}, perUser: true, stripe: 2},
	{path: "/public/build/plain.js", perUser: true, stripe: 3},
	{path: "/public/build/cookie.js", headers: map[string]string{"Cache-Control": "public, max-age=3600", "Set-Cookie": "seen=1; Path=/"}, perUser: true, stripe: 4},
	{path: "/api/user", headers: map[string]string{"Cache-Control": "public, max-age=3600", "Content-Type": "application/json"}, perUser: true, fetched: true, stripe: 5},
}

// identityServer is a Grafana whose files answer differently for each
// user (known by their render key), counting who got what.
type identityServer struct {
	*httptest.Server
	users map[string]string // render key -> user

	mu     sync.Mutex
	served map[string]int // path -> answers
}

func startIdentityServer(t *testing.T) *identityServer {
	t.Helper()
	s := &identityServer{users: map[string]string{"key-alice": "alice", "key-bob": "bob"}, served: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /d/page", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`<!DOCTYPE html><html><head><style>html,body{margin:0}div{height:50px}</style>`)
		for _, a := range userAssets {
			if !a.fetched {
				fmt.Fprintf(&b, `<script src="%s"></script>`, a.path)
			}
		}
		fmt.Fprintf(&b, `</head><body><script>
const colors = {alice: %q, bob: %q, ok: %q};
const paint = (i, who) => { const d = document.createElement('div'); d.style.background = colors[who] || '#000'; document.body.appendChild(d); };
fetch('/api/user').then(r => r.json()).then(api => {
  window.answers = window.answers || {}; window.answers[5] = api.user;
  for (let i = 0; i < 6; i++) paint(i, window.answers[i]);
});
</script></body></html>`, hexColor(aliceColor), hexColor(bobColor), hexColor(okColor))
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(b.String()))
	})
	for _, a := range userAssets {
		mux.HandleFunc("GET "+a.path, func(w http.ResponseWriter, r *http.Request) {
			who := "ok"
			if a.perUser {
				c, err := r.Cookie("renderKey")
				if err != nil || s.users[c.Value] == "" {
					http.Error(w, "who are you?", http.StatusUnauthorized)
					return
				}
				who = s.users[c.Value]
			}
			s.mu.Lock()
			s.served[a.path]++
			s.mu.Unlock()
			for k, v := range a.headers {
				w.Header().Set(k, v)
			}
			if a.fetched {
				fmt.Fprintf(w, `{"user": %q}`, who)
				return
			}
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, "window.answers = window.answers || {}; window.answers[%d] = %q;", a.stripe, who)
		})
	}
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *identityServer) servedCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[path]
}

func (s *identityServer) request(key string) Request {
	return Request{URL: s.URL + "/d/page", Width: 400, Height: 300, Scale: 1, Timeout: 15 * time.Second, Encoding: PNG,
		Cookies: []Cookie{{Name: "renderKey", Value: secret.New(key)}}}
}

func hexColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// stripeColor is the colour in the middle of stripe i (50 CSS px each).
func stripeColor(img image.Image, i int) color.RGBA {
	r, g, b, a := img.At(200, i*50+25).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// Two users, two render keys, one after the other and at once: every
// answer that depends on who asks reaches each render from the server,
// with that render's identity; only the file that is the same for everyone
// and says so is served from the cache.
func TestAssetCacheKeepsIdentitiesApart(t *testing.T) {
	r := newRenderer(t, Options{AssetCacheSize: 64 << 20})
	s := startIdentityServer(t)
	check := func(out []byte, user string, want color.RGBA) {
		t.Helper()
		img := decode(t, out)
		if got := stripeColor(img, 0); !near(got, okColor) {
			t.Errorf("%s: the shared script did not run (stripe 0 is %v)", user, got)
		}
		for _, a := range userAssets[1:] {
			if got := stripeColor(img, a.stripe); !near(got, want) {
				t.Errorf("%s's render got someone else's %s (stripe %d is %v, want %v)", user, a.path, a.stripe, got, want)
			}
		}
	}
	renders := 0
	for _, u := range []struct {
		key, name string
		color     color.RGBA
	}{{"key-alice", "alice", aliceColor}, {"key-bob", "bob", bobColor}, {"key-alice", "alice", aliceColor}} {
		out, err := r.Render(context.Background(), s.request(u.key))
		if err != nil {
			t.Fatal(err)
		}
		renders++
		check(out, u.name, u.color)
	}
	var wg sync.WaitGroup
	for range 2 {
		for _, u := range []struct {
			key, name string
			color     color.RGBA
		}{{"key-alice", "alice", aliceColor}, {"key-bob", "bob", bobColor}} {
			renders++
			wg.Go(func() {
				out, err := r.Render(context.Background(), s.request(u.key))
				if err != nil {
					t.Error(err)
					return
				}
				check(out, u.name, u.color)
			})
		}
	}
	wg.Wait()
	for _, a := range userAssets {
		want := renders
		if a.wantOnce {
			want = 1
		}
		if got := s.servedCount(a.path); got != want {
			t.Errorf("%s was served %d times for %d renders, want %d", a.path, got, renders, want)
		}
	}
	if st := r.Stats().Assets; st.Entries != 1 {
		t.Errorf("the cache holds %d entries, want only the shared script's", st.Entries)
	}
}

// A picture is the same, pixel for pixel, with the asset cache as without
// it.
func TestAssetCachePicturesIdentical(t *testing.T) {
	g := standIn(t)
	req := demoRequest(g, grafanatest.ScenarioDemo, nil, 800, 400, 1)
	plain, err := newRenderer(t, Options{}).Render(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	cached := newRenderer(t, Options{AssetCacheSize: 64 << 20})
	for i := range 2 { // the first fills the cache
		before := g.Served()
		out, err := cached.Render(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		checkDemo(t, out, 800, 400)
		if !samePixels(decode(t, plain), decode(t, out)) {
			t.Errorf("render %d with the asset cache differs from the render without it", i+1)
		}
		served := grafanatest.Since(g.Served(), before)[grafanatest.ClassStatic]
		if i > 0 && served.Requests != 0 {
			t.Errorf("render %d: Grafana still served %d static files (%d bytes)", i+1, served.Requests, served.Bytes)
		}
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// Whatever headers a server sends, an answer is only kept when it says
// public, gives a lifetime in the future and neither sets a cookie nor
// varies by anything but its encoding.
func FuzzStorable(f *testing.F) {
	f.Add("public, max-age=31536000", "", "", 200)
	f.Add("public, max-age=60, s-maxage=0", "Accept-Encoding", "", 200)
	f.Add("public,max-age=60,private", "Cookie", "a=b", 200)
	f.Add(`public, max-age="60"`, "*", "", 304)
	now := time.Now()
	f.Fuzz(func(t *testing.T, cacheControl, vary, setCookie string, status int) {
		h := http.Header{"Cache-Control": {cacheControl}}
		if vary != "" {
			h.Set("Vary", vary)
		}
		if setCookie != "" {
			h.Set("Set-Cookie", setCookie)
		}
		expires, ok := storable(http.MethodGet, nil, status, h, now)
		if !ok {
			return
		}
		lower := strings.ToLower(cacheControl)
		if status != 200 || setCookie != "" || !strings.Contains(lower, "public") || strings.Contains(lower, "private") ||
			strings.Contains(lower, "no-store") || !expires.After(now) {
			t.Errorf("kept status %d, Cache-Control %q, Set-Cookie %q until %v", status, cacheControl, setCookie, expires)
		}
		for _, f := range strings.Split(vary, ",") {
			if f = strings.TrimSpace(f); f != "" && !strings.EqualFold(f, "Accept-Encoding") {
				t.Errorf("kept an answer that varies by %q", f)
			}
		}
	})
}

// With a service-account token instead of a render key (pushes and
// alerts), the files the first render fetches still carry the token, and
// later renders get them from the cache.
func TestAssetCacheWithOriginHeaders(t *testing.T) {
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: "glsa_assets"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	r := newRenderer(t, Options{AssetCacheSize: 64 << 20})
	req := demoRequest(g, grafanatest.ScenarioDemo, nil, 800, 400, 1)
	req.Cookies = nil
	req.OriginHeaders = map[string]secret.Value{"Authorization": secret.New("Bearer glsa_assets")}
	for i := range 2 {
		before := g.Served()
		out, err := r.Render(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		checkDemo(t, out, 800, 400)
		static := grafanatest.Since(g.Served(), before)[grafanatest.ClassStatic]
		if i == 0 && static.Requests == 0 || i == 1 && static.Requests != 0 {
			t.Errorf("render %d: Grafana served %d static files", i+1, static.Requests)
		}
	}
	for _, v := range g.Visits() {
		if strings.HasPrefix(v.Path, "/public/") && v.Header.Get("Authorization") != "Bearer glsa_assets" {
			t.Errorf("%s was asked for without the token", v.Path)
		}
	}
}
