package postgres

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Every test gets its own database on one real PostgreSQL; each Store on it
// is another replica.
func TestContract(t *testing.T) {
	pg := pgtest.Shared(t)
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		url := pg.Database(t)
		return func(t *testing.T) delivery.Store { return open(t, url) }
	}, storetest.Options{SharedWake: true})
}

// Replicas that start at once on an empty database migrate it once.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := Open(context.Background(), url, Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := open(t, url)
	var versions, latest int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*), max(version) FROM panelcast_schema").Scan(&versions, &latest); err != nil {
		t.Fatal(err)
	}
	if versions != len(migrations) || latest != len(migrations) {
		t.Errorf("panelcast_schema has %d rows up to version %d; want %d", versions, latest, len(migrations))
	}
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO panelcast_schema (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), url, Options{}); err == nil || !strings.Contains(err.Error(), "newer Panelcast") {
		t.Errorf("Open of a newer schema: %v", err)
	}
}

// The password is in no error, location or log line, however it is given.
func TestPasswordNeverShown(t *testing.T) {
	pg := pgtest.Shared(t)
	url := pg.Database(t)
	var logs bytes.Buffer
	s, err := Open(context.Background(), url, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Contains(s.Location(), pg.Password()) || !strings.HasPrefix(s.Location(), "postgres://"+pgtest.User+"@127.0.0.1:") {
		t.Errorf("Location %q", s.Location())
	}

	wrong := strings.Replace(url, pg.Password(), "not-"+pg.Password(), 1)
	_, err = Open(context.Background(), wrong, Options{ConnectWait: time.Second})
	if err == nil || strings.Contains(err.Error(), pg.Password()) || !strings.Contains(err.Error(), "password") {
		t.Errorf("Open with a wrong password: %v", err)
	}
	inQuery := strings.Replace(url, ":"+pg.Password()+"@", "@", 1) + "&password=" + pg.Password()
	q, err := Open(context.Background(), inQuery, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if strings.Contains(q.Location(), pg.Password()) {
		t.Errorf("Location %q shows the password given as a parameter", q.Location())
	}
	// A database error (here: no such database) keeps the password out too.
	missing := strings.Replace(url, "/test", "/nosuch", 1)
	if _, err := Open(context.Background(), missing, Options{}); err == nil || strings.Contains(err.Error(), pg.Password()) {
		t.Errorf("Open of a missing database: %v", err)
	}
	if strings.Contains(logs.String(), pg.Password()) {
		t.Errorf("the logs show the password:\n%s", logs.String())
	}
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, location, err string }{
		{"postgres://u:secret@db:5432/panelcast?sslmode=require", "postgres://u@db:5432/panelcast?sslmode=require", ""},
		{"postgresql://u:p%40ss@db/x", "postgresql://u@db/x", ""},
		{"postgres://u@db/x?password=secret&sslmode=disable", "postgres://u@db/x?sslmode=disable", ""},
		{"postgres:///x?host=/run/postgresql", "postgres:///x?host=/run/postgresql", ""},
		{"host=db user=u password=secret", "", "not a URL such as postgres://"},
		{"mysql://u:secret@db/x", "", "not a URL such as postgres://"},
		{"postgres:secret@db", "", "not a URL such as postgres://"},
		{"postgres://u:sec ret@db/x", "", "not a URL such as postgres://"},
	} {
		loc, _, err := redact(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("redact(%q): %v; want %q without the password", c.in, err, c.err)
			}
			continue
		}
		if err != nil || loc != c.location {
			t.Errorf("redact(%q) = %q, %v; want %q", c.in, loc, err, c.location)
		}
	}
}

// Whatever outbox_url holds, neither the location nor the error shows its
// password.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"postgres://u:secret@db/x", "postgres://u@db/x?password=secret", "postgresql://:secret@/", "postgres://u:secret@db/x?password=secret&password=other"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, secrets, err := redact(raw)
		if err != nil {
			if !errors.Is(err, errNotURL) {
				t.Fatalf("redact(%q) = %v; want the fixed sentence, which never repeats the value", raw, err)
			}
			return
		}
		u, _ := neturl.Parse(raw)
		pws := u.Query()["password"]
		if pw, ok := u.User.Password(); ok {
			pws = append(pws, pw)
		}
		for _, pw := range pws {
			if pw == "" {
				continue
			}
			found := false
			for _, s := range secrets {
				found = found || s == pw
			}
			if !found {
				t.Fatalf("password %q of %q is not scrubbed from errors", pw, raw)
			}
		}
		lu, err := neturl.Parse(loc)
		if err != nil {
			t.Fatalf("location %q of %q does not parse: %v", loc, raw, err)
		}
		if _, has := lu.User.Password(); has || lu.Query().Has("password") {
			t.Fatalf("location %q of %q keeps a password", loc, raw)
		}
	})
}

// When the listening connection is cut (a database restart, a proxy), the
// store listens again and hears other replicas' jobs.
func TestListenReconnects(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	a, b := open(t, url), open(t, url)
	woken := make(chan struct{}, 64)
	defer a.Subscribe(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})()
	ctx := context.Background()
	listeners := func() (n int) {
		b.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE query = 'LISTEN `+notifyChannel+`' AND datname = current_database()`).Scan(&n)
		return n
	}
	waitListeners := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); listeners() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d stores listening; want %d", listeners(), want)
			}
		}
	}
	waitListeners(2)
	if _, err := b.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = 'LISTEN `+notifyChannel+`' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	waitListeners(0)
	waitListeners(2)
	// Reconnecting wakes the subscribers once; only b's job may wake a now.
	time.Sleep(200 * time.Millisecond)
	for len(woken) > 0 {
		<-woken
	}
	if _, _, err := b.Enqueue(ctx, delivery.Job{Kind: "push", Address: "slack:#ops"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("a did not hear b's job after its listening connection was cut")
	}
}

// A database of schema 1 keeps its jobs and threads: a job sent once before
// gets its first claim time at its next claim, and groups start threads.
func TestMigrateFromVersion1(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE panelcast_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
		migrations[0], "INSERT INTO panelcast_schema (version) VALUES (1)",
		`INSERT INTO panelcast_jobs (id, kind, address, text, state, attempts, claims, next_attempt_at, created_at, thread_key, dedupe_key)
			VALUES ('retrying', 'alert', 'slack:#ops', 'resolved', 'queued', 1, 1, now(), now(), 'fp', 'fp/resolved')`,
		"INSERT INTO panelcast_threads VALUES ('fp', 'slack:#ops', 'ts1', 'C1', now())",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx)

	storetest.CheckMigrated(t, open(t, url))
}
