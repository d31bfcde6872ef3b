package telegram

import (
	"strings"
	"unicode/utf8"
)

// Telegram's limits count the text "after entities parsing": what shows,
// without tags, with each entity (&lt;, &#128512;) as the character it
// stands for. The functions here read HTML as the Bot API does (TDLib's
// parse_html): "<" always opens a tag, which ends at ">" outside a quoted
// attribute value; "&" starts an entity only for &lt; &gt; &amp; &quot;
// and numeric references, else it is a plain "&".

// piece is one piece of an HTML text: a tag, or one visible character
// (a rune or an entity).
type piece struct {
	end   int // byte offset just past the token
	width int // UTF-16 units it shows as; 0 for tags
	// For tags: the lower-case name, and whether it closes.
	tag     string
	closing bool
	// space is true for a visible space, tab or line break.
	space, newline bool
}

// next reads the token of s that starts at i.
func next(s string, i int) piece {
	switch s[i] {
	case '<':
		j := i + 1
		closing := j < len(s) && s[j] == '/'
		if closing {
			j++
		}
		nameStart := j
		for j < len(s) && s[j] != '>' && !isSpace(s[j]) {
			j++
		}
		name := strings.ToLower(s[nameStart:j])
		for j < len(s) && s[j] != '>' {
			if q := s[j]; q == '"' || q == '\'' {
				if k := strings.IndexByte(s[j+1:], q); k >= 0 {
					j += k + 1
				} else {
					j = len(s) - 1
				}
			}
			j++
		}
		return piece{end: min(j+1, len(s)), tag: name, closing: closing}
	case '&':
		if end, code := entity(s, i); end > 0 {
			return piece{end: end, width: 1 + b2i(code > 0xffff)}
		}
		return piece{end: i + 1, width: 1}
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return piece{end: i + size, width: 1 + b2i(r >= 0x10000), space: r == ' ' || r == '\t' || r == '\n', newline: r == '\n'}
}

// entity decodes the character reference at s[i] ("&amp;", "&#x1F600;",
// the ";" optional) and returns where it ends and the code point, or 0, 0
// when it is not one Telegram decodes.
func entity(s string, i int) (end int, code rune) {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		base := rune(10)
		if j < len(s) && s[j] == 'x' {
			base = 16
			j++
		}
		start := j
		for j < len(s) && j-i < 10 {
			d := digit(s[j], base)
			if d < 0 {
				break
			}
			code = code*base + d
			j++
		}
		if j == start || code == 0 || code >= 0x10ffff || j-i >= 10 {
			return 0, 0
		}
	} else {
		start := j
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		switch s[start:j] {
		case "lt":
			code = '<'
		case "gt":
			code = '>'
		case "amp":
			code = '&'
		case "quot":
			code = '"'
		default:
			return 0, 0
		}
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	return j, code
}

func digit(c byte, base rune) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case base == 16 && c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case base == 16 && c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// htmlLen is how many UTF-16 units s shows as.
func htmlLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		t := next(s, i)
		n += t.width
		i = t.end
	}
	return n
}

// open is the stack of start tags not yet closed at some point of the
// text, as a list from the innermost, so that remembering it is free.
type open struct {
	name, raw string
	outer     *open
}

// splitHTML returns a head of s that shows at most max UTF-16 units and
// the rest, for messages in parse_mode HTML. It cuts after the last line
// break outside any tag that fits, and adds nothing (alert templates keep
// every tag within a line, so a line break is outside them). When that
// would keep less than half of max, it cuts within the line instead, at a
// space in the last tenth when there is one, never inside a tag or an
// entity: the head then ends with "…" and closes the tags open at the cut,
// and the rest opens them again. atLine says which cut it made.
func splitHTML(s string, max int) (head, rest string, atLine bool) {
	if htmlLen(s) <= max {
		return s, "", true
	}
	// Candidate cuts are token boundaries: at is the byte offset before a
	// token, shown what shows before it, tags the tags open there.
	type cut struct {
		at, shown int
		tags      *open
	}
	var (
		tags            *open
		shown           int
		line, hard, wrd = cut{at: -1}, cut{}, cut{at: -1}
	)
	for i := 0; i < len(s) && shown <= max; {
		t := next(s, i)
		if t.newline && tags == nil {
			line = cut{at: i, shown: shown}
		}
		if shown <= max-1 {
			hard = cut{at: i, shown: shown, tags: tags}
			if t.space {
				wrd = hard
			}
		}
		switch {
		case t.tag != "" && !t.closing:
			tags = &open{name: t.tag, raw: s[i:t.end], outer: tags}
		case t.tag != "" && tags != nil:
			tags = tags.outer
		}
		shown += t.width
		i = t.end
	}
	if line.at > 0 && line.shown >= max/2 {
		return strings.TrimRight(s[:line.at], space), strings.TrimLeft(s[line.at:], space), true
	}
	c := hard
	if wrd.at > 0 && wrd.shown >= hard.shown-hard.shown/10 {
		c = wrd
	}
	var h strings.Builder
	h.WriteString(strings.TrimRight(s[:c.at], space))
	h.WriteString("…")
	reopen := ""
	for o := c.tags; o != nil; o = o.outer {
		h.WriteString("</" + o.name + ">")
		reopen = o.raw + reopen
	}
	return h.String(), reopen + strings.TrimLeft(s[c.at:], space), false
}

// truncateHTML shortens s to show at most max UTF-16 units, ending with a
// line "…" when it cuts at a line break (with "…" where it cuts within a
// line).
func truncateHTML(s string, max int) string {
	if htmlLen(s) <= max {
		return s
	}
	if head, _, atLine := splitHTML(s, max-2); atLine {
		return head + "\n…"
	}
	head, _, _ := splitHTML(s, max)
	return head
}

const space = " \n\t\r"
