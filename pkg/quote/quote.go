// Package quote makes outside text safe to quote back in an error or a log
// line: whatever a caller, a chat or a configuration file sent.
package quote

import (
	"strings"
	"unicode"
)

// MaxRunes is how much of a text Clip keeps.
const MaxRunes = 120

// Clip is s on one line, printable, at most MaxRunes characters ("…" marks
// a cut): control characters and broken UTF-8 become spaces.
func Clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > MaxRunes {
		s = string(r[:MaxRunes-1]) + "…"
	}
	return s
}

// HasControl reports whether s holds a control character (a line break, a
// NUL, an escape), which no name, id or time a caller gives may hold.
func HasControl(s string) bool { return strings.ContainsFunc(s, unicode.IsControl) }
