// Package render turns a render request (URL, size, scale, time zone,
// cookies, headers, timeout, encoding) into image bytes with one warm,
// system-installed Chromium driven by go-rod. It knows nothing about
// Grafana's transports or chat.
package render

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

// Options configure a Renderer.
type Options struct {
	ChromiumPath string // "" searches the PATH (see FindChromium)
	ChromiumArgs []string
	// TLS decides certificates (see pkg/tlspolicy); nil is callback mode
	// with nothing configured.
	TLS *tlspolicy.Policy
	// AllowedOrigins are where a page's main frame may navigate besides its
	// own origin (Grafana's other addresses); everything else is refused.
	AllowedOrigins []string
	Concurrency    int // renders at once
	QueueLength    int // renders that may wait for a slot
	RecycleAfter   int // restart the browser after this many renders; 0 never
	// FirstQueryWait is how long a Grafana 10–12 page may take between
	// booting and starting its first query.
	FirstQueryWait time.Duration
	// IdleTimeout stops the browser after this long without a render; the
	// next render starts it again. 0 keeps it running.
	IdleTimeout time.Duration
	// ObservePhase, when set, gets how long each phase of a render took
	// (see the Phase* names), for the render phase metrics.
	ObservePhase func(phase string, took time.Duration)
	Limits       Limits
	Logger       *slog.Logger
	// AssetCacheSize bounds the asset cache (see assetcache.go): Grafana's
	// static files, served to every render once fetched; 0 turns it off.
	AssetCacheSize int64

	assets *assetCache // made by New from AssetCacheSize
}

// Errors callers map to protocol answers.
var (
	ErrTimeout   = errors.New("render timed out")
	ErrQueueFull = errors.New("render queue is full")
	ErrClosed    = errors.New("renderer is shut down")
)

// launchTimeout bounds a browser start.
const launchTimeout = 30 * time.Second

// Renderer owns the browser and bounds the renders on it.
type Renderer struct {
	opts    Options
	log     *slog.Logger
	bin     string
	slots   chan struct{}
	sandbox bool   // run Chromium with its sandbox
	why     string // the sandbox decision's reason, for health
	// life ends when Close gives up waiting: a launch in progress stops.
	life context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	cur       *browser
	launching *launchCall // the start in progress, shared by every render that needs a browser
	closed    bool
	// keys are certificate keys the browser accepts whatever their names
	// (Chromium's --ignore-certificate-errors-spki-list): the pins, and
	// keys the policy verified that Chromium could not (see learn).
	keys []string
	// wg counts renders and probes, launches the browser starts; Close
	// waits for both. Add happens under mu and only while !closed, so never
	// after Close's Wait has begun.
	wg, launches sync.WaitGroup

	idle idleState // guarded by mu

	waiting   atomic.Int64
	inFlight  atomic.Int64
	restarts  atomic.Int64
	launched  atomic.Int64
	renders   atomic.Int64
	idleStops atomic.Int64
}

// launchCall is one browser start; done closes when it has ended.
type launchCall struct {
	done chan struct{}
	err  error
}

// Stats are the renderer's counters.
type Stats struct {
	InFlight, Queued  int64
	Renders, Restarts int64
	Assets            AssetCacheStats
	BrowserPID        int
	BrowserVersion    string
	ChromiumPath      string
	// Sandbox says whether Chromium runs with its sandbox, and why:
	// "on: user namespaces", "off: running as root, …".
	Sandbox string
	// BrowserRunning says a browser is started (warm) now; IdleStopped
	// that it was stopped by IdleTimeout and the next render starts it.
	BrowserRunning, IdleStopped bool
	IdleStops                   int64
	IdleTimeout                 time.Duration
}

// New prepares a renderer and starts its browser, so the first render is
// warm. A missing Chromium is returned as ErrNoChromium, with the renderer
// still usable for health reporting.
func New(ctx context.Context, opts Options) (*Renderer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if opts.TLS == nil {
		opts.TLS, _ = tlspolicy.New(tlspolicy.Options{Mode: tlspolicy.Callback}) // cannot fail: nothing to read
	}
	if opts.FirstQueryWait == 0 {
		opts.FirstQueryWait = 2 * time.Second
	}
	// Normalised for comparison; one that is no origin matches nothing.
	allowed := make([]string, 0, len(opts.AllowedOrigins))
	for _, a := range opts.AllowedOrigins {
		if o, err := Origin(a); err == nil {
			allowed = append(allowed, o)
		}
	}
	opts.AllowedOrigins = allowed
	opts.assets = newAssetCache(opts.AssetCacheSize)
	r := &Renderer{opts: opts, log: opts.Logger, slots: make(chan struct{}, opts.Concurrency),
		keys: opts.TLS.PinnedKeys()}
	r.life, r.stop = context.WithCancel(context.Background())
	bin, err := FindChromium(opts.ChromiumPath)
	if err != nil {
		return r, err
	}
	r.bin = bin
	r.sandbox, r.why = decideSandbox(probeSandbox(bin, opts.ChromiumArgs))
	b, err := r.acquire(ctx)
	if err != nil {
		return r, err
	}
	r.release(b, false)
	b.prepareSpares(r.opts)
	r.rested()
	return r, nil
}

