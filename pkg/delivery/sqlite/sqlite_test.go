package delivery

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) *Outbox {
	t.Helper()
	o, err := Open(filepath.Join(t.TempDir(), "sub", "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func TestEnqueueGet(t *testing.T) {
	o := openTemp(t)
	ctx := context.Background()
	if fi, err := os.Stat(filepath.Dir(o.Path())); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("parent directory: %v, %v; want mode 0700", fi.Mode(), err)
	}

	j, existing, err := o.Enqueue(ctx, Job{Kind: "push", Address: " Slack: #ops ", Text: "cpu", Payload: []byte(`{"panel":2}`)})
	if err != nil || existing {
		t.Fatalf("Enqueue: %v, existing=%v", err, existing)
	}
	if !regexp.MustCompile(`^[a-z2-7]{26}$`).MatchString(j.ID) {
		t.Errorf("ID %q is not 26 base32 characters", j.ID)
	}
	got, err := o.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != "slack:#ops" || got.State != StateQueued || got.Text != "cpu" ||
		string(got.Payload) != `{"panel":2}` || got.Kind != "push" || got.Attempts != 0 {
		t.Errorf("Get = %+v", got)
	}
	if !got.CreatedAt.Equal(j.CreatedAt) || !got.NextAttemptAt.Equal(j.CreatedAt) || !got.SentAt.IsZero() {
		t.Errorf("times: created %v (want %v), next %v, sent %v", got.CreatedAt, j.CreatedAt, got.NextAttemptAt, got.SentAt)
	}
	if q, s, err := o.Depth(ctx); q != 1 || s != 0 || err != nil {
		t.Errorf("Depth = %d, %d, %v; want 1, 0", q, s, err)
	}

	if _, err := o.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) = %v; want ErrNotFound", err)
	}
	if _, _, err := o.Enqueue(ctx, Job{Kind: "push", Address: "#ops"}); err == nil || !strings.Contains(err.Error(), "slack:#ops") {
		t.Errorf("Enqueue without provider: %v", err)
	}
	if _, _, err := o.Enqueue(ctx, Job{Address: "slack:#ops"}); err == nil {
		t.Error("Enqueue without kind succeeded")
	}
}

func TestDedupe(t *testing.T) {
	o := openTemp(t)
	ctx := context.Background()
	a, _, err := o.Enqueue(ctx, Job{Kind: "alert", Address: "slack:#ops", Text: "firing", DedupeKey: "fp1/firing"})
	if err != nil {
		t.Fatal(err)
	}
	b, existing, err := o.Enqueue(ctx, Job{Kind: "alert", Address: "slack:#ops", Text: "firing again", DedupeKey: "fp1/firing"})
	if err != nil || !existing || b.ID != a.ID || b.Text != "firing" || b.DedupeKey != "fp1/firing" {
		t.Fatalf("duplicate Enqueue = %+v, %v, %v; want the first job and existing", b, existing, err)
	}
	// Jobs without a key are never duplicates of each other.
	for range 2 {
		if _, existing, err := o.Enqueue(ctx, Job{Kind: "push", Address: "slack:#ops"}); err != nil || existing {
			t.Fatalf("Enqueue without key: %v, existing=%v", err, existing)
		}
	}
	if q, _, _ := o.Depth(ctx); q != 3 {
		t.Errorf("queued = %d; want 3", q)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(file, "outbox.db"))
	if err == nil || !strings.HasPrefix(err.Error(), "outbox_path "+filepath.Join(file, "outbox.db")+": not a directory") ||
		!strings.HasSuffix(err.Error(), "point outbox_path at a writable file") {
		t.Errorf("Open under a file: %v", err)
	}

	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(ro, "outbox.db")
		want := "outbox_path " + path + ": permission denied: point outbox_path at a writable file"
		if _, err := Open(path); err == nil || err.Error() != want {
			t.Errorf("Open in a read-only directory: %v\nwant %s", err, want)
		}

		path = filepath.Join(dir, "readonly.db")
		if err := os.WriteFile(path, nil, 0o400); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); err == nil || !strings.HasPrefix(err.Error(), "outbox_path "+path+": permission denied") ||
			!strings.HasSuffix(err.Error(), "point outbox_path at a writable file") {
			t.Errorf("Open of a read-only file: %v", err)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := o.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("user_version = %d, %v", v, err)
	}
	var mode string
	o.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	var sync int
	o.db.QueryRow("PRAGMA synchronous").Scan(&sync)
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %q synchronous %d; want wal, 2 (FULL)", mode, sync)
	}
	j, _, err := o.Enqueue(context.Background(), Job{Kind: "push", Address: "slack:#ops"})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()

	// Reopening keeps the jobs and does not migrate again.
	o, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Get(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := o.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer Panelcast") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

// A live process keeps its jobs in 'sending'; they are taken over only once
// its lease lapses, or at once when no process has the file open.
func TestInterruptedJobs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ := a.Enqueue(ctx, Job{Kind: "push", Address: "slack:#ops"})
	now := time.Now()
	if _, ok, err := a.claim(ctx, now); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}

	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, j.ID); got.State != StateSending {
		t.Fatalf("a second Open took a live process's job: %s", got.State)
	}
	if err := b.requeue(ctx, now.Add(leaseDuration/2), true); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, j.ID); got.State != StateSending {
		t.Fatalf("a job with a fresh lease was re-queued: %s", got.State)
	}
	if err := b.requeue(ctx, now.Add(leaseDuration+time.Second), true); err != nil {
		t.Fatal(err)
	}
	got, _ := b.Get(ctx, j.ID)
	if got.State != StateQueued || !strings.Contains(got.LastError, "interrupted: process "+a.owner) {
		t.Fatalf("after the lease: %s %q", got.State, got.LastError)
	}
	// a's late outcome must not overwrite the job it lost.
	if err := a.finish(ctx, j, outcome{state: StateSent, counted: true}, time.Now()); !errors.Is(err, errClaimLost) {
		t.Errorf("finish after losing the claim = %v", err)
	}

	// Claimed by b, which then goes away without finishing: the next Open,
	// alone on the file, re-queues at once.
	if _, ok, _ := b.claim(ctx, now.Add(leaseDuration+time.Second)); !ok {
		t.Fatal("b could not claim")
	}
	b.Close()
	a.Close()
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, _ := c.Get(ctx, j.ID); got.State != StateQueued || got.Attempts != 0 {
		t.Errorf("after restart: %s, %d attempts; want queued, 0", got.State, got.Attempts)
	}
}
