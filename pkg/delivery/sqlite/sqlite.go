// Package delivery is Panelcast's durable outbox and its retry worker: a push
// or an alert notification is written to an embedded SQLite file before it is
// attempted, a Worker sends it through the chat provider its address names,
// retrying with backoff, and the outcome is recorded for GET /push/{id}.
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
// post happened is unknowable, so the job is re-queued (at-least-once) and
// retried with the same Message.IdempotencyKey (the job ID). Providers that
// deduplicate on it post once. A provider without deduplication posts twice
// only if the process died after the provider accepted the post and before
// the outcome was committed: the time for the response to arrive plus one
// fsync, a few milliseconds per attempt. A death while the panel renders
// (usually the longest part) loses nothing and posts nothing twice.
//
// Re-queueing happens when the owner of a 'sending' job is known dead:
//
//   - Every open Outbox holds a shared flock on "<path>.lock". An Open that
//     can take it exclusively knows no other process has the file open, so it
//     re-queues every 'sending' job at once (a restart resumes immediately).
//   - Otherwise, or where flock is unavailable (Windows), a 'sending' job is
//     re-queued once its lease expired: the owner renews the lease every
//     15 s and it lapses after 60 s of silence. A live process therefore never
//     loses its in-flight jobs to another unless it stalls for a minute.
package delivery

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Job states.
const (
	StateQueued  = "queued"
	StateSending = "sending"
	StateSent    = "sent"
	StateFailed  = "failed"
)

// Leases bound how long a dead process's job waits when flock cannot tell.
const (
	leaseDuration = 60 * time.Second
	renewEvery    = 15 * time.Second
)

// schemaVersion is PRAGMA user_version after migrate; migrations[i] moves a
// file from version i to i+1.
const schemaVersion = 1

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
}

// ErrNotFound is returned by Get for an id the outbox does not hold.
var ErrNotFound = errors.New("no such delivery job: check the id the push returned")

// Job is one message to deliver. Enqueue fills in ID, State, Attempts and
// the times; the rest is the caller's.
type Job struct {
	ID   string
	Kind string // "push" or "alert"
	// Address is "provider:channel"; Enqueue stores it normalised.
	Address string
	Text    string
	// Payload is opaque to the outbox: what prepare needs to render the
	// picture (e.g. the panel spec as JSON).
	Payload []byte
	// DedupeKey, when set, makes a second Enqueue with the same key return
	// the stored job instead of adding one (e.g. alert fingerprint+state).
	DedupeKey string
	// ThreadKey, when set, makes this job a reply to the message of the
	// first job sent with the same ThreadKey and Address (e.g. the alert
	// fingerprint, so "resolved" lands in the thread of "firing").
	ThreadKey string

	State string
	// Attempts counts attempts that finished (sent, or failed with an
	// error); one cut short by a crash or shutdown is not counted.
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	SentAt        time.Time
	Permalink     string
	MessageID     string
	ChannelID     string
}

// Outbox is the durable job store. It is safe for concurrent use, and several
// processes may share one file.
type Outbox struct {
	path  string
	db    *sql.DB
	owner string   // written on the rows this Outbox claims
	lock  *os.File // shared flock on <path>.lock; nil where unsupported
	log   *slog.Logger

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	wakers map[*Worker]struct{}
}

// Open opens or creates the outbox at path, migrates its schema and
// re-queues jobs a dead process left in 'sending'.
func Open(path string) (*Outbox, error) {
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
	o := &Outbox{
		path:   path,
		db:     db,
		owner:  newOwner(),
		log:    slog.Default().With("outbox", path),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		wakers: map[*Worker]struct{}{},
	}
	if err := o.init(); err != nil {
		db.Close()
		if o.lock != nil {
			o.lock.Close()
		}
		return nil, err
	}
	go o.maintain()
	return o, nil
}

