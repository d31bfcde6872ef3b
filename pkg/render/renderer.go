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
	"sync"
	"sync/atomic"
	"time"
)

// TLSMode says which certificate errors a page tolerates.
type TLSMode string

const (
	// TLSCallback tolerates certificate errors only on the origin of the
	// requested URL (Grafana's callback origin); all else is verified.
	TLSCallback TLSMode = "callback"
	TLSStrict   TLSMode = "strict"
	TLSInsecure TLSMode = "insecure"
)

// Options configure a Renderer.
type Options struct {
	ChromiumPath string // "" searches the PATH (see FindChromium)
	ChromiumArgs []string
	TLSMode      TLSMode
	Concurrency  int // renders at once
	QueueLength  int // renders that may wait for a slot
	RecycleAfter int // restart the browser after this many renders; 0 never
	// FirstQueryWait is how long a Grafana 10–12 page may take between
	// booting and starting its first query.
	FirstQueryWait time.Duration
	Limits         Limits
	Logger         *slog.Logger
}

// Errors callers map to protocol answers.
var (
	ErrTimeout   = errors.New("render timed out")
	ErrQueueFull = errors.New("render queue is full")
	ErrClosed    = errors.New("renderer is shut down")
)

// Renderer owns the browser and bounds the renders on it.
type Renderer struct {
	opts  Options
	log   *slog.Logger
	bin   string
	slots chan struct{}

	mu      sync.Mutex
	cur     *browser
	closed  bool
	startMu sync.Mutex // one launch at a time

	waiting  atomic.Int64
	inFlight atomic.Int64
	restarts atomic.Int64
	launched atomic.Int64
	renders  atomic.Int64
	wg       sync.WaitGroup
}

// Stats are the renderer's counters.
type Stats struct {
	InFlight, Queued  int64
	Renders, Restarts int64
	BrowserPID        int
	BrowserVersion    string
	ChromiumPath      string
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
	if opts.TLSMode == "" {
		opts.TLSMode = TLSCallback
	}
	if opts.FirstQueryWait == 0 {
		opts.FirstQueryWait = 2 * time.Second
	}
	r := &Renderer{opts: opts, log: opts.Logger, slots: make(chan struct{}, opts.Concurrency)}
	bin, err := FindChromium(opts.ChromiumPath)
	if err != nil {
		return r, err
	}
	r.bin = bin
	b, err := r.acquire(ctx)
	if err != nil {
		return r, err
	}
	r.release(b, false)
	b.prepareSpares(r.opts)
	return r, nil
}

// Stats reports the counters.
func (r *Renderer) Stats() Stats {
	s := Stats{InFlight: r.inFlight.Load(), Queued: r.waiting.Load(), Renders: r.renders.Load(),
		Restarts: r.restarts.Load(), ChromiumPath: r.bin}
	r.mu.Lock()
	if r.cur != nil {
		s.BrowserPID, s.BrowserVersion = r.cur.pid(), r.cur.version
	}
	r.mu.Unlock()
	return s
}

