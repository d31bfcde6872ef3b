package server

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/secret"
)

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8081": true, "127.0.0.1": true, "127.8.9.10:1": true, "[::1]:8081": true, "::1": true,
		"localhost": true, "LOCALHOST:8081": true, "localhost.:8081": true,
		"": false, "0.0.0.0:8081": false, "10.0.0.1:8081": false, "panelcast.example.com:8081": false,
		"localhost.example.com": false, "127.0.0.1.nip.io:8081": false, "[::ffff:10.0.0.1]:80": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// sessionAccess checks sessions of token, with signed-out sessions kept in
// an outbox of its own.
func sessionAccess(tb testing.TB, token string) *access {
	tb.Helper()
	o, err := sqlite.Open(filepath.Join(tb.TempDir(), "outbox.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { o.Close() })
	c := config.Default()
	c.APITokens = secret.List(token)
	return newAccess(c, o)
}

func withSession(value string) *http.Request {
	r := httptest.NewRequest("GET", "/api/outbox", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	return r
}

// An expired session, or one whose parts were changed, is refused.
func TestSessionTampering(t *testing.T) {
	a := sessionAccess(t, "tamper-token-0123456789")
	c, err := a.signIn("tamper-token-0123456789", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.session(withSession(c.Value)); err != nil {
		t.Fatalf("a fresh session is refused: %v", err)
	}
	parts := strings.Split(c.Value, ".")
	past := "v1." + strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10) + "." + parts[2]
	later := "v1." + strconv.FormatInt(time.Now().Add(48*time.Hour).Unix(), 10) + "." + parts[2]
	for name, v := range map[string]string{
		"expired":         past + "." + a.sign(0, past),
		"extended":        later + "." + parts[3],
		"other id":        "v1." + parts[1] + ".00" + parts[2][2:] + "." + parts[3],
		"other version":   "v2." + parts[1] + "." + parts[2] + "." + a.sign(0, "v2."+parts[1]+"."+parts[2]),
		"no mac":          parts[0] + "." + parts[1] + "." + parts[2],
		"mac of nothing":  "." + a.sign(0, ""),
		"another token's": c.Value[:len(c.Value)-64] + sessionAccess(t, "x").sign(0, strings.Join(parts[:3], ".")),
	} {
		if _, _, err := a.session(withSession(v)); !errors.Is(err, errNoSession) {
			t.Errorf("%s session %q: %v; want it refused", name, v, err)
		}
	}
}

// No cookie value but one signIn made is a session. The token is new in
// every process (a session is valid wherever its token is), so the seeds
// the fuzzing coordinator made are forgeries to its workers.
func FuzzSessionCookie(f *testing.F) {
	token := rand.Text()
	a := sessionAccess(f, token)
	c, _ := a.signIn(token, false)
	for _, seed := range []string{c.Value, "", ".", "v1...", "v1.99999999999.x.y", c.Value + "0", strings.ToUpper(c.Value)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if v == c.Value {
			return
		}
		if id, _, err := a.session(withSession(v)); !errors.Is(err, errNoSession) {
			t.Fatalf("forged session %q: %q, %v; want it refused", v, id, err)
		}
	})
}
