package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/panelcast/panelcast/pkg/chat"
)

// The chats' rate limits, shared by every replica of the fleet: Slack,
// Discord and Telegram limit the bot, not the process, so replicas that
// each paced themselves would together send a multiple of what is allowed.
//
//   - A window (chat.Rule) is the rows of panelcast_pace_slots under its
//     key, one per request it counted: when the request was let go, or once
//     done, when it ended. Take checks and counts every key of a request in
//     one transaction that holds a transaction-level advisory lock per key;
//     the lock ends with the transaction, whatever happens to the replica.
//   - A request in flight counts as going on now, until expires: a replica
//     that dies mid-request holds its slot no longer than the request could
//     have lasted, and it is then counted as ended at its expiry.
//   - An announced bucket (Discord's) is a row of panelcast_pace_buckets,
//     taken with a row lock; its holder is the one request in flight, with
//     held_until for a holder that died.
//   - A Block (a 429's Retry-After) is a row of panelcast_pace_blocks per
//     bot.
//
// Times are the database's clock, so replicas whose clocks differ still
// agree on every window.

// paceHold bounds how long a request in flight may hold its slot or bucket
// when its context has no earlier deadline: the longest chat client's
// timeout (Discord's and Telegram's, whose uploads go in the request). A
// replica that dies mid-request holds its keys no longer.
const paceHold = time.Minute

// busyPoll is how often a request waiting for a bucket another request
// holds asks again; the holder's answer usually comes within it.
const busyPoll = 20 * time.Millisecond

// pacePruneEvery is how often stale rows of keys no longer used are swept.
const pacePruneEvery = time.Minute

// pace is the fleet's shared chat.PaceState in this database.
type pace struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	fail func(doing string, err error) error

	mu       sync.Mutex
	prunedAt time.Time
}

var _ chat.PaceState = (*pace)(nil)

// Pace returns the chats' rate-limit state in this outbox, for the senders
// of every replica that shares it.
func (s *Store) Pace() chat.PaceState {
	return &pace{pool: s.pool, log: s.log, fail: func(doing string, err error) error {
		return fmt.Errorf("outbox %s: %s: %s: check that PostgreSQL is up and that the user may write the panelcast_pace_* tables", s.location, doing, s.scrub(err))
	}}
}

// hold is how long a request going out now under ctx may hold its slot.
func hold(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return max(min(time.Until(deadline), paceHold), time.Second)
	}
	return paceHold
}

// afterwards is the context of an update made once a request is done: it
// outlives the request's cancellation, briefly.
func afterwards(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

func newRequestID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// Take counts one request under every rule's key, unless a window is full
// or the bot is blocked; then it says how long to wait.
func (p *pace) Take(ctx context.Context, bot string, rules []chat.Rule) (func(), time.Duration, error) {
	p.prune(ctx)
	if len(rules) == 0 {
		// Nothing to count: only a block holds the request.
		var now time.Time
		var blocked *time.Time
		if err := p.pool.QueryRow(ctx, "SELECT clock_timestamp(), (SELECT until FROM panelcast_pace_blocks WHERE bot = $1)", bot).Scan(&now, &blocked); err != nil {
			return nil, 0, p.fail("reading a chat's Retry-After", err)
		}
		if blocked != nil && blocked.After(now) {
			return nil, blocked.Sub(now), nil
		}
		return func() {}, 0, nil
	}
	keys := make([]string, len(rules))
	for i, r := range rules {
		keys[i] = bot + " " + r.Key
	}
	id := newRequestID()
	var wait time.Duration
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		now, w, err := waitFor(ctx, tx, bot, keys, rules)
		if wait = w; err != nil || wait > 0 {
			return err
		}
		return count(ctx, tx, keys, rules, id, now)
	})
	if err != nil {
		return nil, 0, p.fail("counting a chat request", err)
	}
	if wait > 0 {
		return nil, wait, nil
	}
	return func() {
		ctx, cancel := afterwards(ctx)
		defer cancel()
		if _, err := p.pool.Exec(ctx, `UPDATE panelcast_pace_slots SET at = clock_timestamp(), done = true
			WHERE key = ANY($1) AND id = $2`, keys, id); err != nil {
			p.log.Warn("a chat request's end was not recorded: its place in the rate limit is held until it expires", "error", p.fail("ending a chat request", err))
		}
	}, 0, nil
}

