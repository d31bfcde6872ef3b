// Package sqlite is the embedded outbox: a delivery.Store in one SQLite file
// (modernc.org/sqlite, no cgo), the default when no outbox_url is set. It
// serves one machine; several processes on that machine may share the file.
//
// # Guarantees
//
// An Enqueue that returned is durable (WAL, synchronous=FULL): it survives
// kill -9 and power loss. Every job ends sent or failed; none is lost.
//
// Claiming a job is one UPDATE from 'queued' to 'sending', so two workers, or
// two processes sharing the file, never both attempt it (short of the stall
// described below).
//
// A process that dies mid-attempt leaves its job in 'sending'. Whether the
// post happened is unknowable, so the job is re-queued (at-least-once),
// counting the interrupted attempt, and retried with the same
// Message.IdempotencyKey (the job ID). Providers that deduplicate on it post
// once. A provider without deduplication posts twice only if the process
// died after the provider accepted the post and before the outcome was
// committed: the time for the response to arrive plus one fsync, a few
// milliseconds per attempt. A death while the panel renders (usually the
// longest part) loses nothing and posts nothing twice.
//
// Re-queueing happens when the owner of a 'sending' job is known dead:
//
//   - Every open Store holds a shared flock on "<path>.lock". An Open that
//     can take it exclusively knows no other process has the file open, so it
//     re-queues every 'sending' job at once (a restart resumes immediately).
//   - Otherwise, or where flock is unavailable (Windows), a 'sending' job is
//     re-queued once its lease expired: the worker renews its leases every
//     15 s and they lapse after 60 s of silence (outbox_lease). A live
//     process therefore never loses its in-flight jobs to another unless it
//     stalls for a minute.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/delivery"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// schemaVersion is PRAGMA user_version after migrate; migrations[i] moves a
// file from version i to i+1.
const schemaVersion = 3

var migrations = []string{
	`CREATE TABLE jobs (
		seq             INTEGER PRIMARY KEY,
		id              TEXT NOT NULL UNIQUE,
		kind            TEXT NOT NULL,
		address         TEXT NOT NULL,
		text            TEXT NOT NULL,
		payload         BLOB,
		dedupe_key      TEXT UNIQUE,
		thread_key      TEXT NOT NULL DEFAULT '',
		state           TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
		attempts        INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT '',
		next_attempt_at INTEGER NOT NULL,
		created_at      INTEGER NOT NULL,
		sent_at         INTEGER NOT NULL DEFAULT 0,
		permalink       TEXT NOT NULL DEFAULT '',
		message_id      TEXT NOT NULL DEFAULT '',
		channel_id      TEXT NOT NULL DEFAULT '',
		owner           TEXT NOT NULL DEFAULT '',
		lease_until     INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX jobs_due ON jobs (state, next_attempt_at);
	CREATE INDEX jobs_thread ON jobs (thread_key, address, seq) WHERE thread_key != '';
	CREATE TABLE threads (
		thread_key TEXT NOT NULL,
		address    TEXT NOT NULL,
		message_id TEXT NOT NULL,
		channel_id TEXT NOT NULL,
		PRIMARY KEY (thread_key, address)
	);`,
	// Interruptions count as attempts, claims are numbered for fencing,
	// retention needs finish and last-use times, and the inbox.
	`ALTER TABLE jobs ADD COLUMN interrupts INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN finished_at INTEGER NOT NULL DEFAULT 0;
	UPDATE jobs SET finished_at = max(sent_at, created_at) WHERE state IN ('sent', 'failed');
	CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('sent', 'failed');
	CREATE INDEX jobs_created ON jobs (created_at);
	ALTER TABLE threads ADD COLUMN used_at INTEGER NOT NULL DEFAULT 0;
	UPDATE threads SET used_at = CAST(unixepoch('subsec') * 1000 AS INTEGER);
	CREATE TABLE inbox_messages (
		seq        INTEGER PRIMARY KEY,
		id         TEXT NOT NULL UNIQUE,
		channel    TEXT NOT NULL,
		text       TEXT NOT NULL,
		thread_id  TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL
	);
	CREATE INDEX inbox_created ON inbox_messages (created_at);
	CREATE TABLE inbox_images (
		message_id TEXT NOT NULL,
		n          INTEGER NOT NULL,
		filename   TEXT NOT NULL,
		data       BLOB NOT NULL,
		PRIMARY KEY (message_id, n)
	);`,
	// The first claim's time (a resolve's picture ends by it), alert
	// groups' open threads, and signed-out console sessions.
	`ALTER TABLE jobs ADD COLUMN first_claimed_at INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE thread_groups (
		group_key  TEXT NOT NULL,
		address    TEXT NOT NULL,
		thread_key TEXT NOT NULL,
		used_at    INTEGER NOT NULL,
		PRIMARY KEY (group_key, address)
	);
	CREATE TABLE session_revocations (
		id         TEXT PRIMARY KEY,
		expires_at INTEGER NOT NULL
	);`,
}

