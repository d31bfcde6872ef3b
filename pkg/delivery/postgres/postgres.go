// Package postgres is the shared outbox: a delivery.Store in a PostgreSQL
// database (pgx), selected by outbox_url, so that several Panelcast
// replicas deliver from one queue.
//
// # How it keeps the Store guarantees across replicas
//
//   - Enqueue is one INSERT, committed before it returns; the dedupe key is
//     a UNIQUE column (INSERT … ON CONFLICT DO NOTHING), so the same alert
//     reaching two replicas is stored, and posted, once.
//   - Claim is one UPDATE of the row a sub-select picks with FOR UPDATE SKIP
//     LOCKED: replicas claiming at once take different jobs without waiting
//     for each other.
//   - A replica that dies mid-send stops renewing its leases; any other
//     replica's worker re-queues the job once the lease lapsed (60 s by
//     default), counting the interrupted attempt. Outcomes are fenced by
//     owner and claim number, so the dead replica's late answer, should it
//     come back, is refused.
//   - Thread keys are rows of panelcast_threads, shared by every replica:
//     a resolve threads under its firing message whichever replica sends it.
//     A group's open thread is a row of panelcast_thread_groups, which an
//     Enqueue locks (upsert) before reading, so replicas agree on it.
//   - Signed-out console sessions are rows of panelcast_session_revocations,
//     so signing out on one replica ends the session on all.
//   - Wake-ups cross replicas with LISTEN/NOTIFY on channel
//     panelcast_outbox (a trigger notifies when a job becomes due); if the
//     listening connection drops, the worker's poll still finds the jobs.
//   - The chats' rate limits are shared too (Pace, panelcast_pace_*): the
//     replicas posting as one bot keep together to what the service allows
//     that bot, as one process would.
//   - The schema is versioned in panelcast_schema; Open migrates it inside
//     one transaction holding an advisory lock, so replicas starting
//     together migrate once.
//
// Session-level features (LISTEN, prepared statements) need a direct
// connection or a pooler in session mode; PgBouncer's transaction mode is
// not supported.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// Options tune Open; the zero value takes the defaults.
type Options struct {
	Logger *slog.Logger
	// ConnectWait is how long Open waits for the database to accept
	// connections, for replicas that start beside it (default 30s).
	ConnectWait time.Duration
}

// Store is the outbox in a PostgreSQL database. It is safe for concurrent
// use; every replica opens its own.
type Store struct {
	pool     *pgxpool.Pool
	location string   // the URL without its password
	secrets  []string // the password as written and as sent, for scrubbing errors
	owner    string
	log      *slog.Logger
	wake     delivery.Wakers

	stopListen context.CancelFunc
	listening  chan struct{}
	closeOnce  sync.Once
}

var _ delivery.Store = (*Store)(nil)

// notifyChannel is what the jobs trigger notifies and every Store listens on.
const notifyChannel = "panelcast_outbox"

// Open connects to the database at rawURL (postgres://user:pass@host/db),
// migrates the schema and starts listening for jobs other replicas enqueue.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	location, secrets, err := redact(rawURL)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{location: location, secrets: secrets, owner: delivery.NewOwner(), log: log.With("outbox", location)}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("outbox_url %s: %s: fix outbox_url", location, s.scrub(err))
	}
	// pgxpool's default (4 on a small machine) is below what the worker
	// and the API use at once.
	if !strings.Contains(rawURL, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, 16)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("outbox_url %s: %s: fix outbox_url", location, s.scrub(err))
	}
	s.pool = pool
	if err := s.connect(ctx, opts.ConnectWait); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	listenCtx, stop := context.WithCancel(context.Background())
	s.stopListen, s.listening = stop, make(chan struct{})
	go s.listen(listenCtx)
	return s, nil
}

// Location is rawURL without its password, for logs, errors and health.
func Location(rawURL string) (string, error) {
	loc, _, err := redact(rawURL)
	return loc, err
}

// errNotURL never repeats the value, which may hold a password.
var errNotURL = errors.New("outbox_url is not a URL such as postgres://user:password@host:5432/panelcast?sslmode=require: fix outbox_url")

