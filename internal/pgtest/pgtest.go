// Package pgtest starts a real PostgreSQL (Debian's postgresql package) for
// tests and benchmarks: a fresh cluster in a temporary directory, listening
// on a free loopback port only, with password authentication, stopped and
// removed again by Close. Only tests and tools import it.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir is where Debian's postgresql-15 puts initdb and postgres;
// PANELCAST_PG_BIN overrides it.
const BinDir = "/usr/lib/postgresql/15/bin"

// Options tune the cluster.
type Options struct {
	// Durable keeps PostgreSQL's defaults (fsync, synchronous commit), as a
	// production server has them; tests leave it off to run faster.
	Durable bool
}

// Server is a running PostgreSQL.
type Server struct {
	dir      string
	port     int
	password string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *bytes.Buffer
	dbs      atomic.Int64
}

// User is the cluster's superuser.
const User = "panelcast"

func binDir() string {
	if d := os.Getenv("PANELCAST_PG_BIN"); d != "" {
		return d
	}
	return BinDir
}

// Missing says why PostgreSQL cannot be started here, "" when it can.
func Missing() string {
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(binDir(), name)); err != nil {
			return fmt.Sprintf("PostgreSQL 15 is not installed (%s/%s missing): apt-get install postgresql, or set PANELCAST_PG_BIN", binDir(), name)
		}
	}
	return ""
}

// New starts a server for the test and stops it when the test ends. It
// skips the test when PostgreSQL is not installed, except in CI (CI set),
// where that is a failure.
func New(tb testing.TB) *Server {
	tb.Helper()
	need(tb)
	s, err := Start(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func need(tb testing.TB) {
	tb.Helper()
	if why := Missing(); why != "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI must have PostgreSQL: %s", why)
		}
		tb.Skip(why)
	}
}

var shared struct {
	mu  sync.Mutex
	s   *Server
	err error
}

// Shared is one server for all the tests of a package that calls Main from
// its TestMain: started by the first test that needs it, stopped when the
// tests end. Give each test its own Database. It skips as New does.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	need(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = Start(Options{})
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.s
}

// Main runs the package's tests, then stops the Shared server. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.s != nil {
		if err := shared.s.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// Start initialises a cluster in a temporary directory and starts it. As
// root, initdb and postgres run as the "postgres" system user (initdb
// refuses root).
func Start(opts Options) (*Server, error) {
	if why := Missing(); why != "" {
		return nil, errors.New(why)
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "panelcast-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, password: randomHex(16), log: &bytes.Buffer{}}
	if err := s.init(cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port found free may be taken before postgres binds it: try again.
	for try := 0; ; try++ {
		err = s.start(cred, opts)
		if err == nil {
			return s, nil
		}
		if try == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user for initdb (%v): install the postgresql package", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir(), name), args...)
	// The postmaster dies with the test binary, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	cmd.Dir = s.dir
	return cmd
}

func (s *Server) init(cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	cmd := s.command(cred, "initdb", "-D", filepath.Join(s.dir, "data"), "-U", User, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-E", "UTF8", "--no-instructions")
	out, err := cmd.CombinedOutput()
	os.Remove(pwfile)
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

func (s *Server) start(cred *syscall.Credential, opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	args := []string{"-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.log.Reset()
	cmd := s.command(cred, "postgres", args...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited while starting: %v\n%s", cmd.ProcessState, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("postgres did not accept connections within 30s: %v\n%s", err, s.log.String())
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// URL is a postgres:// URL for database db, with the superuser's password.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(User, s.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Password is the superuser's password, for tests that check it is never
// shown.
func (s *Server) Password() string { return s.password }

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("test%d", s.dbs.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// Database is NewDatabase for a test.
func (s *Server) Database(tb testing.TB) string {
	tb.Helper()
	u, err := s.NewDatabase(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// Close stops the server (fast shutdown: open sessions are ended) and
// removes its directory.
func (s *Server) Close() error {
	s.stop()
	return os.RemoveAll(s.dir)
}

func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}