// Options tune Open; the zero value takes the defaults.
type Options struct {
	Logger *slog.Logger
}

// Store is the outbox in one SQLite file. It is safe for concurrent use,
// and several processes may share one file.
type Store struct {
	path  string
	db    *sql.DB
	owner string   // written on the rows this Store claims
	lock  *os.File // shared flock on <path>.lock; nil where unsupported
	log   *slog.Logger
	wake  delivery.Wakers
}

var _ delivery.Store = (*Store)(nil)

// Open opens or creates the outbox at path, migrates its schema and
// re-queues jobs a dead process left in 'sending' when it can tell.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("outbox_path is empty: set it to a writable file, e.g. /var/lib/panelcast/outbox.db")
	}
	// The driver reads everything after '?' as its own parameters.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("outbox_path %s contains '?': choose a path without it", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, pathError(path, err)
	}
	// Probe the directory: SQLite needs to create the -wal and -shm files
	// beside the database, and its own error would not say why it cannot.
	probe, err := os.CreateTemp(filepath.Dir(path), ".panelcast-probe-*")
	if err != nil {
		return nil, pathError(path, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, pathError(path, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, db: db, owner: delivery.NewOwner(), log: log.With("outbox", path)}
	if err := s.init(); err != nil {
		db.Close()
		if s.lock != nil {
			s.lock.Close()
		}
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	ctx := context.Background()
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return pathError(s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("outbox_path %s: the file system refused SQLite's WAL mode (journal_mode is %s): put outbox_path on a local disk", s.path, mode)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}

	var requeueErr error
	lock, err := lockShared(s.path+".lock", func() {
		// Runs while the lock is held exclusively: no other process has the
		// file open, so every 'sending' row belongs to a dead one.
		_, requeueErr = s.requeue(ctx, time.Now(), false)
	})
	if err != nil {
		return pathError(s.path+".lock", err)
	}
	s.lock = lock
	return requeueErr
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return pathError(s.path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return pathError(s.path, err)
	}
	if v > schemaVersion {
		return fmt.Errorf("outbox_path %s was written by a newer Panelcast (schema %d, this one knows %d): upgrade Panelcast or point outbox_path at another file", s.path, v, schemaVersion)
	}
	if v == schemaVersion {
		return nil
	}
	for ; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("outbox_path %s: migrating the schema to version %d: %w: restore the file from a backup or move it aside", s.path, v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; v is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return pathError(s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return pathError(s.path, err)
	}
	return nil
}

// pathError words a failure to use the outbox file for the person who set
// outbox_path.
func pathError(path string, err error) error {
	reason := err.Error()
	var pe *fs.PathError
	var se *sqlite.Error
	switch {
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied"
	case errors.As(err, &pe):
		reason = pe.Err.Error()
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_READONLY || se.Code()&0xff == sqlite3.SQLITE_CANTOPEN || se.Code()&0xff == sqlite3.SQLITE_PERM):
		reason = "permission denied (" + se.Error() + ")"
	}
	return fmt.Errorf("outbox_path %s: %s: point outbox_path at a writable file", path, reason)
}

// Kind is "sqlite".
func (s *Store) Kind() string { return "sqlite" }

// Location is the database file.
func (s *Store) Location() string { return s.path }

// Subscribe calls wake when a job enqueued, re-queued or retried through
// this Store may be due. Other processes on the file are not heard: their
// jobs are found by the worker's poll.
func (s *Store) Subscribe(wake func()) func() { return s.wake.Subscribe(wake) }

// Close closes the file and its lock. Stop the Store's workers first: they
// release the jobs they hold.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

// Enqueue stores j as queued and due now. When j.DedupeKey is already stored
// it returns that job and existing=true, whatever its state.
func (s *Store) Enqueue(ctx context.Context, j delivery.Job) (delivery.Job, bool, error) {
	out, err := s.EnqueueAll(ctx, []delivery.Job{j})
	if err != nil {
		return delivery.Job{}, false, err
	}
	return out[0].Job, out[0].Existing, nil
}

// EnqueueAll stores jobs in one transaction: one fsync for them all.
func (s *Store) EnqueueAll(ctx context.Context, jobs []delivery.Job) ([]delivery.Enqueued, error) {
	now := time.Now()
	queued := make([]delivery.Job, len(jobs))
	for i, j := range jobs {
		q, err := delivery.NewQueued(j, now)
		if err != nil {
			return nil, err
		}
		queued[i] = q
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.dbError("storing jobs", err)
	}
	defer tx.Rollback()
	out := make([]delivery.Enqueued, len(queued))
	added := false
	for i, j := range queued {
		var dedupe any // NULL keeps jobs without a key out of the UNIQUE index
		if j.DedupeKey != "" {
			dedupe = j.DedupeKey
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO jobs
			(id, kind, address, text, payload, dedupe_key, thread_key, state, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)
			ON CONFLICT (dedupe_key) DO NOTHING`,
			j.ID, j.Kind, j.Address, j.Text, j.Payload, dedupe, j.ThreadKey, ms(j.NextAttemptAt), ms(j.CreatedAt))
		if err != nil {
			return nil, s.dbError("storing the job", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if j.ThreadGroup != "" {
				if j.ThreadKey, err = groupThread(ctx, tx, j, now); err != nil {
					return nil, s.dbError("choosing the group's thread", err)
				}
			}
			out[i], added = delivery.Enqueued{Job: j}, true
			continue
		}
		existing, err := scanJob(tx.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM jobs WHERE dedupe_key = ?", j.DedupeKey))
		if err != nil {
			return nil, s.dbError("reading a job", err)
		}
		out[i] = delivery.Enqueued{Job: existing, Existing: true}
	}
	if err := tx.Commit(); err != nil {
		return nil, s.dbError("storing jobs", err)
	}
	if added {
		s.wake.Wake()
	}
	return out, nil
}

// groupThread gives the job j just inserted its group's open thread (or a
// new one) and closes or keeps that thread open. The transaction holds
// SQLite's write lock, so no other process changes the group meanwhile.
func groupThread(ctx context.Context, tx *sql.Tx, j delivery.Job, now time.Time) (string, error) {
	var key string
	err := tx.QueryRowContext(ctx, "SELECT thread_key FROM thread_groups WHERE group_key = ? AND address = ?",
		j.ThreadGroup, j.Address).Scan(&key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		key = delivery.GroupThreadKey(j.ThreadGroup)
	case err != nil:
		return "", err
	}
	if j.EndsThread {
		_, err = tx.ExecContext(ctx, "DELETE FROM thread_groups WHERE group_key = ? AND address = ?", j.ThreadGroup, j.Address)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO thread_groups (group_key, address, thread_key, used_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (group_key, address) DO UPDATE SET used_at = excluded.used_at`, j.ThreadGroup, j.Address, key, ms(now))
	}
	if err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx, "UPDATE jobs SET thread_key = ? WHERE id = ?", key, j.ID)
	return key, err
}

// Get returns the job with that id, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (delivery.Job, error) {
	j, err := s.scanOne(ctx, "WHERE id = ?", id)
	if errors.Is(err, delivery.ErrNotFound) {
		return delivery.Job{}, fmt.Errorf("job %q: %w", id, err)
	}
	return j, err
}

