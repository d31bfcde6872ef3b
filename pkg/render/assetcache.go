package render

import (
	"container/list"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/pquerna/cachecontrol/cacheobject"
)

// The asset cache keeps Grafana's static files (its built bundles, style
// sheets, fonts and images) in memory, so that every render after the
// first gets them from Panelcast instead of Grafana: each render is a
// fresh browser context whose own HTTP cache starts empty.
//
// Only what the server declares shareable is kept (see storable), and only
// files a page loads as scripts, style sheets, fonts and images: documents
// and what scripts fetch (API answers) are never kept, nor anything that
// carries or depends on a user's identity. Entries are keyed by the page's
// origin and the file's URL and expire when the server said they would.

// assetTypes are the resource types whose answers may be kept.
var assetTypes = []proto.NetworkResourceType{
	proto.NetworkResourceTypeScript, proto.NetworkResourceTypeStylesheet,
	proto.NetworkResourceTypeFont, proto.NetworkResourceTypeImage,
}

// assetCache is a byte-bounded LRU of asset answers, shared by every
// render of a Renderer (and every browser it starts).
type assetCache struct {
	max int64 // bytes the entries may hold

	mu      sync.Mutex
	size    int64
	entries map[string]*list.Element // of *asset
	lru     list.List                // front: most recently used

	hits, misses, stored atomic.Int64
}

// asset is one kept answer: status 200, its headers as the browser gets
// them back, its decoded body.
type asset struct {
	key     string
	headers []*proto.FetchHeaderEntry
	body    []byte
	expires time.Time
}

func (a *asset) cost() int64 {
	n := int64(len(a.body) + len(a.key))
	for _, h := range a.headers {
		n += int64(len(h.Name) + len(h.Value))
	}
	return n
}

// newAssetCache returns a cache of max bytes, or nil (no cache) for 0.
func newAssetCache(max int64) *assetCache {
	if max <= 0 {
		return nil
	}
	return &assetCache{max: max, entries: map[string]*list.Element{}}
}

// maxEntry is the largest answer kept: a quarter of the cache, so one file
// cannot push out all the others.
func (c *assetCache) maxEntry() int64 { return c.max / 4 }

// assetKey is the cache key of url as loaded by a page of origin.
func assetKey(origin, url string) string { return origin + " " + url }

// get returns the fresh entry for key, or nil.
func (c *assetCache) get(key string, now time.Time) *asset {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	a := el.Value.(*asset)
	if !now.Before(a.expires) {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	return a
}

// put keeps a, replacing any entry of its key, and drops the least
// recently used entries until the cache fits its bound.
func (c *assetCache) put(a *asset) {
	if a.cost() > c.maxEntry() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[a.key]; ok {
		c.remove(el)
	}
	c.entries[a.key] = c.lru.PushFront(a)
	c.size += a.cost()
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
	c.stored.Add(1)
}

func (c *assetCache) remove(el *list.Element) {
	a := c.lru.Remove(el).(*asset)
	delete(c.entries, a.key)
	c.size -= a.cost()
}

// clear drops every entry (nil: nothing), for an idle stop: the process at
// rest holds no bundles, and the first render after it fetches them again.
func (c *assetCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.lru.Init()
	c.size = 0
}

// AssetCacheStats are the asset cache's counters.
type AssetCacheStats struct {
	Hits, Misses, Stored int64 // answers served from it, asked of the server, kept
	Bytes, Entries       int64 // what it holds now
}

func (c *assetCache) stats() AssetCacheStats {
	if c == nil {
		return AssetCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return AssetCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stored: c.stored.Load(),
		Bytes: c.size, Entries: int64(len(c.entries))}
}

// storable decides whether an answer may be kept and served to other
// renders, and until when. It is stricter than a shared HTTP cache
// (RFC 9111): the server must say public and give a lifetime, and the
// answer must not vary by anything but its encoding or set a cookie.
// Anything else could carry one user's identity to another. (Fetch's
// paused answers lack Set-Cookie: onRawHeaders checks it again.)
func storable(method string, reqHeaders proto.NetworkHeaders, status int, headers http.Header, now time.Time) (time.Time, bool) {
	if method != http.MethodGet || status != http.StatusOK || hasHeader(reqHeaders, "Range") ||
		len(headers.Values("Set-Cookie")) > 0 {
		return time.Time{}, false
	}
	for _, v := range headers.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" && !strings.EqualFold(f, "Accept-Encoding") {
				return time.Time{}, false
			}
		}
	}
	cc, err := cacheobject.ParseResponseCacheControl(strings.Join(headers.Values("Cache-Control"), ","))
	if err != nil || !cc.Public || cc.PrivatePresent || cc.NoStore || cc.NoCachePresent {
		return time.Time{}, false
	}
	life := cc.MaxAge
	if cc.SMaxAge >= 0 { // a shared cache's own lifetime
		life = cc.SMaxAge
	}
	age, _ := strconv.Atoi(headers.Get("Age"))
	if life <= 0 || int(life) <= age {
		return time.Time{}, false
	}
	return now.Add(time.Duration(int(life)-age) * time.Second), true
}