func (o *Outbox) init() error {
	ctx := context.Background()
	var mode string
	if err := o.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return pathError(o.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("outbox_path %s: the file system refused SQLite's WAL mode (journal_mode is %s): put outbox_path on a local disk", o.path, mode)
	}
	if err := o.migrate(ctx); err != nil {
		return err
	}

	var requeueErr error
	lock, alone, err := lockShared(o.path+".lock", func() {
		// Runs while the lock is held exclusively: no other process has the
		// file open, so every 'sending' row belongs to a dead one.
		requeueErr = o.requeue(ctx, time.Now(), false)
	})
	if err != nil {
		return pathError(o.path+".lock", err)
	}
	o.lock = lock
	if requeueErr != nil || alone {
		return requeueErr
	}
	return o.requeue(ctx, time.Now(), true)
}

func (o *Outbox) migrate(ctx context.Context) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return pathError(o.path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return pathError(o.path, err)
	}
	if v > schemaVersion {
		return fmt.Errorf("outbox_path %s was written by a newer Panelcast (schema %d, this one knows %d): upgrade Panelcast or point outbox_path at another file", o.path, v, schemaVersion)
	}
	if v == schemaVersion {
		return nil
	}
	for ; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("outbox_path %s: migrating the schema to version %d: %w: restore the file from a backup or move it aside", o.path, v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; v is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return pathError(o.path, err)
	}
	if err := tx.Commit(); err != nil {
		return pathError(o.path, err)
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

// newOwner names this Outbox on the rows it claims; the pid and host are for
// a person reading the table, the random part keeps restarts with a reused
// pid (pid 1 in containers) apart.
func newOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), newID()[:8])
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns 128 random bits as 26 lower-case base32 characters: URL-safe
// and unguessable, so an id can be handed out by GET /push/{id}.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// Path is the database file.
func (o *Outbox) Path() string { return o.path }

// Close stops lease renewal and closes the file. Stop the Outbox's workers
// (cancel Run and let it return) first: a job still being sent would stay in
// 'sending' until the next Open re-queues it.
func (o *Outbox) Close() error {
	o.closeOnce.Do(func() {
		close(o.stop)
		<-o.done
		o.closeErr = o.db.Close()
		if o.lock != nil {
			o.lock.Close()
		}
	})
	return o.closeErr
}