// redact returns the URL without its password, for logs, errors and health,
// and the password's spellings to scrub from driver errors.
func redact(rawURL string) (string, []string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Opaque != "" {
		return "", nil, errNotURL
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw, url.UserPassword("", pw).String()[1:])
		name := u.User.Username()
		u.User = nil
		if name != "" {
			u.User = url.User(name)
		}
	}
	q := u.Query()
	if pws, ok := q["password"]; ok {
		for _, pw := range pws {
			secrets = append(secrets, pw, url.QueryEscape(pw))
		}
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), secrets, nil
}

// scrub is err's text without the password, however the driver quoted it.
func (s *Store) scrub(err error) string {
	msg := err.Error()
	for _, v := range s.secrets {
		if len(v) >= 3 {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return msg
}

func (s *Store) dbError(doing string, err error) error {
	return fmt.Errorf("outbox %s: %s: %s: check that PostgreSQL is up and that the user may write the panelcast_* tables", s.location, doing, s.scrub(err))
}

// connect waits for the database to answer.
func (s *Store) connect(ctx context.Context, wait time.Duration) error {
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.pool.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil || isAuthError(err) {
			return fmt.Errorf("outbox_url %s: connecting: %s: check the host, port, user and password in outbox_url and that PostgreSQL is up", s.location, s.scrub(err))
		}
		s.log.Warn("waiting for the outbox database", "err", s.scrub(err))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// isAuthError is a refusal that waiting will not cure: a wrong password or
// user, or a database that does not exist.
func isAuthError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "28P01", "28000", "3D000": // invalid password, invalid authorization, no such database
		return true
	}
	return false
}

// migrationLock is the advisory lock key replicas serialise migrations on.
const migrationLock = 0x70616e656c636173 // "panelcas"

// migrations[i] moves the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE panelcast_jobs (
		seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		id              text NOT NULL UNIQUE,
		kind            text NOT NULL,
		address         text NOT NULL,
		text            text NOT NULL,
		payload         bytea,
		dedupe_key      text UNIQUE,
		thread_key      text NOT NULL DEFAULT '',
		state           text NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
		attempts        integer NOT NULL DEFAULT 0,
		interrupts      integer NOT NULL DEFAULT 0,
		claims          integer NOT NULL DEFAULT 0,
		last_error      text NOT NULL DEFAULT '',
		next_attempt_at timestamptz NOT NULL,
		created_at      timestamptz NOT NULL,
		sent_at         timestamptz,
		finished_at     timestamptz,
		permalink       text NOT NULL DEFAULT '',
		message_id      text NOT NULL DEFAULT '',
		channel_id      text NOT NULL DEFAULT '',
		owner           text NOT NULL DEFAULT '',
		lease_until     timestamptz
	);
	CREATE INDEX panelcast_jobs_due ON panelcast_jobs (state, next_attempt_at, seq);
	CREATE INDEX panelcast_jobs_thread ON panelcast_jobs (thread_key, address, seq) WHERE thread_key <> '';
	CREATE INDEX panelcast_jobs_finished ON panelcast_jobs (finished_at) WHERE state IN ('sent', 'failed');
	CREATE INDEX panelcast_jobs_created ON panelcast_jobs (created_at);
	CREATE TABLE panelcast_threads (
		thread_key text NOT NULL,
		address    text NOT NULL,
		message_id text NOT NULL,
		channel_id text NOT NULL,
		used_at    timestamptz NOT NULL,
		PRIMARY KEY (thread_key, address)
	);
	CREATE TABLE panelcast_inbox (
		seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		id         text NOT NULL UNIQUE,
		channel    text NOT NULL,
		text       text NOT NULL,
		thread_id  text NOT NULL DEFAULT '',
		created_at timestamptz NOT NULL
	);
	CREATE INDEX panelcast_inbox_created ON panelcast_inbox (created_at);
	CREATE TABLE panelcast_inbox_images (
		message_id text NOT NULL REFERENCES panelcast_inbox (id) ON DELETE CASCADE,
		n          integer NOT NULL,
		filename   text NOT NULL,
		data       bytea NOT NULL,
		PRIMARY KEY (message_id, n)
	);
	-- A job became due (enqueued, re-queued, retried) or a threaded job was
	-- sent (its replies may go now): wake the replicas.
	CREATE FUNCTION panelcast_notify() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_notify('` + notifyChannel + `', '');
		RETURN NULL;
	END $$;
	CREATE TRIGGER panelcast_jobs_notify AFTER INSERT OR UPDATE OF state ON panelcast_jobs
		FOR EACH ROW WHEN (NEW.state = 'queued' OR (NEW.state = 'sent' AND NEW.thread_key <> ''))
		EXECUTE FUNCTION panelcast_notify();`,
	// The first claim's time (a resolve's picture ends by it), alert
	// groups' open threads, and signed-out console sessions.
	`ALTER TABLE panelcast_jobs ADD COLUMN first_claimed_at timestamptz;
	CREATE TABLE panelcast_thread_groups (
		group_key  text NOT NULL,
		address    text NOT NULL,
		thread_key text NOT NULL,
		used_at    timestamptz NOT NULL,
		PRIMARY KEY (group_key, address)
	);
	CREATE TABLE panelcast_session_revocations (
		id         text PRIMARY KEY,
		expires_at timestamptz NOT NULL
	);`,
	// The chats' rate limits, shared by the replicas (pace.go).
	`CREATE TABLE panelcast_pace_slots (
		key     text NOT NULL,
		id      bigint NOT NULL,
		at      timestamptz NOT NULL,
		done    boolean NOT NULL DEFAULT false,
		expires timestamptz NOT NULL,
		per     interval NOT NULL,
		PRIMARY KEY (key, id)
	);
	CREATE TABLE panelcast_pace_buckets (
		key        text PRIMARY KEY,
		known      boolean NOT NULL DEFAULT false,
		unlimited  boolean NOT NULL DEFAULT false,
		remaining  integer NOT NULL DEFAULT 0,
		reset_at   timestamptz,
		holder     bigint,
		held_until timestamptz,
		used_at    timestamptz NOT NULL
	);
	CREATE TABLE panelcast_pace_blocks (
		bot   text PRIMARY KEY,
		until timestamptz NOT NULL
	);`,
}

func (s *Store) migrate(ctx context.Context) error {
	fail := func(doing string, err error) error {
		return fmt.Errorf("outbox %s: %s: %s: the user in outbox_url needs to create tables in its database (or the schema its search_path names)", s.location, doing, s.scrub(err))
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail("migrating the schema", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return fail("locking for the migration", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS panelcast_schema (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fail("creating panelcast_schema", err)
	}
	var v int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM panelcast_schema").Scan(&v); err != nil {
		return fail("reading the schema version", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("outbox %s was written by a newer Panelcast (schema %d, this one knows %d): upgrade every replica to the same release", s.location, v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fail(fmt.Sprintf("migrating the schema to version %d", v+1), err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO panelcast_schema (version) VALUES ($1)", v+1); err != nil {
			return fail("recording the schema version", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("migrating the schema", err)
	}
	return nil
}

// listen wakes the subscribers whenever any replica notifies, reconnecting
// with backoff when the connection drops, until ctx is done.
func (s *Store) listen(ctx context.Context) {
	defer close(s.listening)
	cfg := s.pool.Config().ConnConfig
	wait := time.Second
	for ctx.Err() == nil {
		listened := false
		err := s.listenOnce(ctx, cfg, func() { listened = true })
		if ctx.Err() != nil {
			return
		}
		if listened { // a connection that worked starts the backoff over
			wait = time.Second
		}
		s.log.Warn("listening for outbox notifications failed; the worker's poll finds other replicas' jobs meanwhile", "err", s.scrub(err), "retry_in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	listening()
	// Jobs may have become due while nobody listened.
	s.wake.Wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.wake.Wake()
	}
}

// Kind is "postgres".
func (s *Store) Kind() string { return "postgres" }

// Location is outbox_url without its password.
func (s *Store) Location() string { return s.location }

// Subscribe calls wake when a job may be due, whichever replica made it so.
func (s *Store) Subscribe(wake func()) func() { return s.wake.Subscribe(wake) }

// Close stops listening and closes the connections. Stop the Store's
// workers first: they release the jobs they hold.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopListen()
		<-s.listening
		s.pool.Close()
	})
	return nil
}
