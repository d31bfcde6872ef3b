package quote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	long := strings.Repeat("요", MaxRunes+5)
	for in, want := range map[string]string{
		"":                       "",
		"  plain  ":              "plain",
		"two\nlines\ttab\x00nul": "two lines tab nul",
		"bad \xff utf-8":         "bad   utf-8",
		long:                     strings.Repeat("요", MaxRunes-1) + "…",
		strings.Repeat("a", 120): strings.Repeat("a", 120),
	} {
		got := Clip(in)
		if got != want {
			t.Errorf("Clip(%q) = %q, want %q", in, got, want)
		}
		if !utf8.ValidString(got) || HasControl(got) || utf8.RuneCountInString(got) > MaxRunes {
			t.Errorf("Clip(%q) = %q is not one printable line of at most %d runes", in, got, MaxRunes)
		}
	}
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{"deploy-42": false, "요청 🔥": false, "a\nb": true, "\x1b[31m": true, "": false} {
		if got := HasControl(s); got != want {
			t.Errorf("HasControl(%q) = %v", s, got)
		}
	}
}