// Stats reports the counters.
func (r *Renderer) Stats() Stats {
	s := Stats{InFlight: r.inFlight.Load(), Queued: r.waiting.Load(), Renders: r.renders.Load(),
		Restarts: r.restarts.Load(), ChromiumPath: r.bin, Sandbox: r.why, IdleStops: r.idleStops.Load(), IdleTimeout: r.opts.IdleTimeout,
		Assets: r.opts.assets.stats()}
	r.mu.Lock()
	if r.cur != nil {
		s.BrowserPID, s.BrowserVersion = r.cur.pid(), r.cur.version
		s.BrowserRunning = !r.cur.dead()
	}
	s.IdleStopped = r.idle.stopped && r.cur == nil
	r.mu.Unlock()
	return s
}

// begin counts a render or probe for Close; once Close has begun it
// refuses. The caller calls r.wg.Done when it is over.
func (r *Renderer) begin() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.wg.Add(1)
	return nil
}

// Close waits for renders and probes in flight (until ctx ends), then stops
// a browser start that no render waits for any more, and the browser.
func (r *Renderer) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	if r.idle.timer != nil {
		r.idle.timer.Stop()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("renders still running at shutdown: %w", ctx.Err())
	}
	r.stop()
	r.launches.Wait() // a cancelled start kills its process and returns
	r.mu.Lock()
	b := r.cur
	r.cur = nil
	r.mu.Unlock()
	if b != nil {
		b.kill()
	}
	return err
}

// slot waits for a free render slot, bounded by the queue length and ctx.
func (r *Renderer) slot(ctx context.Context) (func(), error) {
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	default:
	}
	if r.waiting.Add(1) > int64(r.opts.QueueLength) {
		r.waiting.Add(-1)
		return nil, fmt.Errorf("%w: %d renders running and %d waiting; retry later or raise concurrency/queue_length", ErrQueueFull, r.opts.Concurrency, r.opts.QueueLength)
	}
	defer r.waiting.Add(-1)
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w while waiting for a free render slot (%d running): raise concurrency or the timeout", ErrTimeout, r.opts.Concurrency)
	}
}

// acquire returns the current browser, starting a new one when there is
// none, it died, or it is being recycled. Every render that needs a new
// browser waits for the same start, each only until its own ctx ends.
func (r *Renderer) acquire(ctx context.Context) (*browser, error) {
	if r.bin == "" {
		return nil, ErrNoChromium
	}
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, ErrClosed
		}
		if b := r.cur; b != nil {
			if b.take(r.opts.RecycleAfter) {
				r.mu.Unlock()
				return b, nil
			}
			r.cur = nil
			r.mu.Unlock()
			b.retire()
			continue
		}
		l := r.launching
		if l == nil {
			l = &launchCall{done: make(chan struct{})}
			r.launching = l
			r.launches.Add(1)
			go r.launch(l, slices.Clone(r.keys))
		}
		r.mu.Unlock()
		select {
		case <-l.done:
			if l.err != nil {
				return nil, l.err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the browser to start: %w", ctx.Err())
		}
	}
}

// launch starts a browser that accepts keys for l's waiters. It is not
// bound to any one render: one that gives up does not waste the start for
// the others.
func (r *Renderer) launch(l *launchCall, keys []string) {
	defer r.launches.Done()
	var args []string
	if !r.sandbox {
		args = append(args, "--no-sandbox")
	}
	if len(keys) > 0 {
		args = append(args, "--ignore-certificate-errors-spki-list="+strings.Join(keys, ","))
	}
	ctx, cancel := context.WithTimeout(r.life, launchTimeout)
	defer cancel()
	b, err := launch(ctx, r.bin, append(args, r.opts.ChromiumArgs...), r.log)
	if err == nil {
		b.keys = keys
	}
	r.mu.Lock()
	r.launching = nil
	closed := r.closed
	if err == nil && !closed {
		// Any later start replaces a crashed, hung or recycled browser,
		// except the one that wakes a browser stopped for being idle.
		if r.launched.Add(1) > 1 && !r.idle.stopped {
			r.restarts.Add(1)
		}
		r.idle.stopped = false
		r.cur = b
	}
	r.mu.Unlock()
	if err == nil && closed {
		b.kill()
		err = ErrClosed
	}
	l.err = err
	close(l.done)
}