// waitFor locks the windows of keys (rules[i]'s is keys[i]) for tx and
// says how long a request must wait for a place in each and for the bot's
// block, by the database's clock (now).
func waitFor(ctx context.Context, tx pgx.Tx, bot string, keys []string, rules []chat.Rule) (now time.Time, wait time.Duration, err error) {
	// In key order, so that two requests never wait for each other's
	// locks in a cycle.
	for _, k := range slices.Sorted(slices.Values(keys)) {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", k); err != nil {
			return now, 0, err
		}
	}
	var blocked *time.Time
	if err := tx.QueryRow(ctx, "SELECT clock_timestamp(), (SELECT until FROM panelcast_pace_blocks WHERE bot = $1)", bot).Scan(&now, &blocked); err != nil {
		return now, 0, err
	}
	if blocked != nil {
		wait = blocked.Sub(now)
	}
	for i, r := range rules {
		// The N-th newest request still in the window frees a place a
		// window after it; in flight, a request counts as now.
		var nth *time.Time
		err := tx.QueryRow(ctx, `SELECT t FROM (
				SELECT CASE WHEN done THEN at ELSE least($2, expires) END AS t
				FROM panelcast_pace_slots WHERE key = $1) s
			WHERE t > $2 - $3::interval ORDER BY t DESC OFFSET $4 - 1 LIMIT 1`,
			keys[i], now, r.Limit.Per, r.Limit.N).Scan(&nth)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return now, 0, err
		}
		if nth != nil {
			wait = max(wait, nth.Add(r.Limit.Per).Sub(now))
		}
	}
	return now, wait, nil
}

// count counts request id in each window of keys, held until its deadline
// (hold) unless it ends sooner, and drops the window's requests that no
// longer count.
func count(ctx context.Context, tx pgx.Tx, keys []string, rules []chat.Rule, id int64, now time.Time) error {
	pers := make([]time.Duration, len(rules))
	for i, r := range rules {
		pers[i] = r.Limit.Per
	}
	_, err := tx.Exec(ctx, `DELETE FROM panelcast_pace_slots
		WHERE key = ANY($1) AND CASE WHEN done THEN at ELSE expires END + per <= $2`, keys, now)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO panelcast_pace_slots (key, id, at, expires, per)
		SELECT k, $2::bigint, $3::timestamptz, $3::timestamptz + $4::interval, per FROM unnest($1::text[], $5::interval[]) AS u(k, per)`,
		keys, id, now, hold(ctx), pers)
	return err
}

// bucketRow is a bucket's row, the bot's block and the database's clock.
type bucketRow struct {
	known, unlimited       bool
	remaining              int
	reset, heldUntil, till *time.Time
	holder                 *int64
	now                    time.Time
}

const bucketSelect = `SELECT known, unlimited, remaining, reset_at, holder, held_until,
		(SELECT until FROM panelcast_pace_blocks WHERE bot = $2), clock_timestamp()
	FROM panelcast_pace_buckets WHERE key = $1`

func scanBucket(row pgx.Row) (b bucketRow, found bool, err error) {
	err = row.Scan(&b.known, &b.unlimited, &b.remaining, &b.reset, &b.holder, &b.heldUntil, &b.till, &b.now)
	if errors.Is(err, pgx.ErrNoRows) {
		return bucketRow{}, false, nil
	}
	return b, err == nil, err
}

// wait is how long until the bucket may take a request; 0 for now.
func (b bucketRow) wait() time.Duration {
	switch {
	case b.till != nil && b.till.After(b.now):
		return b.till.Sub(b.now)
	case b.unlimited:
		return 0
	case b.holder != nil && b.heldUntil.After(b.now):
		// Its answer usually comes sooner than the hold ends.
		return min(b.heldUntil.Sub(b.now), busyPoll)
	case b.known && b.remaining <= 0 && b.reset != nil && b.reset.After(b.now):
		return b.reset.Sub(b.now)
	}
	return 0
}

// TakeBucket takes the announced bucket key: one request at a time while
// it is limited, any number once an answer showed it is not. Waiting for a
// held bucket asks again every busyPoll, with a plain read; only a bucket
// that looks free is locked and taken.
func (p *pace) TakeBucket(ctx context.Context, bot, key string) (func(*chat.Announced), time.Duration, <-chan struct{}, error) {
	p.prune(ctx)
	key = bot + " " + key
	fail := func(err error) (func(*chat.Announced), time.Duration, <-chan struct{}, error) {
		return nil, 0, nil, p.fail("taking a chat's rate-limit bucket", err)
	}
	b, found, err := scanBucket(p.pool.QueryRow(ctx, bucketSelect, key, bot))
	if err != nil {
		return fail(err)
	}
	id := newRequestID()
	if wait := b.wait(); wait > 0 || b.unlimited {
		if wait > 0 {
			return nil, wait, nil, nil
		}
		return func(a *chat.Announced) { p.release(ctx, key, id, false, a) }, 0, nil, nil
	}
	var wait time.Duration
	held := false
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if !found {
			if _, err := tx.Exec(ctx, `INSERT INTO panelcast_pace_buckets (key, used_at) VALUES ($1, clock_timestamp())
				ON CONFLICT (key) DO NOTHING`, key); err != nil {
				return err
			}
		}
		b, _, err := scanBucket(tx.QueryRow(ctx, bucketSelect+" FOR UPDATE OF panelcast_pace_buckets", key, bot))
		if err != nil {
			return err
		}
		if wait = b.wait(); wait > 0 || b.unlimited {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE panelcast_pace_buckets SET holder = $2, held_until = $3::timestamptz + $4::interval, used_at = $3
			WHERE key = $1`, key, id, b.now, hold(ctx))
		held = err == nil
		return err
	})
	if err != nil {
		return fail(err)
	}
	if wait > 0 {
		return nil, wait, nil, nil
	}
	return func(a *chat.Announced) { p.release(ctx, key, id, held, a) }, 0, nil, nil
}

