// Package delivery is Panelcast's durable outbox and its retry worker: a push
// or an alert notification is stored before it is attempted, a Worker sends
// it through the chat provider its address names, retrying with backoff, and
// the outcome is recorded for GET /push/{id}.
//
// The outbox is a Store. Two implement it: package sqlite, an embedded file
// for one machine (the default), and package postgres, one database shared
// by several replicas. The Worker and the service do not know which they
// have; both pass the contract suite in package storetest.
//
// # What every Store guarantees
//
//   - An Enqueue that returned is durable, and a job with a DedupeKey that
//     is already stored is not added again, whichever replica asks.
//   - A claim is exclusive: one owner (one Store value) holds a job in
//     'sending' at a time, for a lease the worker renews while it works.
//   - A claim whose owner stopped is taken back: at once where the store can
//     tell the owner is dead, else when its lease lapsed. The interruption
//     counts as an attempt, so a job that kills the process sending it
//     fails after max_attempts instead of being retried for ever.
//   - Outcomes are fenced: Finish and Release take effect only for the claim
//     that is current (same owner, same claim number), so a late answer from
//     an owner that lost its claim cannot overwrite the job.
//   - A job with a ThreadKey waits while an earlier job of its thread (same
//     key and address) is pending and the thread has no first message yet,
//     and then replies to the thread's first message.
//   - A job with a ThreadGroup gets the thread its group has open on its
//     address, or opens one when none is; one with EndsThread closes it, so
//     the group's next job opens a new thread. Replicas enqueueing for one
//     group at once agree on its thread.
//   - FirstClaimedAt is set by the first claim and kept by every later one
//     and by Retry, so each attempt of a job, wherever it runs, can draw
//     the same picture.
//   - A console session revoked through one Store is revoked for every
//     Store on the outbox until it expires.
//   - Prune removes sent and failed jobs (with their dedupe keys), thread
//     keys and inbox messages older than the retention (outbox_retention, 7
//     days by default; the worker prunes hourly). A thread key goes once its
//     thread was last posted to before the cut-off and no pending job needs
//     it; a job with that key arriving later starts a new thread (an alert
//     resolving after a week gets a new message, not a reply), and a
//     notification whose dedupe key was pruned is posted again. A group's
//     open thread goes once no job of the group came before the cut-off.
//     Session revocations go once their session expired.
//
// Re-sending after an interruption uses the same Message.IdempotencyKey
// (the job ID), so providers that deduplicate on it post once; see the
// sqlite package for the window in which others may post twice.
package delivery

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

// Job states.
const (
	StateQueued  = "queued"
	StateSending = "sending"
	StateSent    = "sent"
	StateFailed  = "failed"
)

// DefaultRetention is how long sent and failed jobs, thread keys and inbox
// messages are kept (outbox_retention).
const DefaultRetention = 7 * 24 * time.Hour

// Errors a Store returns; callers test them with errors.Is.
var (
	// ErrNotFound: Get or Retry of an id the outbox does not hold.
	ErrNotFound = errors.New("no such delivery job: check the id the push returned")
	// ErrNotFailed: Retry of a job that has not failed.
	ErrNotFailed = errors.New("only a failed job can be retried")
	// ErrNoImage: InboxImage of a message or picture number that is not stored.
	ErrNoImage = errors.New("no such inbox picture: check the message id and picture number")
	// ErrClaimLost means another owner re-queued the job while this one was
	// sending it (this one stalled past its lease), so it may be posted twice.
	ErrClaimLost = errors.New("the job was re-queued by another process while this one was sending it (this process stalled past its lease), so it may be posted twice: check for a stalled disk, database or overloaded host")
)

// Job is one message to deliver. Enqueue fills in ID, State, Attempts and
// the times; the rest is the caller's.
type Job struct {
	ID   string
	Kind string // "push" or "alert"
	// Address is "provider:channel"; Enqueue stores it normalised.
	Address string
	Text    string
	// Payload is opaque to the outbox: what prepare needs to render the
	// picture (e.g. the panel spec as JSON). List leaves it out.
	Payload []byte
	// DedupeKey, when set, makes a second Enqueue with the same key return
	// the stored job instead of adding one (e.g. alert fingerprint+state).
	DedupeKey string
	// ThreadKey, when set, makes this job a reply to the message of the
	// first job sent with the same ThreadKey and Address (e.g. the alert
	// fingerprint, so "resolved" lands in the thread of "firing").
	ThreadKey string
	// ThreadGroup, when set, has Enqueue choose ThreadKey: the thread the
	// group has open on Address, else a new one. It suits an alert group,
	// whose alerts come and go while one incident lasts. Not stored.
	ThreadGroup string
	// EndsThread closes the group's open thread with this job (the
	// incident is over): the group's next job opens a new one. Not stored.
	EndsThread bool

	State string
	// Attempts counts attempts that finished (sent, or failed with an
	// error) and attempts cut short because the process sending the job
	// died; one cut short by a shutdown is not counted.
	Attempts int
	// Interrupts is how many of the Attempts ended with the process dying.
	Interrupts int
	// Claims numbers the job's claims; with the store's owner it fences an
	// outcome to the claim it belongs to.
	Claims        int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	SentAt        time.Time
	// FinishedAt is when the job was sent or failed; retention counts from it.
	FinishedAt time.Time
	// FirstClaimedAt is when the job was first claimed (its first attempt).
	// Later claims and Retry keep it, so what the first attempt drew up to
	// "now" every later one draws the same.
	FirstClaimedAt time.Time
	Permalink      string
	MessageID      string
	ChannelID      string
}