// retire stops handing out b and kills it once its last render ends.
func (r *Renderer) retire(b *browser) {
	r.mu.Lock()
	if r.cur == b {
		r.cur = nil
	}
	r.mu.Unlock()
	b.retire()
}

// release ends a render's use of b; broken means the browser hung or died
// during the render and must be replaced now. Only the first render to
// report b broken replaces it: the others find another browser current.
func (r *Renderer) release(b *browser, broken bool) {
	b.mu.Lock()
	b.active--
	retiring := b.retiring
	b.mu.Unlock()
	if broken {
		r.mu.Lock()
		replaced := r.cur == b
		if replaced {
			r.cur = nil
		}
		r.mu.Unlock()
		if replaced && !b.dead() {
			r.log.Warn("browser is unresponsive; restarting it", "pid", b.pid())
		}
		go b.kill()
		return
	}
	if retiring {
		r.retire(b)
	}
}

// spareDelay is how long after a render its replacement session is made.
const spareDelay = 400 * time.Millisecond

// Render produces the picture. Errors wrap ErrBadRequest, ErrTimeout,
// ErrQueueFull, ErrNoChromium or ErrClosed where they apply.
func (r *Renderer) Render(ctx context.Context, req Request) ([]byte, error) {
	if err := req.Validate(r.opts.Limits); err != nil {
		return nil, err
	}
	var out []byte
	err := r.run(ctx, req, false, func(ctx context.Context, s *session) error {
		t := time.Now()
		if err := s.waitReady(ctx); err != nil {
			return err
		}
		t = r.observeSince(PhaseReady, t)
		var err error
		out, err = s.capture(ctx, req)
		r.observeSince(PhaseCapture, t)
		return err
	})
	return out, err
}

// run does the common part of every render: a slot, a browser, an isolated
// context, the page set up (with downloads caught when csv) and navigated;
// then the caller's step, then cleanup. A render whose browser died under
// it (a crash, the OOM killer) is tried once more on the new browser,
// within its own deadline. When the browser refused a certificate that the
// TLS policy trusts (a CA of grafana_ca_file vouches for it), it learns the
// key and tries once more on a browser that accepts it; other refusals are
// explained.
func (r *Renderer) run(ctx context.Context, req Request, csv bool, step func(context.Context, *session) error) error {
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	if err := r.begin(); err != nil {
		return err
	}
	queued := time.Now()
	free, err := r.slot(ctx)
	if err != nil {
		r.wg.Done()
		return err
	}
	r.observe(PhaseQueue, time.Since(queued))
	r.inFlight.Add(1)
	r.renders.Add(1)
	// The slot is kept across tries, so a retry never queues behind others,
	// and until the last try's context is disposed of, so the browser never
	// holds more contexts than the concurrency. Close waits for it.
	cleaned := cleanedUp
	defer func() {
		go func() { <-cleaned; r.inFlight.Add(-1); free(); r.rested(); r.wg.Done() }()
	}()
	var retried, learned bool
	for {
		<-cleaned
		var res attempted
		res, err = r.attempt(ctx, req, csv, step)
		cleaned = res.cleaned
		switch {
		case err == nil:
			return nil
		case res.died && !retried && ctx.Err() == nil:
			retried = true
			continue
		case res.died:
			return fmt.Errorf("%w %s: a new browser is started for the next render; if this repeats, give the machine more memory or lower concurrency", errBrowserGone, res.stage)
		case len(res.refused) == 0:
			return err
		}
		ok, why := r.judge(res)
		if ok && !learned && ctx.Err() == nil {
			learned = true
			continue
		}
		if why != "" {
			err = fmt.Errorf("%w; %s", err, why)
		}
		return err
	}
}

// attempted is what run needs to know about an attempt besides its error.
type attempted struct {
	cleaned <-chan struct{} // closed once its context is disposed of
	died    bool            // the browser died under it
	stage   string          // what it was doing then
	refused []string        // origins whose certificate the browser refused
	keys    []string        // the keys that browser accepts
}

// cleanedUp is the cleanup of an attempt that opened no context.
var cleanedUp = func() <-chan struct{} { c := make(chan struct{}); close(c); return c }()