// Enqueue stores j as queued and due now. When j.DedupeKey is already stored
// it returns that job and existing=true, whatever its state.
func (o *Outbox) Enqueue(ctx context.Context, j Job) (Job, bool, error) {
	addr, err := chat.ParseAddress(j.Address)
	if err != nil {
		return Job{}, false, err
	}
	if j.Kind == "" {
		return Job{}, false, errors.New("job has no kind: set it to push or alert")
	}
	now := time.Now()
	j.ID = newID()
	j.Address = addr.String()
	j.State = StateQueued
	j.Attempts = 0
	j.LastError = ""
	j.CreatedAt = now.Truncate(time.Millisecond)
	j.NextAttemptAt = j.CreatedAt
	j.SentAt = time.Time{}
	j.Permalink, j.MessageID, j.ChannelID = "", "", ""

	var dedupe any // NULL keeps jobs without a key out of the UNIQUE index
	if j.DedupeKey != "" {
		dedupe = j.DedupeKey
	}
	res, err := o.db.ExecContext(ctx, `INSERT INTO jobs
		(id, kind, address, text, payload, dedupe_key, thread_key, state, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)
		ON CONFLICT (dedupe_key) DO NOTHING`,
		j.ID, j.Kind, j.Address, j.Text, j.Payload, dedupe, j.ThreadKey, ms(j.NextAttemptAt), ms(j.CreatedAt))
	if err != nil {
		return Job{}, false, o.dbError("storing the job", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		existing, err := o.scanOne(ctx, "WHERE dedupe_key = ?", j.DedupeKey)
		if err != nil {
			return Job{}, false, err
		}
		return existing, true, nil
	}
	o.wake()
	return j, false, nil
}

// Get returns the job with that id, or an error wrapping ErrNotFound.
func (o *Outbox) Get(ctx context.Context, id string) (Job, error) {
	j, err := o.scanOne(ctx, "WHERE id = ?", id)
	if errors.Is(err, ErrNotFound) {
		return Job{}, fmt.Errorf("job %q: %w", id, err)
	}
	return j, err
}

// Depth counts the jobs waiting (including those waiting for a retry) and
// those being sent, for health output.
func (o *Outbox) Depth(ctx context.Context) (queued, sending int, err error) {
	rows, err := o.db.QueryContext(ctx, `SELECT state, count(*) FROM jobs
		WHERE state IN ('queued', 'sending') GROUP BY state`)
	if err != nil {
		return 0, 0, o.dbError("counting jobs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return 0, 0, o.dbError("counting jobs", err)
		}
		if state == StateQueued {
			queued = n
		} else {
			sending = n
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, o.dbError("counting jobs", err)
	}
	return queued, sending, nil
}

func (o *Outbox) dbError(doing string, err error) error {
	return fmt.Errorf("outbox %s: %s: %w: check that the disk is not full and the file is writable", o.path, doing, err)
}

const jobColumns = `id, kind, address, text, payload, dedupe_key, thread_key, state,
	attempts, last_error, next_attempt_at, created_at, sent_at, permalink, message_id, channel_id`

type scanner interface{ Scan(dest ...any) error }

func scanJob(s scanner) (Job, error) {
	var j Job
	var dedupe sql.NullString
	var next, created, sent int64
	err := s.Scan(&j.ID, &j.Kind, &j.Address, &j.Text, &j.Payload, &dedupe, &j.ThreadKey, &j.State,
		&j.Attempts, &j.LastError, &next, &created, &sent, &j.Permalink, &j.MessageID, &j.ChannelID)
	j.DedupeKey = dedupe.String
	j.NextAttemptAt, j.CreatedAt, j.SentAt = fromMS(next), fromMS(created), fromMS(sent)
	return j, err
}

func (o *Outbox) scanOne(ctx context.Context, where string, args ...any) (Job, error) {
	j, err := scanJob(o.db.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM jobs "+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	if err != nil {
		return Job{}, o.dbError("reading a job", err)
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

// claim moves the next due job from queued to sending under this owner and
// returns it. The UPDATE is one statement, so SQLite's write lock makes the
// select-and-mark atomic across connections and processes.
//
// A threaded job waits while an earlier job of its thread is still pending
// and no thread message exists yet, so "resolved" does not overtake a
// "firing" that is being retried and become the thread's first message.
func (o *Outbox) claim(ctx context.Context, now time.Time) (Job, bool, error) {
	j, err := scanJob(o.db.QueryRowContext(ctx, `UPDATE jobs
		SET state = 'sending', owner = ?, lease_until = ?
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
		o.owner, ms(now.Add(leaseDuration)), ms(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, o.dbError("claiming a job", err)
	}
	return j, true, nil
}

// nextDue is when the earliest queued job becomes due; ok is false when
// nothing is queued.
func (o *Outbox) nextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := o.db.QueryRowContext(ctx, "SELECT min(next_attempt_at) FROM jobs WHERE state = 'queued'").Scan(&next)
	if err != nil {
		return time.Time{}, false, o.dbError("looking for due jobs", err)
	}
	return fromMS(next.Int64), next.Valid, nil
}

// threadRoot is the message a job with a ThreadKey replies to; "" when it
// would be the thread's first.
func (o *Outbox) threadRoot(ctx context.Context, j Job) (string, error) {
	if j.ThreadKey == "" {
		return "", nil
	}
	var id string
	err := o.db.QueryRowContext(ctx, "SELECT message_id FROM threads WHERE thread_key = ? AND address = ?",
		j.ThreadKey, j.Address).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", o.dbError("reading the thread", err)
	}
	return id, nil
}

// outcome is how an attempt ended.
type outcome struct {
	state     string // StateSent, StateQueued (retry) or StateFailed
	counted   bool   // the attempt finished, so it counts in Attempts
	lastError string
	next      time.Time // the retry's due time
	receipt   chat.Receipt
}

// errClaimLost means another process re-queued the job while this one was
// sending it (this one stalled past its lease).
var errClaimLost = errors.New("the job was re-queued by another process while this one was sending it (this process stalled for over a minute), so it may be posted twice: check for a stalled disk or an overloaded host")

// finish records an attempt's outcome, and a sent job's message as its
// thread's first when it is.
func (o *Outbox) finish(ctx context.Context, j Job, out outcome, now time.Time) error {
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return o.dbError("recording an attempt", err)
	}
	defer tx.Rollback()
	counted := 0
	if out.counted {
		counted = 1
	}
	next, sentAt := j.NextAttemptAt, time.Time{}
	switch out.state {
	case StateQueued:
		next = out.next
	case StateSent:
		sentAt = now
	}
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, attempts = attempts + ?, last_error = ?,
		next_attempt_at = ?, sent_at = ?, permalink = ?, message_id = ?, channel_id = ?, owner = '', lease_until = 0
		WHERE id = ? AND state = 'sending' AND owner = ?`,
		out.state, counted, out.lastError, ms(next), ms(sentAt),
		out.receipt.Permalink, out.receipt.MessageID, out.receipt.ChannelID, j.ID, o.owner)
	if err != nil {
		return o.dbError("recording an attempt", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errClaimLost
	}
	if out.state == StateSent && j.ThreadKey != "" && out.receipt.MessageID != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO threads (thread_key, address, message_id, channel_id)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			j.ThreadKey, j.Address, out.receipt.MessageID, out.receipt.ChannelID); err != nil {
			return o.dbError("recording the thread", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return o.dbError("recording an attempt", err)
	}
	return nil
}

// requeue puts jobs whose owner is gone back in the queue, due now. With
// expiredOnly it takes only jobs of other owners whose lease lapsed; without,
// every 'sending' job (the caller knows no other process is alive).
func (o *Outbox) requeue(ctx context.Context, now time.Time, expiredOnly bool) error {
	q := `UPDATE jobs SET state = 'queued', next_attempt_at = ?, owner = '', lease_until = 0,
		last_error = 'interrupted: process ' || owner || ' stopped while sending it; retrying with the same idempotency key'
		WHERE state = 'sending'`
	args := []any{ms(now)}
	if expiredOnly {
		q += " AND owner != ? AND lease_until < ?"
		args = append(args, o.owner, ms(now))
	}
	res, err := o.db.ExecContext(ctx, q, args...)
	if err != nil {
		return o.dbError("re-queueing interrupted jobs", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		o.log.Warn("re-queued jobs interrupted by a stopped process; providers without deduplication may post them twice", "jobs", n)
		o.wake()
	}
	return nil
}

// maintain renews this owner's leases and takes over jobs of processes that
// stopped renewing theirs, until Close.
func (o *Outbox) maintain() {
	defer close(o.done)
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		ctx := context.Background()
		now := time.Now()
		if _, err := o.db.ExecContext(ctx, "UPDATE jobs SET lease_until = ? WHERE state = 'sending' AND owner = ?",
			ms(now.Add(leaseDuration)), o.owner); err != nil {
			o.log.Error("renewing leases failed; another process may take over jobs being sent", "err", err)
		}
		if err := o.requeue(ctx, now, true); err != nil {
			o.log.Error("re-queueing interrupted jobs failed", "err", err)
		}
	}
}

// wake tells running workers that a job may be due.
func (o *Outbox) wake() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for w := range o.wakers {
		w.Wake()
	}
}

func (o *Outbox) addWaker(w *Worker, add bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if add {
		o.wakers[w] = struct{}{}
	} else {
		delete(o.wakers, w)
	}
}
