package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

// PrepareFunc turns a job into the message to post, typically by rendering
// the panel its Payload describes. The worker then sets the message's
// Channel (from the address), IdempotencyKey (the job ID) and ThreadID (the
// thread's first message, if any), and uses the job's Text when the message
// has none.
//
// Errors are retried with backoff unless they are permanent: wrap an error
// that will never go away (a panel that does not exist) with Permanent. A
// *chat.Error is classified by its Temporary field, as for Send; any other
// error (a render timeout) counts as temporary.
type PrepareFunc func(ctx context.Context, j Job) (chat.Message, error)

// Permanent marks err as not worth retrying: the job fails at once with it.
func Permanent(err error) error { return &permanentError{err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryable reports whether err is worth another attempt, and the wait the
// provider asked for.
func retryable(err error) (bool, time.Duration) {
	var p *permanentError
	if errors.As(err, &p) {
		return false, 0
	}
	return chat.IsTemporary(err)
}

// WorkerOptions tune a Worker; zero values take the defaults.
type WorkerOptions struct {
	// MaxAttempts is how many finished attempts a job gets before it fails
	// (default 10; with the default backoff about a quarter of an hour).
	MaxAttempts int
	// BaseBackoff is the wait before the first retry, doubled after each
	// further failure (default 2s), up to MaxBackoff (default 5m). The wait
	// is jittered down to half, and never shorter than a provider's
	// RetryAfter, even beyond MaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Poll is how often the worker looks for jobs it was not woken for:
	// jobs enqueued by another process, or waiting on their thread (default
	// 2s). Jobs enqueued through the same Outbox and retries of its own are
	// picked up on time without it.
	Poll time.Duration
	// Concurrency is how many jobs are prepared and sent at once (default 2).
	Concurrency int
	// AttemptTimeout bounds one attempt, prepare and send together
	// (default 2m).
	AttemptTimeout time.Duration
	// ShutdownGrace is how long attempts in flight may finish after Run's
	// context is done before they are cancelled (default 10s). Cancelling a
	// send mid-way is what can post twice, so a short grace is worth it.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
}

// Stats are the worker's counters since it was made, for the caller to
// export (e.g. as Prometheus counter functions).
type Stats struct {
	Sent    uint64 // jobs posted
	Retried uint64 // attempts rescheduled: failed temporarily, or cut short by shutdown
	Failed  uint64 // jobs given up on
}

// Worker sends the jobs of one Outbox. Several workers, in one process or
// in several, may serve the same file.
type Worker struct {
	o       *Outbox
	senders map[string]chat.Sender
	prepare PrepareFunc
	opts    WorkerOptions
	log     *slog.Logger
	wake    chan struct{}

	sent, retried, failed atomic.Uint64
}

// NewWorker makes a worker that sends o's jobs through senders, keyed by
// provider name ("slack", ...). A nil prepare sends each job's Text alone.
func NewWorker(o *Outbox, senders map[string]chat.Sender, prepare PrepareFunc, opts WorkerOptions) *Worker {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 2 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 2 * time.Minute
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	byName := make(map[string]chat.Sender, len(senders))
	for name, s := range senders {
		if s != nil {
			byName[strings.ToLower(name)] = s
		}
	}
	return &Worker{
		o:       o,
		senders: byName,
		prepare: prepare,
		opts:    opts,
		log:     log.With("outbox", o.path),
		wake:    make(chan struct{}, opts.Concurrency),
	}
}

// Stats returns the counters so far.
func (w *Worker) Stats() Stats {
	return Stats{Sent: w.sent.Load(), Retried: w.retried.Load(), Failed: w.failed.Load()}
}

// Wake makes an idle worker look for due jobs now rather than at the next
// poll. Enqueue on the worker's Outbox calls it.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due jobs until ctx is done, then waits for attempts in flight
// (see ShutdownGrace) and returns.
func (w *Worker) Run(ctx context.Context) {
	w.o.addWaker(w, true)
	defer w.o.addWaker(w, false)

	// Attempts outlive ctx by the grace period.
	attempts, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.opts.ShutdownGrace, cancel) })
	defer stop()

	var wg sync.WaitGroup
	for range w.opts.Concurrency {
		wg.Go(func() { w.loop(ctx, attempts) })
	}
	wg.Wait()
}

