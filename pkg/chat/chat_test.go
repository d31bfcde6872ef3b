package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in       string
		provider string
		channel  string
		err      string
	}{
		{"slack:#ops", "slack", "#ops", ""},
		{" Slack : C0123 ", "slack", "C0123", ""},
		{"telegram:-100123/45", "telegram", "-100123/45", ""},
		{"mattermost:town-square", "mattermost", "town-square", ""},
		{"discord:123456:789", "discord", "123456:789", ""},
		{"#ops", "", "", "not provider:channel"},
		{":#ops", "", "", "not provider:channel"},
		{"slack:", "", "", "names no channel"},
		{"", "", "", "not provider:channel"},
	}
	for _, c := range cases {
		a, err := ParseAddress(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || a.Provider != c.provider || a.Channel != c.channel {
			t.Errorf("%q: got %+v, %v", c.in, a, err)
		}
		if back, err := ParseAddress(a.String()); err != nil || back != a {
			t.Errorf("%q does not round-trip: %+v %v", c.in, back, err)
		}
	}
}

func TestIsTemporary(t *testing.T) {
	if ok, _ := IsTemporary(nil); ok {
		t.Error("nil is not temporary")
	}
	if ok, _ := IsTemporary(errors.New("connection reset")); !ok {
		t.Error("a network error is temporary")
	}
	wrapped := errors.Join(errors.New("send"), &Error{Provider: "slack", Code: "ratelimited", Temporary: true, RetryAfter: 3 * time.Second})
	if ok, d := IsTemporary(wrapped); !ok || d != 3*time.Second {
		t.Errorf("rate limit: %v %v", ok, d)
	}
	if ok, _ := IsTemporary(&Error{Provider: "slack", Code: "not_in_channel"}); ok {
		t.Error("not_in_channel is permanent")
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"slack:#ops", "telegram:-100123/45", ":", "a:b:c", " x : y "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if a.Provider == "" || a.Channel == "" || a.Provider != strings.ToLower(a.Provider) {
			t.Fatalf("accepted %q as %+v", s, a)
		}
		if back, err := ParseAddress(a.String()); err != nil || back != a {
			t.Fatalf("%q does not round-trip: %+v %v", s, back, err)
		}
	})
}
