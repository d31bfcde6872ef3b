package telegram

import (
	"strings"
	"unicode/utf8"
)

// Telegram's limits are "characters after entities parsing"; they are
// counted here in UTF-16 code units, Telegram's unit for entity offsets and
// never less than a count of code points, so a cut text fits either way.

const space = " \n\t"

// truncate shortens s to at most max units, ending with "…" when cut.
func truncate(s string, max int) string {
	head, _ := split(s, max)
	return head
}

// split returns a head of at most max units and the rest of s. A cut head
// ends with "…", at a word boundary when one is near.
func split(s string, max int) (head, rest string) {
	if utf16Len(s) <= max {
		return s, ""
	}
	i := cut(s, max-1) // room for "…"
	return strings.TrimRight(s[:i], space) + "…", strings.TrimLeft(s[i:], space)
}

// cut returns the byte length of the longest prefix of s within budget
// units, moved back to a word boundary within its last tenth.
func cut(s string, budget int) int {
	end, n := 0, 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > budget {
			break
		}
		n += w
		end += size
	}
	if i := strings.LastIndexAny(s[:end], space); i > 0 && i >= end-end/10 {
		return i
	}
	return end
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
