package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/panelcast/panelcast/pkg/delivery"
)

const jobColumns = `id, kind, address, text, payload, dedupe_key, thread_key, state,
	attempts, interrupts, claims, last_error, next_attempt_at, created_at, sent_at, finished_at,
	permalink, message_id, channel_id, first_claimed_at`

// listColumns reads no payload, which can be large and List does not need.
var listColumns = strings.Replace(jobColumns, "payload", "NULL::bytea", 1)

func scanJob(row pgx.Row) (delivery.Job, error) {
	var j delivery.Job
	var dedupe *string
	var sent, finished, firstClaimed *time.Time
	err := row.Scan(&j.ID, &j.Kind, &j.Address, &j.Text, &j.Payload, &dedupe, &j.ThreadKey, &j.State,
		&j.Attempts, &j.Interrupts, &j.Claims, &j.LastError, &j.NextAttemptAt, &j.CreatedAt, &sent, &finished,
		&j.Permalink, &j.MessageID, &j.ChannelID, &firstClaimed)
	if dedupe != nil {
		j.DedupeKey = *dedupe
	}
	if sent != nil {
		j.SentAt = *sent
	}
	if finished != nil {
		j.FinishedAt = *finished
	}
	if firstClaimed != nil {
		j.FirstClaimedAt = *firstClaimed
	}
	return j, err
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Store) scanOne(ctx context.Context, where string, args ...any) (delivery.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, "SELECT "+jobColumns+" FROM panelcast_jobs "+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.Job{}, delivery.ErrNotFound
	}
	if err != nil {
		return delivery.Job{}, s.dbError("reading a job", err)
	}
	return j, nil
}

// Enqueue stores j as queued and due now. When j.DedupeKey is already stored
// (by any replica) it returns that job and existing=true, whatever its state.
func (s *Store) Enqueue(ctx context.Context, j delivery.Job) (delivery.Job, bool, error) {
	out, err := s.EnqueueAll(ctx, []delivery.Job{j})
	if err != nil {
		return delivery.Job{}, false, err
	}
	return out[0].Job, out[0].Existing, nil
}

// EnqueueAll stores jobs in one transaction. Two replicas storing the same
// dedupe key at once: the second waits for the first's transaction on the
// unique index, then finds its job.
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
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.dbError("storing jobs", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	out := make([]delivery.Enqueued, len(queued))
	added := false
	for i, j := range queued {
		var dedupe *string // NULL keeps jobs without a key out of the UNIQUE index
		if j.DedupeKey != "" {
			dedupe = &j.DedupeKey
		}
		tag, err := tx.Exec(ctx, `INSERT INTO panelcast_jobs
			(id, kind, address, text, payload, dedupe_key, thread_key, state, next_attempt_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9)
			ON CONFLICT (dedupe_key) DO NOTHING`,
			j.ID, j.Kind, j.Address, j.Text, j.Payload, dedupe, j.ThreadKey, j.NextAttemptAt, j.CreatedAt)
		if err != nil {
			return nil, s.dbError("storing the job", err)
		}
		if tag.RowsAffected() > 0 {
			if j.ThreadGroup != "" {
				if j.ThreadKey, err = groupThread(ctx, tx, j, now); err != nil {
					return nil, s.dbError("choosing the group's thread", err)
				}
			}
			out[i], added = delivery.Enqueued{Job: j}, true
			continue
		}
		existing, err := scanJob(tx.QueryRow(ctx, "SELECT "+jobColumns+" FROM panelcast_jobs WHERE dedupe_key = $1", j.DedupeKey))
		if err != nil {
			return nil, s.dbError("reading a job", err)
		}
		out[i] = delivery.Enqueued{Job: existing, Existing: true}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, s.dbError("storing jobs", err)
	}
	if added {
		s.wake.Wake()
	}
	return out, nil
}

// groupThread gives the job j just inserted its group's open thread (or a
// new one) and closes or keeps that thread open. The upsert or delete
// locks the group's row first, so a replica enqueueing for the group at
// the same time waits and then sees this one's thread.
func groupThread(ctx context.Context, tx pgx.Tx, j delivery.Job, now time.Time) (string, error) {
	var key string
	var err error
	if j.EndsThread {
		err = tx.QueryRow(ctx, `DELETE FROM panelcast_thread_groups WHERE group_key = $1 AND address = $2
			RETURNING thread_key`, j.ThreadGroup, j.Address).Scan(&key)
		if errors.Is(err, pgx.ErrNoRows) {
			key, err = delivery.GroupThreadKey(j.ThreadGroup), nil
		}
	} else {
		err = tx.QueryRow(ctx, `INSERT INTO panelcast_thread_groups (group_key, address, thread_key, used_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (group_key, address) DO UPDATE SET used_at = EXCLUDED.used_at
			RETURNING thread_key`, j.ThreadGroup, j.Address, delivery.GroupThreadKey(j.ThreadGroup), now).Scan(&key)
	}
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, "UPDATE panelcast_jobs SET thread_key = $1 WHERE id = $2", key, j.ID)
	return key, err
}