func (w *Worker) loop(ctx, attempts context.Context) {
	timer := time.NewTimer(w.opts.Poll)
	defer timer.Stop()
	for ctx.Err() == nil {
		// Not ctx: a claim that commits while its call is being cancelled
		// would leave the job in 'sending' with nobody sending it.
		db := context.WithoutCancel(ctx)
		now := time.Now()
		j, ok, err := w.o.claim(db, now)
		if err != nil {
			w.log.Error("claiming a job failed", "err", err)
		}
		if ok {
			w.attempt(attempts, j)
			continue
		}
		timer.Reset(w.idle(db, now))
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// idle is how long to wait for work: until the next retry is due, at most
// Poll.
func (w *Worker) idle(ctx context.Context, claimed time.Time) time.Duration {
	next, ok, err := w.o.nextDue(ctx)
	if err != nil || !ok {
		return w.opts.Poll
	}
	// A job already due that claim passed over waits on its thread.
	if d := next.Sub(claimed); d > 0 && d < w.opts.Poll {
		return d
	}
	return w.opts.Poll
}

// attempt sends one claimed job and records how it went.
func (w *Worker) attempt(ctx context.Context, j Job) {
	out := w.try(ctx, j)
	log := w.log.With("job", j.ID, "kind", j.Kind, "address", j.Address, "attempt", j.Attempts+1)
	// Keep trying to record: a job left in 'sending' is re-queued only at
	// the next start, and a post not recorded as sent would be posted again.
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := w.o.finish(context.WithoutCancel(ctx), j, out, time.Now())
		if err == nil {
			break
		}
		log.Error("recording the outcome failed", "state", out.state, "err", err)
		if errors.Is(err, errClaimLost) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	switch out.state {
	case StateSent:
		w.sent.Add(1)
		if out.lastError != "" {
			log.Warn("sent, but not completely", "message", out.receipt.MessageID, "err", out.lastError)
			break
		}
		log.Debug("sent", "message", out.receipt.MessageID)
	case StateQueued:
		w.retried.Add(1)
		// Idle goroutines computed their sleep before this retry existed.
		w.Wake()
		log.Warn("attempt failed; will retry", "at", out.next, "err", out.lastError)
	case StateFailed:
		w.failed.Add(1)
		log.Error("delivery failed", "err", out.lastError)
	}
}

func (w *Worker) try(ctx context.Context, j Job) (out outcome) {
	defer func() {
		if r := recover(); r != nil {
			// Failing the job keeps one bad job from taking the worker down
			// again after every restart.
			out = outcome{state: StateFailed, counted: true,
				lastError: fmt.Sprintf("internal error while sending: %v: this is a Panelcast bug, please report it", r)}
		}
	}()
	addr, err := chat.ParseAddress(j.Address)
	if err != nil {
		return outcome{state: StateFailed, counted: true, lastError: err.Error()}
	}
	s := w.senders[addr.Provider]
	if s == nil {
		return outcome{state: StateFailed, counted: true, lastError: noSender(addr.Provider)}
	}
	actx, cancel := context.WithTimeout(ctx, w.opts.AttemptTimeout)
	defer cancel()
	thread, err := w.o.threadRoot(actx, j)
	if err != nil {
		return w.failure(ctx, j, err)
	}
	msg := chat.Message{Text: j.Text}
	if w.prepare != nil {
		if msg, err = w.prepare(actx, j); err != nil {
			return w.failure(ctx, j, err)
		}
		if msg.Text == "" {
			msg.Text = j.Text
		}
	}
	msg.Channel, msg.IdempotencyKey, msg.ThreadID = addr.Channel, j.ID, thread
	r, err := s.Send(actx, msg)
	if err != nil && r.MessageID != "" {
		// The message is in the chat although part of the send failed
		// (Telegram posted the picture, not the rest of its text): a retry
		// would post it twice, so it counts as sent and keeps the reason.
		return outcome{state: StateSent, counted: true, receipt: r, lastError: err.Error()}
	}
	if err != nil {
		return w.failure(ctx, j, err)
	}
	return outcome{state: StateSent, counted: true, receipt: r}
}

// failure decides between retrying and giving up.
func (w *Worker) failure(ctx context.Context, j Job, err error) outcome {
	now := time.Now()
	if ctx.Err() != nil {
		return outcome{state: StateQueued, next: now,
			lastError: "interrupted: Panelcast stopped during the attempt; it will be retried with the same idempotency key"}
	}
	n := j.Attempts + 1
	again, after := retryable(err)
	switch {
	case !again:
		return outcome{state: StateFailed, counted: true, lastError: err.Error()}
	case n >= w.opts.MaxAttempts:
		return outcome{state: StateFailed, counted: true, lastError: fmt.Sprintf("gave up after %d attempts: %v", n, err)}
	}
	return outcome{state: StateQueued, counted: true, lastError: err.Error(),
		next: now.Add(backoff(w.opts.BaseBackoff, w.opts.MaxBackoff, n, after))}
}

// backoff is the wait after the n-th failed attempt: base doubled n-1 times,
// capped, jittered down to half so that jobs failing together do not retry
// together, and never shorter than the provider's retryAfter.
func backoff(base, limit time.Duration, n int, retryAfter time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

// tokenKeys names the setting that configures each provider.
var tokenKeys = map[string]string{
	"slack":      "slack_bot_token",
	"mattermost": "mattermost_url and mattermost_token",
	"discord":    "discord_bot_token",
	"telegram":   "telegram_bot_token",
}

func noSender(provider string) string {
	if key, ok := tokenKeys[provider]; ok {
		return fmt.Sprintf("no %s sender configured: set %s", provider, key)
	}
	return fmt.Sprintf("no %s sender configured: %s is not a chat provider Panelcast knows; use slack, mattermost, discord or telegram in the address", provider, provider)
}