// List returns the most recently created jobs first, without payloads.
func (s *Store) List(ctx context.Context, f delivery.ListFilter) ([]delivery.Job, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+listColumns+` FROM jobs
		WHERE ? = '' OR kind = ? ORDER BY created_at DESC, seq DESC LIMIT ?`, f.Kind, f.Kind, delivery.ListLimit(f.Limit))
	if err != nil {
		return nil, s.dbError("listing jobs", err)
	}
	defer rows.Close()
	var jobs []delivery.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, s.dbError("listing jobs", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbError("listing jobs", err)
	}
	return jobs, nil
}

// Retry puts a failed job back in the queue, due now, attempts reset.
func (s *Store) Retry(ctx context.Context, id string) (delivery.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `UPDATE jobs SET state = 'queued', attempts = 0, interrupts = 0,
		last_error = '', next_attempt_at = ?, sent_at = 0, finished_at = 0
		WHERE id = ? AND state = 'failed' RETURNING `+jobColumns, ms(time.Now()), id))
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return delivery.Job{}, err
		}
		return delivery.Job{}, fmt.Errorf("job %s is %s: %w", id, cur.State, delivery.ErrNotFailed)
	}
	if err != nil {
		return delivery.Job{}, s.dbError("retrying a job", err)
	}
	s.wake.Wake()
	return j, nil
}