// Get returns the job with that id, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (delivery.Job, error) {
	j, err := s.scanOne(ctx, "WHERE id = $1", id)
	if errors.Is(err, delivery.ErrNotFound) {
		return delivery.Job{}, fmt.Errorf("job %q: %w", id, err)
	}
	return j, err
}

// List returns the most recently created jobs first, without payloads.
func (s *Store) List(ctx context.Context, f delivery.ListFilter) ([]delivery.Job, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+listColumns+` FROM panelcast_jobs
		WHERE $1 = '' OR kind = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`, f.Kind, delivery.ListLimit(f.Limit))
	if err != nil {
		return nil, s.dbError("listing jobs", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (delivery.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, s.dbError("listing jobs", err)
	}
	return jobs, nil
}

// Retry puts a failed job back in the queue, due now, attempts reset.
func (s *Store) Retry(ctx context.Context, id string) (delivery.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `UPDATE panelcast_jobs SET state = 'queued', attempts = 0, interrupts = 0,
		last_error = '', next_attempt_at = $1, sent_at = NULL, finished_at = NULL
		WHERE id = $2 AND state = 'failed' RETURNING `+jobColumns, time.Now(), id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := s.pool.Query(ctx, "SELECT state, count(*), min(created_at) FROM panelcast_jobs GROUP BY state")
	if err != nil {
		return delivery.Depth{}, s.dbError("counting jobs", err)
	}
	defer rows.Close()
	var d delivery.Depth
	for rows.Next() {
		var state string
		var n int
		var first time.Time
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
		if (state == delivery.StateQueued || state == delivery.StateSending) && (d.OldestPending.IsZero() || first.Before(d.OldestPending)) {
			d.OldestPending = first
		}
	}
	if err := rows.Err(); err != nil {
		return delivery.Depth{}, s.dbError("counting jobs", err)
	}
	return d, nil
}

// Claim moves the next due job from queued to sending under this owner and
// returns it. The row is picked FOR UPDATE SKIP LOCKED, so replicas
// claiming at once take different rows; the outer state check guards a row
// another replica claimed and committed after this statement's snapshot.
//
// A threaded job waits while an earlier job of its thread is still pending
// and no thread message exists yet, so "resolved" does not overtake a
// "firing" that is being retried and become the thread's first message.
func (s *Store) Claim(ctx context.Context, now, leaseUntil time.Time) (delivery.Job, bool, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `UPDATE panelcast_jobs
		SET state = 'sending', owner = $1, lease_until = $2, claims = claims + 1,
			first_claimed_at = coalesce(first_claimed_at, $3)
		WHERE state = 'queued' AND seq = (
			SELECT j.seq FROM panelcast_jobs j
			WHERE j.state = 'queued' AND j.next_attempt_at <= $3
			AND NOT (j.thread_key <> ''
				AND NOT EXISTS (SELECT 1 FROM panelcast_threads t
					WHERE t.thread_key = j.thread_key AND t.address = j.address)
				AND EXISTS (SELECT 1 FROM panelcast_jobs p
					WHERE p.thread_key = j.thread_key AND p.address = j.address
					AND p.seq < j.seq AND p.state IN ('queued', 'sending')))
			ORDER BY j.next_attempt_at, j.seq
			LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns,
		s.owner, leaseUntil, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.Job{}, false, nil
	}
	if err != nil {
		return delivery.Job{}, false, s.dbError("claiming a job", err)
	}
	return j, true, nil
}

// RenewLeases extends every lease this owner holds.
func (s *Store) RenewLeases(ctx context.Context, leaseUntil time.Time) error {
	if _, err := s.pool.Exec(ctx, "UPDATE panelcast_jobs SET lease_until = $1 WHERE state = 'sending' AND owner = $2",
		leaseUntil, s.owner); err != nil {
		return s.dbError("renewing leases", err)
	}
	return nil
}

// NextDue is when the earliest queued job becomes due.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	if err := s.pool.QueryRow(ctx, "SELECT min(next_attempt_at) FROM panelcast_jobs WHERE state = 'queued'").Scan(&next); err != nil {
		return time.Time{}, false, s.dbError("looking for due jobs", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return *next, true, nil
}

// ThreadRoot is the message a job with a ThreadKey replies to.
func (s *Store) ThreadRoot(ctx context.Context, j delivery.Job) (delivery.Thread, error) {
	if j.ThreadKey == "" {
		return delivery.Thread{}, nil
	}
	var t delivery.Thread
	err := s.pool.QueryRow(ctx, "SELECT message_id, channel_id FROM panelcast_threads WHERE thread_key = $1 AND address = $2",
		j.ThreadKey, j.Address).Scan(&t.MessageID, &t.ChannelID)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.Thread{}, nil
	}
	if err != nil {
		return delivery.Thread{}, s.dbError("reading the thread", err)
	}
	return t, nil
}

// Finish records an attempt's outcome, and a sent job's message as its
// thread's first when it is (or the thread's last use when it is a reply),
// in one statement.
func (s *Store) Finish(ctx context.Context, j delivery.Job, out delivery.Outcome, now time.Time) error {
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
	thread := out.State == delivery.StateSent && j.ThreadKey != "" && out.Receipt.MessageID != ""
	var n int
	err := s.pool.QueryRow(ctx, `WITH done AS (
			UPDATE panelcast_jobs SET state = $1, attempts = attempts + $2, last_error = $3,
				next_attempt_at = $4, sent_at = $5, finished_at = $6, permalink = $7, message_id = $8, channel_id = $9,
				owner = '', lease_until = NULL
			WHERE id = $10 AND state = 'sending' AND owner = $11 AND claims = $12
			RETURNING thread_key, address),
		thread AS (
			INSERT INTO panelcast_threads (thread_key, address, message_id, channel_id, used_at)
			SELECT thread_key, address, $8, $9, $13 FROM done WHERE $14
			ON CONFLICT (thread_key, address) DO UPDATE SET used_at = EXCLUDED.used_at)
		SELECT count(*) FROM done`,
		out.State, counted, out.LastError, next, nullTime(sentAt), nullTime(finishedAt),
		out.Receipt.Permalink, out.Receipt.MessageID, out.Receipt.ChannelID, j.ID, s.owner, j.Claims, now, thread).Scan(&n)
	if err != nil {
		return s.dbError("recording an attempt", err)
	}
	if n == 0 {
		return delivery.ErrClaimLost
	}
	return nil
}

// Release re-queues a job this owner holds without counting an attempt.
func (s *Store) Release(ctx context.Context, j delivery.Job, reason string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE panelcast_jobs SET state = 'queued', next_attempt_at = $1, last_error = $2,
		owner = '', lease_until = NULL
		WHERE id = $3 AND state = 'sending' AND owner = $4 AND claims = $5`, now, reason, j.ID, s.owner, j.Claims)
	if err != nil {
		return s.dbError("releasing a job", err)
	}
	if tag.RowsAffected() == 0 {
		return delivery.ErrClaimLost
	}
	s.wake.Wake()
	return nil
}

