package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Stores on one file in one process are two processes as far as the
// contract goes: each is its own owner with its own flock.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "sub", "outbox.db")
		return func(t *testing.T) delivery.Store { return open(t, path) }
	}, storetest.Options{})
}

func TestParentDirectory(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sub", "outbox.db"))
	if fi, err := os.Stat(filepath.Dir(s.Location())); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("parent directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(file, "outbox.db"), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "outbox_path "+filepath.Join(file, "outbox.db")+": not a directory") ||
		!strings.HasSuffix(err.Error(), "point outbox_path at a writable file") {
		t.Errorf("Open under a file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "a?b"), Options{}); err == nil || !strings.Contains(err.Error(), "contains '?'") {
		t.Errorf("Open of a path with '?': %v", err)
	}

	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(ro, "outbox.db")
		want := "outbox_path " + path + ": permission denied: point outbox_path at a writable file"
		if _, err := Open(path, Options{}); err == nil || err.Error() != want {
			t.Errorf("Open in a read-only directory: %v\nwant %s", err, want)
		}

		path = filepath.Join(dir, "readonly.db")
		if err := os.WriteFile(path, nil, 0o400); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, Options{}); err == nil || !strings.HasPrefix(err.Error(), "outbox_path "+path+": permission denied") ||
			!strings.HasSuffix(err.Error(), "point outbox_path at a writable file") {
			t.Errorf("Open of a read-only file: %v", err)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("user_version = %d, %v", v, err)
	}
	var mode string
	s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	var sync int
	s.db.QueryRow("PRAGMA synchronous").Scan(&sync)
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %q synchronous %d; want wal, 2 (FULL)", mode, sync)
	}
	j, _, err := s.Enqueue(context.Background(), delivery.Job{Kind: "push", Address: "slack:#ops"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopening keeps the jobs and does not migrate again.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "newer Panelcast") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

// A file written by the previous release (schema 1) is migrated with its
// jobs and threads: sent jobs get a finish time for retention, threads a
// last use, so neither is pruned at once.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for _, q := range []string{migrations[0], "PRAGMA user_version = 1",
		fmt.Sprintf(`INSERT INTO jobs (id, kind, address, text, state, attempts, next_attempt_at, created_at, sent_at, message_id, thread_key, dedupe_key)
			VALUES ('old', 'alert', 'slack:#ops', 'firing', 'sent', 1, 0, %d, %d, 'ts1', 'fp', 'fp/firing')`, now-1000, now),
		fmt.Sprintf(`INSERT INTO jobs (id, kind, address, text, state, next_attempt_at, created_at)
			VALUES ('waiting', 'push', 'slack:#ops', 'cpu', 'queued', 0, %d)`, now),
		"INSERT INTO threads VALUES ('fp', 'slack:#ops', 'ts1', 'C1')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := open(t, path)
	ctx := context.Background()
	old, err := s.Get(ctx, "old")
	if err != nil || old.FinishedAt.UnixMilli() != now || old.Interrupts != 0 || old.MessageID != "ts1" {
		t.Fatalf("migrated sent job: %+v, %v", old, err)
	}
	if p, err := s.Prune(ctx, time.Now().Add(-time.Hour)); p != (delivery.Pruned{}) || err != nil {
		t.Errorf("Prune right after migrating = %+v, %v; want nothing", p, err)
	}
	if root, _ := s.ThreadRoot(ctx, delivery.Job{ThreadKey: "fp", Address: "slack:#ops"}); root != (delivery.Thread{MessageID: "ts1", ChannelID: "C1"}) {
		t.Errorf("migrated thread: %+v", root)
	}
	if _, existing, _ := s.Enqueue(ctx, delivery.Job{Kind: "alert", Address: "slack:#ops", DedupeKey: "fp/firing"}); !existing {
		t.Error("the migrated dedupe key was lost")
	}
	if j, ok, _ := s.Claim(ctx, time.Now(), time.Now().Add(time.Minute)); !ok || j.ID != "waiting" || j.Claims != 1 {
		t.Errorf("claim after migrating: %v %+v", ok, j)
	}
}

// A live process keeps its jobs in 'sending'; when no process has the file
// open, the next Open re-queues them at once, counting the interrupted
// attempt.
func TestInterruptedJobs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ := a.Enqueue(ctx, delivery.Job{Kind: "push", Address: "slack:#ops"})
	now := time.Now()
	if _, ok, err := a.Claim(ctx, now, now); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}

	// Another process opens the file: a is alive, so its job stays.
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, j.ID); got.State != delivery.StateSending {
		t.Fatalf("a second Open took a live process's job: %s", got.State)
	}
	b.Close()
	a.Close()

	// Nobody has the file open: a is dead.
	c := open(t, path)
	got, _ := c.Get(ctx, j.ID)
	if got.State != delivery.StateQueued || got.Attempts != 1 || got.Interrupts != 1 ||
		got.LastError != delivery.InterruptedBefore+a.owner+delivery.InterruptedAfter {
		t.Errorf("after restart: %s, %d attempts (%d interrupted), %q; want queued, 1, 1, interrupted by %s",
			got.State, got.Attempts, got.Interrupts, got.LastError, a.owner)
	}
}

// A file of schema 2 keeps its jobs and threads: a job sent once before
// gets its first claim time at its next claim, and groups start threads.
func TestMigrateFromVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for _, q := range []string{migrations[0], migrations[1], "PRAGMA user_version = 2",
		fmt.Sprintf(`INSERT INTO jobs (id, kind, address, text, state, attempts, claims, next_attempt_at, created_at, thread_key, dedupe_key)
			VALUES ('retrying', 'alert', 'slack:#ops', 'resolved', 'queued', 1, 1, 0, %d, 'fp', 'fp/resolved')`, now),
		fmt.Sprintf("INSERT INTO threads VALUES ('fp', 'slack:#ops', 'ts1', 'C1', %d)", now),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	storetest.CheckMigrated(t, open(t, path))
}
