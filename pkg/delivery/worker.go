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

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryable reports whether err is worth another attempt, and the wait the
// provider asked for.
func retryable(err error) (bool, time.Duration) {
	if IsPermanent(err) {
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
	// jobs enqueued by another process the store could not tell it about,
	// or waiting on their thread (default 2s). Jobs enqueued through the
	// same Store and retries of its own are picked up on time without it.
	Poll time.Duration
	// Concurrency is how many jobs are prepared and sent at once (default
	// DefaultConcurrency).
	Concurrency int
	// AttemptTimeout bounds one attempt, prepare and send together
	// (default 2m).
	AttemptTimeout time.Duration
	// ShutdownGrace is how long attempts in flight may finish after Run's
	// context is done before they are cancelled and their jobs released to
	// other replicas (default DefaultShutdownGrace). Cancelling a send
	// mid-way is what can post twice, so a short grace is worth it.
	ShutdownGrace time.Duration
	// Lease is how long a claim lasts unless renewed (default 60s); the
	// worker renews its claims every Lease/4. A replica that dies without
	// the store noticing loses its jobs to another after at most Lease.
	Lease time.Duration
	// Retention is how long sent and failed jobs, thread keys and inbox
	// messages are kept (default DefaultRetention); the worker prunes older
	// ones at start and every hour.
	Retention time.Duration
	// OnFinish, when set, hears of every job that ended (sent or failed)
	// with its last outcome, e.g. to count it in metrics.
	OnFinish func(Job, Outcome)
	// Redact, when set, rewrites every error text the worker stores and
	// logs, a recovered panic's included: the service removes the secrets
	// a library may have put into one.
	Redact func(string) string
	Logger *slog.Logger
}

// Defaults of WorkerOptions, which the configuration's defaults are too
// (pkg/config), so a worker behaves the same whoever builds it.
const (
	// DefaultConcurrency is how many jobs a worker prepares and sends at
	// once. Attempts mostly wait (for a render slot, for a chat's rate
	// limit); enough of them keep a storm to several chats moving.
	DefaultConcurrency = 8
	// DefaultMaxAttempts is how many finished attempts a job gets.
	DefaultMaxAttempts = 8
	// DefaultLease is how long a claimed job stays claimed without a
	// heartbeat before another worker may take it.
	DefaultLease = time.Minute
)

// DefaultShutdownGrace is how long attempts in flight may finish at
// shutdown unless told otherwise; supervisors' stop timeouts must allow
// for it (see deploy/).
const DefaultShutdownGrace = 10 * time.Second

// pruneEvery is how often the worker prunes what outlived the retention.
const pruneEvery = time.Hour

// Stats are the worker's counters since it was made, for the caller to
// export (e.g. as Prometheus counter functions).
type Stats struct {
	Sent    uint64 // jobs posted
	Retried uint64 // attempts rescheduled: failed temporarily, or cut short by shutdown
	Failed  uint64 // jobs given up on
}

// Worker sends the jobs of one Store. Several workers, in one process or
// in several, may serve the same outbox.
type Worker struct {
	s       Store
	senders map[string]chat.Sender
	prepare PrepareFunc
	opts    WorkerOptions
	log     *slog.Logger
	wake    chan struct{}

	sent, retried, failed atomic.Uint64
}

// NewWorker makes a worker that sends s's jobs through senders, keyed by
// provider name ("slack", ...). A nil prepare sends each job's Text alone.
func NewWorker(s Store, senders map[string]chat.Sender, prepare PrepareFunc, opts WorkerOptions) *Worker {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
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
		opts.Concurrency = DefaultConcurrency
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 2 * time.Minute
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	byName := make(map[string]chat.Sender, len(senders))
	for name, snd := range senders {
		if snd != nil {
			byName[strings.ToLower(name)] = snd
		}
	}
	return &Worker{
		s:       s,
		senders: byName,
		prepare: prepare,
		opts:    opts,
		log:     log.With("outbox", s.Location()),
		wake:    make(chan struct{}, opts.Concurrency),
	}
}

// Stats returns the counters so far.
func (w *Worker) Stats() Stats {
	return Stats{Sent: w.sent.Load(), Retried: w.retried.Load(), Failed: w.failed.Load()}
}

// Wake makes an idle worker look for due jobs now rather than at the next
// poll. The store calls it (see Store.Subscribe).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due jobs until ctx is done. Then it claims no more, lets
// attempts in flight finish within ShutdownGrace, cancels the rest and
// releases their jobs (re-queued, not counted) so that another replica
// takes them at once, and returns.
func (w *Worker) Run(ctx context.Context) {
	defer w.s.Subscribe(w.Wake)()

	// Attempts outlive ctx by the grace period.
	attempts, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.opts.ShutdownGrace, cancel) })
	defer stop()

	// Leases are renewed until the last attempt has ended.
	upkeep, stopUpkeep := context.WithCancel(context.WithoutCancel(ctx))
	upkept := make(chan struct{})
	go func() { defer close(upkept); w.maintain(upkeep) }()
	defer func() { stopUpkeep(); <-upkept }()

	var wg sync.WaitGroup
	for range w.opts.Concurrency {
		wg.Go(func() { w.loop(ctx, attempts) })
	}
	wg.Wait()
}