func (r *Renderer) attempt(ctx context.Context, req Request, csv bool, step func(context.Context, *session) error) (attempted, error) {
	t := time.Now()
	b, err := r.acquire(ctx)
	if err != nil {
		return attempted{cleaned: cleanedUp}, r.startFailed(ctx, req, err)
	}
	t = r.observeSince(PhaseBrowser, t)
	// Every call of this attempt ends the moment the browser dies.
	bctx, unbind := b.bind(ctx)
	defer unbind()
	s, err := b.takeSession(bctx, r.opts)
	if err != nil {
		dead := b.dead()
		r.release(b, dead)
		return attempted{cleaned: cleanedUp, died: dead, stage: "while opening the page"}, r.startFailed(ctx, req, err)
	}
	t0 := r.observeSince(PhaseContext, t)
	err = s.prepare(bctx, req)
	if err == nil && csv {
		err = s.prepareDownload(bctx)
	}
	t1 := r.observeSince(PhasePrepare, t0)
	if err == nil {
		err = s.navigate(bctx, req)
	}
	t2 := r.observeSince(PhaseNavigate, t1)
	if err == nil {
		err = step(bctx, s)
	}
	r.log.Debug("render phases", "prepare", t1.Sub(t0), "navigate", t2.Sub(t1), "wait+capture", time.Since(t2))
	// A refused navigation is the cause of whatever failed after it, and a
	// picture taken after it shows the wrong page.
	if nav := s.refusedNavigation(); nav != nil {
		err = nav
	}
	timedOut := err != nil && ctx.Err() != nil && !errors.Is(err, ErrBadRequest)
	res := attempted{died: err != nil && !timedOut && b.dead(), refused: s.refusedCertificates(), keys: b.keys}
	var stage string
	if timedOut {
		stage = describeWait(s)
	}
	if res.died {
		res.stage = "while " + s.currentStage()
	}
	// The picture is ready: disposing of the context is cleanup that the
	// caller need not wait for, but the slot stays taken until it is done
	// (see run).
	cleaned := make(chan struct{})
	res.cleaned = cleaned
	go func() {
		defer close(cleaned)
		broken := !s.close() || b.dead()
		r.release(b, broken)
		if !broken {
			// Later, not now: a render that starts right after this one
			// takes a ready spare, and making the next one during its
			// first moments would slow its CDP calls and navigation.
			time.AfterFunc(spareDelay, func() { b.prepareSpares(r.opts) })
		}
	}()
	if timedOut {
		return res, fmt.Errorf("%w after %s: %s: raise the timeout if the dashboard is slow", ErrTimeout, req.Timeout, stage)
	}
	return res, err
}

// startFailed words an error of getting a browser and a context.
func (r *Renderer) startFailed(ctx context.Context, req Request, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w after %s while starting the browser: %v", ErrTimeout, req.Timeout, err)
	}
	return err
}

// judge looks at the certificates the browser refused, from Go: those the
// policy verifies on their merits (a CA vouches for them, or their key is
// pinned) but the browser does not know yet are learned; for the others it
// says why and what to set.
func (r *Renderer) judge(a attempted) (learned bool, why string) {
	var notes, keys []string
	for _, o := range a.refused {
		ctx, cancel := context.WithTimeout(r.life, 5*time.Second)
		chain, err := r.opts.TLS.Inspect(ctx, o)
		cancel()
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("%s: its certificate was refused, and fetching it to say why failed: %v", o, err))
		case r.opts.TLS.Verify(o, chain) != nil:
			notes = append(notes, r.opts.TLS.Verify(o, chain).Error())
		case !slices.Contains(a.keys, tlspolicy.KeyHash(chain[0])):
			keys = append(keys, tlspolicy.KeyHash(chain[0]))
		}
	}
	if len(keys) > 0 {
		r.learn(keys)
		return true, ""
	}
	return false, strings.Join(notes, "; ")
}

// learn adds keys the policy verified to those the browser accepts; the
// browser is replaced (once its renders end) by one started with them.
// Chromium's certificate-error event does not carry the certificate, so a
// CA it does not know can only reach it as the keys the CA vouched for.
func (r *Renderer) learn(keys []string) {
	r.mu.Lock()
	for _, k := range keys {
		if !slices.Contains(r.keys, k) {
			r.keys = append(r.keys, k)
		}
	}
	b := r.cur
	stale := b != nil && slices.ContainsFunc(keys, func(k string) bool { return !slices.Contains(b.keys, k) })
	if stale {
		r.cur = nil
	}
	r.mu.Unlock()
	r.log.Info("the TLS policy trusts a certificate the browser refused; restarting the browser to accept its key", "keys", strings.Join(keys, ","))
	if stale {
		b.retire()
	}
}