// Outcome is how an attempt ended.
type Outcome struct {
	State     string // StateSent, StateQueued (retry) or StateFailed
	Counted   bool   // the attempt finished, so it counts in Attempts
	LastError string
	Next      time.Time // the retry's due time
	Receipt   chat.Receipt
	// Err is the failure behind LastError, for the worker's OnFinish; it
	// is not stored.
	Err error
}

// Thread is the first message of a thread, which later jobs reply to.
type Thread struct {
	MessageID string
	ChannelID string
}

// Depth is the queue as health and /metrics show it.
type Depth struct {
	Queued  int // waiting, including those waiting for a retry
	Sending int
	Sent    int // kept until the retention ends
	Failed  int
	// OldestPending is when the oldest queued or sending job was created;
	// zero when none is.
	OldestPending time.Time
}

// Pruned counts what one Prune removed.
type Pruned struct {
	Jobs     int
	Threads  int // thread keys and groups' open threads
	Inbox    int
	Sessions int // revocations of sessions that expired
}

// ListFilter selects jobs for List.
type ListFilter struct {
	Kind  string // "" for every kind
	Limit int    // 0 takes DefaultListLimit; at most MaxListLimit
}

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// ListLimit applies the defaults and bound to a requested limit.
func ListLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultListLimit
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}

// InboxMessage is a message posted to the built-in inbox: address.
type InboxMessage struct {
	ID       string
	Channel  string
	Text     string
	ThreadID string // the inbox message this one replies to, if any
	Images   []InboxImage
	// CreatedAt is set by SaveInbox.
	CreatedAt time.Time
}

// InboxImage is one picture of an inbox message. ListInbox fills in Size
// and leaves Data out; InboxImage returns Data.
type InboxImage struct {
	Filename string
	Size     int
	Data     []byte
}

// InboxFilter selects messages for ListInbox.
type InboxFilter struct {
	Channel string // "" for every channel
	Limit   int    // as ListFilter.Limit
}