// Depth counts the jobs by state.
func (s *Store) Depth(ctx context.Context) (delivery.Depth, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT state, count(*), min(created_at) FROM jobs GROUP BY state")
	if err != nil {
		return delivery.Depth{}, s.dbError("counting jobs", err)
	}
	defer rows.Close()
	var d delivery.Depth
	var oldest int64
	for rows.Next() {
		var state string
		var n int
		var first int64
		if err := rows.Scan(&state, &n, &first); err != nil {
			return delivery.Depth{}, s.dbError("counting jobs", err)
		}
		switch state {
		case delivery.StateQueued:
			d.Queued = n
		case delivery.StateSending:
			d.Sending = n
		case delivery.StateSent:
			d.Sent = n
		case delivery.StateFailed:
			d.Failed = n
		}
		if (state == delivery.StateQueued || state == delivery.StateSending) && (oldest == 0 || first < oldest) {
			oldest = first
		}
	}
	if err := rows.Err(); err != nil {
		return delivery.Depth{}, s.dbError("counting jobs", err)
	}
	d.OldestPending = fromMS(oldest)
	return d, nil
}

func (s *Store) dbError(doing string, err error) error {
	return fmt.Errorf("outbox %s: %s: %w: check that the disk is not full and the file is writable", s.path, doing, err)
}

const jobColumns = `id, kind, address, text, payload, dedupe_key, thread_key, state,
	attempts, interrupts, claims, last_error, next_attempt_at, created_at, sent_at, finished_at,
	permalink, message_id, channel_id, first_claimed_at`

// listColumns reads no payload, which can be large and List does not need.
var listColumns = strings.Replace(jobColumns, "payload", "NULL", 1)

type scanner interface{ Scan(dest ...any) error }

func scanJob(s scanner) (delivery.Job, error) {
	var j delivery.Job
	var dedupe sql.NullString
	var next, created, sent, finished, firstClaimed int64
	err := s.Scan(&j.ID, &j.Kind, &j.Address, &j.Text, &j.Payload, &dedupe, &j.ThreadKey, &j.State,
		&j.Attempts, &j.Interrupts, &j.Claims, &j.LastError, &next, &created, &sent, &finished,
		&j.Permalink, &j.MessageID, &j.ChannelID, &firstClaimed)
	j.DedupeKey = dedupe.String
	j.NextAttemptAt, j.CreatedAt, j.SentAt, j.FinishedAt = fromMS(next), fromMS(created), fromMS(sent), fromMS(finished)
	j.FirstClaimedAt = fromMS(firstClaimed)
	return j, err
}

func (s *Store) scanOne(ctx context.Context, where string, args ...any) (delivery.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM jobs "+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Job{}, delivery.ErrNotFound
	}
	if err != nil {
		return delivery.Job{}, s.dbError("reading a job", err)
	}
	return j, nil
}