// Close waits for renders in flight (until ctx ends) and stops the browser.
func (r *Renderer) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("renders still running at shutdown: %w", ctx.Err())
	}
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
// none, it died, or it is being recycled.
func (r *Renderer) acquire(ctx context.Context) (*browser, error) {
	if r.bin == "" {
		return nil, ErrNoChromium
	}
	r.startMu.Lock()
	defer r.startMu.Unlock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	b := r.cur
	r.mu.Unlock()
	if b != nil {
		b.mu.Lock()
		usable := !b.retiring && !b.closed && b.alive()
		if usable {
			b.active++
			b.renders++
			if r.opts.RecycleAfter > 0 && b.renders >= r.opts.RecycleAfter {
				b.retiring = true // this is its last render
			}
		}
		b.mu.Unlock()
		if usable {
			return b, nil
		}
		r.retire(b)
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nb, err := launch(startCtx, r.bin, r.opts.ChromiumArgs, r.log)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.launched.Add(1) > 1 {
		r.restarts.Add(1) // any later start replaces a crashed, hung or recycled browser
	}
	r.cur = nb
	r.mu.Unlock()
	nb.mu.Lock()
	nb.active++
	nb.renders++
	nb.mu.Unlock()
	return nb, nil
}

// retire stops handing out b and kills it once its last render ends.
func (r *Renderer) retire(b *browser) {
	r.mu.Lock()
	if r.cur == b {
		r.cur = nil
	}
	r.mu.Unlock()
	b.mu.Lock()
	b.retiring = true
	idle := b.active == 0
	b.mu.Unlock()
	if idle {
		go b.kill()
	}
}

// release ends a render's use of b; broken means the browser hung or died
// during the render and must be replaced now.
func (r *Renderer) release(b *browser, broken bool) {
	b.mu.Lock()
	b.active--
	retiring := b.retiring
	b.mu.Unlock()
	if broken {
		r.log.Warn("browser is unresponsive; restarting it", "pid", b.pid())
		r.mu.Lock()
		if r.cur == b {
			r.cur = nil
		}
		r.mu.Unlock()
		go b.kill()
		return
	}
	if retiring {
		r.retire(b)
	}
}

// spareDelay is how long after a render its replacement session is made.
const spareDelay = 400 * time.Millisecond

// startSession returns a browser and a session on it. A browser that died
// since its last render (crash, OOM kill) is noticed here: the session
// cannot be opened, so it is replaced and the session opened again once.
func (r *Renderer) startSession(ctx context.Context) (*browser, *session, error) {
	for attempt := 0; ; attempt++ {
		b, err := r.acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		s, err := b.takeSession(ctx, r.opts)
		if err == nil {
			return b, s, nil
		}
		dead := !b.alive()
		if !dead {
			select { // a killed browser's exit can lag its broken connection
			case <-b.exited:
				dead = true
			case <-time.After(500 * time.Millisecond):
			}
		}
		r.release(b, dead)
		if !dead || attempt > 0 || ctx.Err() != nil {
			return nil, nil, err
		}
		r.log.Warn("browser died; starting a new one", "pid", b.pid(), "error", err)
	}
}

// Render produces the picture. Errors wrap ErrBadRequest, ErrTimeout,
// ErrQueueFull, ErrNoChromium or ErrClosed where they apply.
func (r *Renderer) Render(ctx context.Context, req Request) ([]byte, error) {
	if err := req.Validate(r.opts.Limits); err != nil {
		return nil, err
	}
	var out []byte
	err := r.run(ctx, req, false, func(ctx context.Context, s *session) error {
		if err := s.waitReady(ctx); err != nil {
			return err
		}
		var err error
		out, err = s.capture(ctx, req)
		return err
	})
	return out, err
}

// run does the common part of every render: a slot, a browser, an isolated
// context, the page set up (with downloads caught when csv) and navigated;
// then the caller's step, then cleanup.
func (r *Renderer) run(ctx context.Context, req Request, csv bool, step func(context.Context, *session) error) error {
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	r.wg.Add(1)
	free, err := r.slot(ctx)
	if err != nil {
		r.wg.Done()
		return err
	}
	r.inFlight.Add(1)
	r.renders.Add(1)
	// done gives the slot back; the renderer's Close waits for it.
	done := func() { r.inFlight.Add(-1); free(); r.wg.Done() }
	b, s, err := r.startSession(ctx)
	if err != nil {
		done()
		if ctx.Err() != nil {
			return fmt.Errorf("%w after %s while starting the browser: %v", ErrTimeout, req.Timeout, err)
		}
		return err
	}
	t0 := time.Now()
	err = s.prepare(ctx, req)
	if err == nil && csv {
		err = s.prepareDownload(ctx)
	}
	t1 := time.Now()
	if err == nil {
		err = s.navigate(ctx, req)
	}
	t2 := time.Now()
	if err == nil {
		err = step(ctx, s)
	}
	r.log.Debug("render phases", "prepare", t1.Sub(t0), "navigate", t2.Sub(t1), "wait+capture", time.Since(t2))
	timedOut := err != nil && ctx.Err() != nil && !errors.Is(err, ErrBadRequest)
	var stage string
	if timedOut {
		stage = describeWait(s)
	}
	// The picture is ready: disposing of the context is cleanup that the
	// caller need not wait for, but the slot stays taken until it is done
	// so the browser never holds more contexts than the concurrency.
	go func() {
		defer done()
		broken := !s.close() || !b.alive()
		r.release(b, broken)
		if !broken {
			// Later, not now: a render that starts right after this one
			// takes a ready spare, and making the next one during its
			// first moments would slow its CDP calls and navigation.
			time.AfterFunc(spareDelay, func() { b.prepareSpares(r.opts) })
		}
	}()
	if timedOut {
		return fmt.Errorf("%w after %s: %s: raise the timeout if the dashboard is slow", ErrTimeout, req.Timeout, stage)
	}
	return err
}
