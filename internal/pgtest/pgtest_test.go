package pgtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The server takes connections with the password only, on loopback, and
// every database it hands out is separate.
func TestServer(t *testing.T) {
	s := New(t)
	ctx := context.Background()
	a, b := s.Database(t), s.Database(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var version, addr string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version'), inet_server_addr()::text").Scan(&version, &addr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "15") || addr != "127.0.0.1/32" {
		t.Errorf("server %s on %s; want 15.x on 127.0.0.1", version, addr)
	}

	u, _ := url.Parse(a)
	u.User = url.UserPassword(User, "wrong")
	if c, err := pgx.Connect(ctx, u.String()); err == nil {
		c.Close(ctx)
		t.Error("a wrong password was accepted")
	}
}