// Times are stored as Unix milliseconds; 0 is the zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// Claim moves the next due job from queued to sending under this owner and
// returns it. The UPDATE is one statement, so SQLite's write lock makes the
// select-and-mark atomic across connections and processes.
//
// A threaded job waits while an earlier job of its thread is still pending
// and no thread message exists yet, so "resolved" does not overtake a
// "firing" that is being retried and become the thread's first message.
func (s *Store) Claim(ctx context.Context, now, leaseUntil time.Time) (delivery.Job, bool, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `UPDATE jobs
		SET state = 'sending', owner = ?, lease_until = ?, claims = claims + 1,
			first_claimed_at = CASE first_claimed_at WHEN 0 THEN ? ELSE first_claimed_at END
		WHERE seq = (
			SELECT j.seq FROM jobs j
			WHERE j.state = 'queued' AND j.next_attempt_at <= ?
			AND NOT (j.thread_key != ''
				AND NOT EXISTS (SELECT 1 FROM threads t
					WHERE t.thread_key = j.thread_key AND t.address = j.address)
				AND EXISTS (SELECT 1 FROM jobs p
					WHERE p.thread_key = j.thread_key AND p.address = j.address
					AND p.seq < j.seq AND p.state IN ('queued', 'sending')))
			ORDER BY j.next_attempt_at, j.seq
			LIMIT 1)
		RETURNING `+jobColumns,
		s.owner, ms(leaseUntil), ms(now), ms(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Job{}, false, nil
	}
	if err != nil {
		return delivery.Job{}, false, s.dbError("claiming a job", err)
	}
	return j, true, nil
}

// RenewLeases extends every lease this owner holds.
func (s *Store) RenewLeases(ctx context.Context, leaseUntil time.Time) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE jobs SET lease_until = ? WHERE state = 'sending' AND owner = ?",
		ms(leaseUntil), s.owner); err != nil {
		return s.dbError("renewing leases", err)
	}
	return nil
}

// NextDue is when the earliest queued job becomes due.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT min(next_attempt_at) FROM jobs WHERE state = 'queued'").Scan(&next)
	if err != nil {
		return time.Time{}, false, s.dbError("looking for due jobs", err)
	}
	return fromMS(next.Int64), next.Valid, nil
}

// ThreadRoot is the message a job with a ThreadKey replies to.
func (s *Store) ThreadRoot(ctx context.Context, j delivery.Job) (delivery.Thread, error) {
	if j.ThreadKey == "" {
		return delivery.Thread{}, nil
	}
	var t delivery.Thread
	err := s.db.QueryRowContext(ctx, "SELECT message_id, channel_id FROM threads WHERE thread_key = ? AND address = ?",
		j.ThreadKey, j.Address).Scan(&t.MessageID, &t.ChannelID)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.Thread{}, nil
	}
	if err != nil {
		return delivery.Thread{}, s.dbError("reading the thread", err)
	}
	return t, nil
}

// Finish records an attempt's outcome, and a sent job's message as its
// thread's first when it is (or the thread's last use when it is a reply).
func (s *Store) Finish(ctx context.Context, j delivery.Job, out delivery.Outcome, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.dbError("recording an attempt", err)
	}
	defer tx.Rollback()
	counted := 0
	if out.Counted {
		counted = 1
	}
	next, sentAt, finishedAt := j.NextAttemptAt, time.Time{}, time.Time{}
	switch out.State {
	case delivery.StateQueued:
		next = out.Next
	case delivery.StateSent:
		sentAt, finishedAt = now, now
	case delivery.StateFailed:
		finishedAt = now
	}
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, attempts = attempts + ?, last_error = ?,
		next_attempt_at = ?, sent_at = ?, finished_at = ?, permalink = ?, message_id = ?, channel_id = ?,
		owner = '', lease_until = 0
		WHERE id = ? AND state = 'sending' AND owner = ? AND claims = ?`,
		out.State, counted, out.LastError, ms(next), ms(sentAt), ms(finishedAt),
		out.Receipt.Permalink, out.Receipt.MessageID, out.Receipt.ChannelID, j.ID, s.owner, j.Claims)
	if err != nil {
		return s.dbError("recording an attempt", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return delivery.ErrClaimLost
	}
	if out.State == delivery.StateSent && j.ThreadKey != "" && out.Receipt.MessageID != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO threads (thread_key, address, message_id, channel_id, used_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_key, address) DO UPDATE SET used_at = excluded.used_at`,
			j.ThreadKey, j.Address, out.Receipt.MessageID, out.Receipt.ChannelID, ms(now)); err != nil {
			return s.dbError("recording the thread", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.dbError("recording an attempt", err)
	}
	return nil
}