// maintain renews this worker's leases, takes back the jobs of owners whose
// leases lapsed, and prunes what outlived the retention, until ctx is done.
func (w *Worker) maintain(ctx context.Context) {
	renew := time.NewTicker(w.opts.Lease / 4)
	defer renew.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	w.requeueExpired(ctx)
	w.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			if err := w.s.RenewLeases(ctx, time.Now().Add(w.opts.Lease)); err != nil && ctx.Err() == nil {
				w.log.Error("renewing leases failed; another replica may take over jobs being sent", "err", err)
			}
			w.requeueExpired(ctx)
		case <-prune.C:
			w.prune(ctx)
		}
	}
}

func (w *Worker) requeueExpired(ctx context.Context) {
	n, err := w.s.RequeueExpired(ctx, time.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Error("re-queueing interrupted jobs failed", "err", err)
	case n > 0:
		w.log.Warn("re-queued jobs whose process stopped while sending them; providers without deduplication may post them twice", "jobs", n)
	}
}

func (w *Worker) prune(ctx context.Context) {
	p, err := w.s.Prune(ctx, time.Now().Add(-w.opts.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Error("pruning the outbox failed", "err", err)
	case p != Pruned{}:
		w.log.Debug("pruned the outbox", "jobs", p.Jobs, "threads", p.Threads, "inbox", p.Inbox, "sessions", p.Sessions, "retention", w.opts.Retention)
	}
}

func (w *Worker) loop(ctx, attempts context.Context) {
	timer := time.NewTimer(w.opts.Poll)
	defer timer.Stop()
	for ctx.Err() == nil {
		// Not ctx: a claim that commits while its call is being cancelled
		// would leave the job in 'sending' with nobody sending it.
		db := context.WithoutCancel(ctx)
		now := time.Now()
		j, ok, err := w.s.Claim(db, now, now.Add(w.opts.Lease))
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
	next, ok, err := w.s.NextDue(ctx)
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
	var out Outcome
	if j.Attempts >= w.opts.MaxAttempts {
		// Finished attempts end the job at MaxAttempts themselves; only
		// interrupted ones get here: the process died during each, perhaps
		// because of this job.
		out = Outcome{State: StateFailed, LastError: fmt.Sprintf("gave up after %d attempts: interrupted %d times because the process sending it stopped or crashed; if Panelcast crashed each time, this job may be the cause: report it with the logs of those times", j.Attempts, j.Interrupts)}
	} else {
		out = w.try(ctx, j)
	}
	log := w.log.With("job", j.ID, "kind", j.Kind, "address", j.Address, "attempt", j.Attempts+1)
	record := func(ctx context.Context) error { return w.s.Finish(ctx, j, out, time.Now()) }
	if out.State == StateQueued && !out.Counted {
		record = func(ctx context.Context) error { return w.s.Release(ctx, j, out.LastError, time.Now()) }
	}
	// Keep trying to record: a job left in 'sending' waits for its lease
	// (or the next start), and a post not recorded as sent would be posted
	// again.
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := record(context.WithoutCancel(ctx))
		if err == nil {
			break
		}
		log.Error("recording the outcome failed", "state", out.State, "err", err)
		if errors.Is(err, ErrClaimLost) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	if w.opts.OnFinish != nil && out.State != StateQueued {
		w.opts.OnFinish(j, out)
	}
	switch out.State {
	case StateSent:
		w.sent.Add(1)
		if out.LastError != "" {
			log.Warn("sent, but not completely", "message", out.Receipt.MessageID, "err", out.LastError)
			break
		}
		log.Debug("sent", "message", out.Receipt.MessageID)
	case StateQueued:
		w.retried.Add(1)
		if !out.Counted {
			log.Info("released at shutdown; it will be retried", "err", out.LastError)
			break
		}
		// Idle goroutines computed their sleep before this retry existed.
		w.Wake()
		log.Warn("attempt failed; will retry", "at", out.Next, "err", out.LastError)
	case StateFailed:
		w.failed.Add(1)
		log.Error("delivery failed", "err", out.LastError)
	}
}

func (w *Worker) try(ctx context.Context, j Job) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			// Failing the job keeps one bad job from taking the worker down
			// again after every restart.
			out = Outcome{State: StateFailed, Counted: true,
				LastError: fmt.Sprintf("internal error while sending: %v: this is a Panelcast bug, please report it", r)}
		}
		if w.opts.Redact != nil {
			out.LastError = w.opts.Redact(out.LastError)
		}
	}()
	addr, err := chat.ParseAddress(j.Address)
	if err != nil {
		return Outcome{State: StateFailed, Counted: true, LastError: err.Error(), Err: err}
	}
	s := w.senders[addr.Provider]
	if s == nil {
		err := errors.New(noSender(addr.Provider))
		return Outcome{State: StateFailed, Counted: true, LastError: err.Error(), Err: err}
	}
	actx, cancel := context.WithTimeout(ctx, w.opts.AttemptTimeout)
	defer cancel()
	thread, err := w.s.ThreadRoot(actx, j)
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
	msg.Channel, msg.IdempotencyKey, msg.ThreadID = addr.Channel, j.ID, thread.MessageID
	r, err := s.Send(actx, msg)
	if err != nil && r.MessageID != "" {
		// The message is in the chat although part of the send failed
		// (Telegram posted the picture, not the rest of its text): a retry
		// would post it twice, so it counts as sent and keeps the reason.
		return Outcome{State: StateSent, Counted: true, Receipt: r, LastError: err.Error(), Err: err}
	}
	if err != nil {
		return w.failure(ctx, j, err)
	}
	return Outcome{State: StateSent, Counted: true, Receipt: r}
}

// failure decides between retrying and giving up.
func (w *Worker) failure(ctx context.Context, j Job, err error) Outcome {
	now := time.Now()
	if ctx.Err() != nil {
		return Outcome{State: StateQueued, Next: now,
			LastError: "interrupted: Panelcast stopped during the attempt; it will be retried with the same idempotency key"}
	}
	n := j.Attempts + 1
	again, after := retryable(err)
	switch {
	case !again:
		return Outcome{State: StateFailed, Counted: true, LastError: err.Error(), Err: err}
	case n >= w.opts.MaxAttempts:
		return Outcome{State: StateFailed, Counted: true, LastError: fmt.Sprintf("gave up after %d attempts: %v", n, err), Err: err}
	}
	return Outcome{State: StateQueued, Counted: true, LastError: err.Error(), Err: err,
		Next: now.Add(backoff(w.opts.BaseBackoff, w.opts.MaxBackoff, n, after))}
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