// hasHeader reports whether a request has the header, named in any case.
func hasHeader(h proto.NetworkHeaders, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// keptHeaders are the answer's headers to give back with the kept body:
// all but those of its transfer (the body is kept decoded).
func keptHeaders(headers []*proto.FetchHeaderEntry) []*proto.FetchHeaderEntry {
	var out []*proto.FetchHeaderEntry
	for _, h := range headers {
		switch http.CanonicalHeaderKey(h.Name) {
		case "Content-Encoding", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive":
			continue
		}
		out = append(out, h)
	}
	return out
}

// assetPatterns are the Fetch patterns that bring a render's asset
// requests to onRequestPaused.
func (s *session) assetPatterns() []*proto.FetchRequestPattern {
	if s.opts.assets == nil {
		return nil
	}
	var out []*proto.FetchRequestPattern
	for _, t := range assetTypes {
		out = append(out, &proto.FetchRequestPattern{URLPattern: "*", ResourceType: t})
	}
	return out
}

// isAsset reports whether a paused request may be answered from, or fill,
// the asset cache.
func (s *session) isAsset(e *proto.FetchRequestPaused) bool {
	if s.opts.assets == nil || e.Request.Method != http.MethodGet {
		return false
	}
	for _, t := range assetTypes {
		if e.ResourceType == t {
			return true
		}
	}
	return false
}

// assetFromCache answers a paused asset request from the cache; it reports
// false, counting a miss, when the cache has no fresh answer.
func (s *session) assetFromCache(page *rod.Page, e *proto.FetchRequestPaused) bool {
	if !s.isAsset(e) || hasHeader(e.Request.Headers, "Range") {
		return false
	}
	c := s.opts.assets
	a := c.get(assetKey(s.pageOrigin(), e.Request.URL), time.Now())
	if a == nil {
		c.misses.Add(1)
		return false
	}
	c.hits.Add(1)
	err := proto.FetchFulfillRequest{RequestID: e.RequestID, ResponseCode: http.StatusOK, ResponseHeaders: a.headers, Body: a.body}.Call(page)
	if err != nil {
		// The request is still paused, or gone with its page: let it
		// through so the page does not hang on it.
		_ = proto.FetchContinueRequest{RequestID: e.RequestID}.Call(page)
	}
	return true
}

// assetAnswered sees the server's answer to an asset request that missed
// the cache, keeps it when storable, and lets it through.
func (s *session) assetAnswered(page *rod.Page, e *proto.FetchRequestPaused) {
	defer func() { _ = proto.FetchContinueRequest{RequestID: e.RequestID}.Call(page) }()
	if e.ResponseStatusCode == nil || !s.isAsset(e) {
		return
	}
	h := http.Header{}
	for _, kv := range e.ResponseHeaders {
		h.Add(kv.Name, kv.Value)
	}
	now := time.Now()
	expires, ok := storable(e.Request.Method, e.Request.Headers, *e.ResponseStatusCode, h, now)
	c := s.opts.assets
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); !ok || (err == nil && n > c.maxEntry()) {
		return
	}
	res, err := proto.FetchGetResponseBody{RequestID: e.RequestID}.Call(page)
	if err != nil {
		return
	}
	body := []byte(res.Body)
	if res.Base64Encoded {
		if body, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
			return
		}
	}
	s.assetCandidate(e.NetworkID, &asset{key: assetKey(s.pageOrigin(), e.Request.URL), headers: keptHeaders(e.ResponseHeaders), body: body, expires: expires})
}

// assetWait holds a session's answers that storable accepted until their
// raw headers show that they set no cookie: Fetch leaves Set-Cookie out of
// the headers it pauses with; Network.responseReceivedExtraInfo reports
// them all, before or after the pause.
type assetWait struct {
	mu         sync.Mutex
	candidates map[proto.NetworkRequestID]*asset
	cookieFree map[proto.NetworkRequestID]bool // raw headers of 200 answers seen: whether they set no cookie
}

// assetCandidate keeps a once its raw headers have shown no cookie.
func (s *session) assetCandidate(id proto.NetworkRequestID, a *asset) {
	w := &s.assetWait
	w.mu.Lock()
	free, seen := w.cookieFree[id]
	if !seen {
		if w.candidates == nil {
			w.candidates = map[proto.NetworkRequestID]*asset{}
		}
		w.candidates[id] = a
	}
	w.mu.Unlock()
	if free {
		s.opts.assets.put(a)
	}
}

// onRawHeaders sees an answer's raw headers, and keeps the answer waiting
// for them if it sets no cookie. Only final (200) answers count: a
// redirect before one shares its request id.
func (s *session) onRawHeaders(e *proto.NetworkResponseReceivedExtraInfo) {
	if s.opts.assets == nil || e.StatusCode != http.StatusOK {
		return
	}
	free := true
	for k := range e.Headers {
		free = free && !strings.HasPrefix(strings.ToLower(k), "set-cookie")
	}
	w := &s.assetWait
	w.mu.Lock()
	a := w.candidates[e.RequestID]
	delete(w.candidates, e.RequestID)
	if a == nil {
		if w.cookieFree == nil {
			w.cookieFree = map[proto.NetworkRequestID]bool{}
		}
		w.cookieFree[e.RequestID] = free
	}
	w.mu.Unlock()
	if a != nil && free {
		s.opts.assets.put(a)
	}
}

// pageOrigin is the origin of the page being rendered.
func (s *session) pageOrigin() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.origin
}