// Release re-queues a job this owner holds without counting an attempt.
func (s *Store) Release(ctx context.Context, j delivery.Job, reason string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = 'queued', next_attempt_at = ?, last_error = ?,
		owner = '', lease_until = 0
		WHERE id = ? AND state = 'sending' AND owner = ? AND claims = ?`, ms(now), reason, j.ID, s.owner, j.Claims)
	if err != nil {
		return s.dbError("releasing a job", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return delivery.ErrClaimLost
	}
	s.wake.Wake()
	return nil
}

// RequeueExpired re-queues other owners' jobs whose lease ended before now.
func (s *Store) RequeueExpired(ctx context.Context, now time.Time) (int, error) {
	return s.requeue(ctx, now, true)
}

// requeue puts jobs whose owner is gone back in the queue, due now, and
// counts the attempt they were in. With expiredOnly it takes only jobs of
// other owners whose lease lapsed; without, every 'sending' job (the caller
// knows no other process is alive).
func (s *Store) requeue(ctx context.Context, now time.Time, expiredOnly bool) (int, error) {
	q := `UPDATE jobs SET state = 'queued', next_attempt_at = ?, owner = '', lease_until = 0,
		attempts = attempts + 1, interrupts = interrupts + 1, last_error = ? || owner || ?
		WHERE state = 'sending'`
	args := []any{ms(now), delivery.InterruptedBefore, delivery.InterruptedAfter}
	if expiredOnly {
		q += " AND owner != ? AND lease_until < ?"
		args = append(args, s.owner, ms(now))
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, s.dbError("re-queueing interrupted jobs", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if !expiredOnly {
			s.log.Warn("re-queued jobs interrupted by a stopped process; providers without deduplication may post them twice", "jobs", n)
		}
		s.wake.Wake()
	}
	return int(n), nil
}

// Prune deletes what outlived the retention.
func (s *Store) Prune(ctx context.Context, before time.Time) (delivery.Pruned, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return delivery.Pruned{}, s.dbError("pruning", err)
	}
	defer tx.Rollback()
	cut, now := ms(before), ms(time.Now())
	var p delivery.Pruned
	for _, step := range []struct {
		n  *int
		q  string
		at int64
	}{
		{&p.Jobs, "DELETE FROM jobs WHERE state IN ('sent', 'failed') AND finished_at < ?", cut},
		{&p.Threads, `DELETE FROM threads WHERE used_at < ? AND NOT EXISTS (SELECT 1 FROM jobs j
			WHERE j.thread_key = threads.thread_key AND j.address = threads.address AND j.state IN ('queued', 'sending'))`, cut},
		{&p.Threads, "DELETE FROM thread_groups WHERE used_at < ?", cut},
		{nil, "DELETE FROM inbox_images WHERE message_id IN (SELECT id FROM inbox_messages WHERE created_at < ?)", cut},
		{&p.Inbox, "DELETE FROM inbox_messages WHERE created_at < ?", cut},
		// A revocation is needed only while its session would be valid.
		{&p.Sessions, "DELETE FROM session_revocations WHERE expires_at < ?", now},
	} {
		res, err := tx.ExecContext(ctx, step.q, step.at)
		if err != nil {
			return delivery.Pruned{}, s.dbError("pruning", err)
		}
		if step.n != nil {
			n, _ := res.RowsAffected()
			*step.n += int(n)
		}
	}
	if err := tx.Commit(); err != nil {
		return delivery.Pruned{}, s.dbError("pruning", err)
	}
	return p, nil
}

// RevokeSession records a signed-out console session until it expires.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO session_revocations (id, expires_at) VALUES (?, ?)
		ON CONFLICT (id) DO NOTHING`, id, ms(expires)); err != nil {
		return s.dbError("revoking the session", err)
	}
	return nil
}

// SessionRevoked says whether the session was signed out.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM session_revocations WHERE id = ?)", id).Scan(&revoked); err != nil {
		return false, s.dbError("checking the session", err)
	}
	return revoked, nil
}