// release records what the answer announced, if there was one, and ends
// the hold id has on the bucket, if it still has it.
func (p *pace) release(ctx context.Context, key string, id int64, held bool, a *chat.Announced) {
	if a == nil && !held {
		return
	}
	ctx, cancel := afterwards(ctx)
	defer cancel()
	var err error
	if a == nil {
		_, err = p.pool.Exec(ctx, `UPDATE panelcast_pace_buckets SET holder = NULL, held_until = NULL
			WHERE key = $1 AND holder = $2`, key, id)
	} else {
		_, err = p.pool.Exec(ctx, `UPDATE panelcast_pace_buckets SET
				known = $3, unlimited = NOT $3, remaining = $4, reset_at = clock_timestamp() + $5::interval,
				holder = CASE WHEN holder = $2 THEN NULL ELSE holder END,
				held_until = CASE WHEN holder = $2 THEN NULL ELSE held_until END
			WHERE key = $1`, key, id, a.Known, a.Remaining, a.ResetAfter)
	}
	if err != nil {
		p.log.Warn("a chat's rate-limit bucket was not updated: it stays held until the hold expires", "error", p.fail("releasing a chat's rate-limit bucket", err))
	}
}

// Block makes every request of bot, on every replica, wait d from now.
func (p *pace) Block(ctx context.Context, bot string, d time.Duration) {
	ctx, cancel := afterwards(ctx)
	defer cancel()
	if _, err := p.pool.Exec(ctx, `INSERT INTO panelcast_pace_blocks (bot, until) VALUES ($1, clock_timestamp() + $2::interval)
		ON CONFLICT (bot) DO UPDATE SET until = greatest(panelcast_pace_blocks.until, excluded.until)`, bot, d); err != nil {
		p.log.Warn("a chat's request to wait was not shared with the other replicas; the job that met it still waits", "error", p.fail("recording a chat's Retry-After", err))
	}
}

// prune sweeps, now and then, what no limit counts any more: slots of
// keys no request has used since, buckets unused for a day, blocks that
// ended. Take keeps the windows it uses tidy itself.
func (p *pace) prune(ctx context.Context) {
	p.mu.Lock()
	due := time.Since(p.prunedAt) >= pacePruneEvery
	if due {
		p.prunedAt = time.Now()
	}
	p.mu.Unlock()
	if !due {
		return
	}
	b := &pgx.Batch{}
	b.Queue("DELETE FROM panelcast_pace_slots WHERE CASE WHEN done THEN at ELSE expires END + per <= clock_timestamp()")
	b.Queue("DELETE FROM panelcast_pace_buckets WHERE used_at < clock_timestamp() - interval '1 day' AND (holder IS NULL OR held_until < clock_timestamp())")
	b.Queue("DELETE FROM panelcast_pace_blocks WHERE until < clock_timestamp()")
	if err := p.pool.SendBatch(ctx, b).Close(); err != nil {
		p.log.Warn("sweeping old rate-limit rows failed; the next sweep tries again", "error", p.fail("sweeping rate-limit rows", err))
	}
}