// RequeueExpired re-queues other owners' jobs whose lease ended before now,
// counting the attempt they were in.
func (s *Store) RequeueExpired(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE panelcast_jobs SET state = 'queued', next_attempt_at = $1, owner = '',
		lease_until = NULL, attempts = attempts + 1, interrupts = interrupts + 1, last_error = $2 || owner || $3
		WHERE state = 'sending' AND owner <> $4 AND lease_until < $1`,
		now, delivery.InterruptedBefore, delivery.InterruptedAfter, s.owner)
	if err != nil {
		return 0, s.dbError("re-queueing interrupted jobs", err)
	}
	n := int(tag.RowsAffected())
	if n > 0 {
		s.wake.Wake()
	}
	return n, nil
}

// Prune deletes what outlived the retention.
func (s *Store) Prune(ctx context.Context, before time.Time) (delivery.Pruned, error) {
	var p delivery.Pruned
	now := time.Now()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, step := range []struct {
			n  *int
			q  string
			at time.Time
		}{
			{&p.Jobs, "DELETE FROM panelcast_jobs WHERE state IN ('sent', 'failed') AND finished_at < $1", before},
			{&p.Threads, `DELETE FROM panelcast_threads t WHERE used_at < $1 AND NOT EXISTS (SELECT 1 FROM panelcast_jobs j
				WHERE j.thread_key = t.thread_key AND j.address = t.address AND j.state IN ('queued', 'sending'))`, before},
			{&p.Threads, "DELETE FROM panelcast_thread_groups WHERE used_at < $1", before},
			// Their pictures go with them (ON DELETE CASCADE).
			{&p.Inbox, "DELETE FROM panelcast_inbox WHERE created_at < $1", before},
			// A revocation is needed only while its session would be valid.
			{&p.Sessions, "DELETE FROM panelcast_session_revocations WHERE expires_at < $1", now},
		} {
			tag, err := tx.Exec(ctx, step.q, step.at)
			if err != nil {
				return err
			}
			*step.n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return delivery.Pruned{}, s.dbError("pruning", err)
	}
	return p, nil
}

// RevokeSession records a signed-out console session until it expires, for
// every replica.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO panelcast_session_revocations (id, expires_at) VALUES ($1, $2)
		ON CONFLICT (id) DO NOTHING`, id, expires); err != nil {
		return s.dbError("revoking the session", err)
	}
	return nil
}

// SessionRevoked says whether the session was signed out on any replica.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM panelcast_session_revocations WHERE id = $1)", id).Scan(&revoked); err != nil {
		return false, s.dbError("checking the session", err)
	}
	return revoked, nil
}
