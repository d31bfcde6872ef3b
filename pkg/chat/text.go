package chat

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxRetryAfter caps a server-given wait so a hostile or broken answer
// cannot park a delivery for ever (or overflow a Duration).
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads the wait a provider asked for: seconds from its error
// body (fractions allowed, more precise) when positive, else the
// Retry-After header in seconds. It returns 0 when neither says, caps the
// wait at MaxRetryAfter and rounds to the millisecond (so 64.57 s stays
// exact).
func RetryAfter(seconds float64, header string) time.Duration {
	sec := seconds
	if !(sec > 0) {
		if v, err := strconv.ParseFloat(strings.TrimSpace(header), 64); err == nil {
			sec = v
		}
	}
	if !(sec > 0) || math.IsInf(sec, 0) {
		return 0
	}
	if sec >= MaxRetryAfter.Seconds() {
		return MaxRetryAfter
	}
	return time.Duration(math.Round(sec*1000)) * time.Millisecond
}

// Texts are measured in UTF-16 code units: never fewer than code points,
// so a text cut to a provider's limit fits whichever of the two it counts.

const space = " \n\t"

// UTF16Len is the length of s in UTF-16 code units.
func UTF16Len(s string) int {
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

// Truncate shortens s to at most max UTF-16 units, ending with "…" when
// cut.
func Truncate(s string, max int) string {
	head, _ := Split(s, max)
	return head
}

// Split returns a head of s of at most max UTF-16 units and the rest. A cut
// head ends with "…", at a word boundary when one is near; the rest starts
// after the spaces at the cut.
func Split(s string, max int) (head, rest string) {
	if UTF16Len(s) <= max {
		return s, ""
	}
	i := cut(s, max-1) // room for "…"
	return strings.TrimRight(s[:i], space) + "…", strings.TrimLeft(s[i:], space)
}

// cut returns the byte length of the longest prefix of s within budget
// units, moved back to a word boundary within its last tenth, which keeps
// words whole without throwing away much text.
func cut(s string, budget int) int {
	end := prefix(s, budget)
	if i := strings.LastIndexAny(s[:end], space); i > 0 && i >= end-end/10 {
		return i
	}
	return end
}

// prefix returns the byte length of the longest prefix of s within budget
// UTF-16 units.
func prefix(s string, budget int) int {
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
	return end
}

// SplitLines is Split for markup: it cuts after the last line break that
// fits, so that markup kept within one line stays whole, and adds no "…".
// When that would keep less than half of max (a long line follows), it cuts
// within the line as Split does.
func SplitLines(s string, max int) (head, rest string) {
	if UTF16Len(s) <= max {
		return s, ""
	}
	// A line break right after the longest prefix that fits ends it too.
	end := min(prefix(s, max)+1, len(s))
	if i := strings.LastIndexByte(s[:end], '\n'); i > 0 && UTF16Len(s[:i]) >= max/2 {
		return strings.TrimRight(s[:i], space), strings.TrimLeft(s[i:], space)
	}
	return Split(s, max)
}

// TruncateLines shortens markup to at most max UTF-16 units with
// SplitLines, ending with a line "…" when it cuts at a line break (and as
// Truncate does when it cuts within a line).
func TruncateLines(s string, max int) string {
	if UTF16Len(s) <= max {
		return s
	}
	head, _ := SplitLines(s, max-2)
	if strings.HasSuffix(head, "…") {
		return Truncate(s, max)
	}
	return head + "\n…"
}