// Store is the outbox. It is safe for concurrent use, and several Stores
// (processes, replicas) may share one database; each Store is one owner of
// the claims it makes.
type Store interface {
	// Kind is "sqlite" or "postgres".
	Kind() string
	// Location is the file, or the database URL without its password.
	Location() string

	// Enqueue stores j as queued and due now. When j.DedupeKey is already
	// stored it returns that job and existing=true, whatever its state.
	Enqueue(ctx context.Context, j Job) (stored Job, existing bool, err error)
	// EnqueueAll is Enqueue for several jobs in one transaction: all are
	// stored, or none (one flush to disk for a whole alert notification).
	// A job whose DedupeKey an earlier one of jobs has returns that one.
	EnqueueAll(ctx context.Context, jobs []Job) ([]Enqueued, error)
	// Get returns the job with that id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Job, error)
	// List returns the most recently created jobs first, without payloads.
	List(ctx context.Context, f ListFilter) ([]Job, error)
	// Retry puts a failed job back in the queue, due now, with its attempts
	// reset. It returns ErrNotFound or ErrNotFailed (wrapped) otherwise.
	Retry(ctx context.Context, id string) (Job, error)
	// Depth counts the jobs by state.
	Depth(ctx context.Context) (Depth, error)

	// Claim moves the next due job from queued to sending under this
	// owner, with a lease until leaseUntil, and returns it (ok=false when
	// nothing is due). It respects the thread rule in the package doc.
	Claim(ctx context.Context, now, leaseUntil time.Time) (j Job, ok bool, err error)
	// RenewLeases extends every lease this owner holds to leaseUntil.
	RenewLeases(ctx context.Context, leaseUntil time.Time) error
	// Finish records the outcome of the claim j came from, and a sent job's
	// message as its thread's first when it is. ErrClaimLost when that
	// claim is no longer current.
	Finish(ctx context.Context, j Job, out Outcome, now time.Time) error
	// Release re-queues j, due now, without counting an attempt (shutdown),
	// fenced like Finish.
	Release(ctx context.Context, j Job, reason string, now time.Time) error
	// RequeueExpired re-queues the jobs of other owners whose lease ended
	// before now, counting an interrupted attempt for each.
	RequeueExpired(ctx context.Context, now time.Time) (int, error)
	// ThreadRoot is the message a job with a ThreadKey replies to; zero
	// when it would be the thread's first.
	ThreadRoot(ctx context.Context, j Job) (Thread, error)
	// NextDue is when the earliest queued job becomes due; ok is false when
	// nothing is queued.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// Prune deletes sent and failed jobs finished before before (their
	// dedupe keys go with them), thread keys last used before it that no
	// pending job needs, groups' open threads no job came for since, inbox
	// messages created before it, and revocations of expired sessions.
	Prune(ctx context.Context, before time.Time) (Pruned, error)

	// RevokeSession records that the console session id was signed out;
	// until expires (when the session ends anyway) SessionRevoked says so
	// through every Store on the outbox.
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	// SessionRevoked says whether the session id was signed out.
	SessionRevoked(ctx context.Context, id string) (bool, error)
	// Subscribe calls wake (without blocking on it) whenever a job may
	// have become due: one enqueued, re-queued or retried here or, where
	// the store can tell, by another replica. cancel stops the calls.
	Subscribe(wake func()) (cancel func())

	// SaveInbox stores a message for the inbox: address and returns it
	// with its ID and CreatedAt.
	SaveInbox(ctx context.Context, m InboxMessage) (InboxMessage, error)
	// ListInbox returns the newest messages first, images without Data.
	ListInbox(ctx context.Context, f InboxFilter) ([]InboxMessage, error)
	// InboxImage returns picture n (0-based) of a message, or ErrNoImage.
	InboxImage(ctx context.Context, id string, n int) (InboxImage, error)

	// Close releases the store. Stop its workers first.
	Close() error
}

// Enqueued is one job EnqueueAll stored, or the stored job its DedupeKey
// named (Existing).
type Enqueued struct {
	Job      Job
	Existing bool
}

// NewQueued checks a job for Enqueue and fills in what the store sets: a
// new ID, the normalised address, state queued, due now. Stores call it.
func NewQueued(j Job, now time.Time) (Job, error) {
	addr, err := chat.ParseAddress(j.Address)
	if err != nil {
		return Job{}, err
	}
	if j.Kind == "" {
		return Job{}, errors.New("job has no kind: set it to push or alert")
	}
	j.ID = NewID()
	j.Address = addr.String()
	j.State = StateQueued
	j.Attempts, j.Interrupts, j.Claims = 0, 0, 0
	j.LastError = ""
	// Both stores keep milliseconds, so the job read back equals this one.
	j.CreatedAt = now.Truncate(time.Millisecond)
	j.NextAttemptAt = j.CreatedAt
	j.SentAt, j.FinishedAt = time.Time{}, time.Time{}
	j.Permalink, j.MessageID, j.ChannelID = "", "", ""
	j.FirstClaimedAt = time.Time{}
	return j, nil
}

// GroupThreadKey is a new thread key for group: a new incident's thread.
func GroupThreadKey(group string) string { return group + "/" + NewID() }

// Interrupted words the LastError of a job re-queued because the process
// sending it stopped: InterruptedBefore + owner + InterruptedAfter. Stores
// build it in SQL from these two parts.
const (
	InterruptedBefore = "interrupted: process "
	InterruptedAfter  = " stopped while sending it; retrying with the same idempotency key"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns 128 random bits as 26 lower-case base32 characters: URL-safe
// and unguessable, so an id can be handed out by GET /push/{id}.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// NewOwner names a Store on the rows it claims; the host and pid are for a
// person reading the table, the random part keeps restarts with a reused
// pid (pid 1 in containers) apart.
func NewOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), NewID()[:8])
}

// Wakers is the Subscribe half of a Store: a set of wake functions. The
// zero value is ready to use.
type Wakers struct {
	mu    sync.Mutex
	funcs map[*func()]struct{}
}

// Subscribe adds wake until cancel is called.
func (w *Wakers) Subscribe(wake func()) (cancel func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.funcs == nil {
		w.funcs = map[*func()]struct{}{}
	}
	key := &wake
	w.funcs[key] = struct{}{}
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.funcs, key)
	}
}

// Wake calls every subscribed function.
func (w *Wakers) Wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for f := range w.funcs {
		(*f)()
	}
}
