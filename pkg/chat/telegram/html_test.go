package telegram

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func TestHTMLLen(t *testing.T) {
	cases := map[string]int{
		"plain":                5,
		"<b>bold</b> &amp; co": 9,
		`<a href="https://x/?a=1&amp;b=>">link</a>`: 4,
		"&lt;&gt;&quot;&amp;":                       4,
		"&#128512;&#x1F600;😀":                       6, // surrogate pairs
		"&nbsp; & &amp &#0; &#xZ":                   20,
		"<code>x</code>\n<i>y</i>":                  3,
		"a &lt b":                                   5,
	}
	for in, want := range cases {
		if got := htmlLen(in); got != want {
			t.Errorf("htmlLen(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSplitHTML(t *testing.T) {
	alert := "<b>🔥 FIRING</b> CPU high on <code>web-1</code>\n" +
		`<a href="https://grafana/d/abc?var-host=web-1&amp;from=now-1h">Panel</a> · <a href="https://am/silence">Silence</a>` + "\n" +
		"value <b>97%</b> &gt; 90%"
	cases := []struct {
		max        int
		head, rest string
		atLine     bool
	}{
		{200, alert, "", true},
		// Two whole lines fit; the line break is never inside a tag.
		{59, alert, "", true}, // 27 + 1 + 15 + 1 + 15
		{50, "<b>🔥 FIRING</b> CPU high on <code>web-1</code>\n" +
			`<a href="https://grafana/d/abc?var-host=web-1&amp;from=now-1h">Panel</a> · <a href="https://am/silence">Silence</a>`,
			"value <b>97%</b> &gt; 90%", true},
		{40, "<b>🔥 FIRING</b> CPU high on <code>web-1</code>",
			`<a href="https://grafana/d/abc?var-host=web-1&amp;from=now-1h">Panel</a> · <a href="https://am/silence">Silence</a>` + "\nvalue <b>97%</b> &gt; 90%", true},
		// A line longer than max is cut between words, closing and
		// reopening the tags open at the cut.
		{14, "<b>🔥 FIRING</b> CPU…", "high on <code>web-1</code>\n" +
			`<a href="https://grafana/d/abc?var-host=web-1&amp;from=now-1h">Panel</a> · <a href="https://am/silence">Silence</a>` + "\nvalue <b>97%</b> &gt; 90%", false},
		{6, "<b>🔥 FI…</b>", "<b>RING</b> CPU high on <code>web-1</code>\n" +
			`<a href="https://grafana/d/abc?var-host=web-1&amp;from=now-1h">Panel</a> · <a href="https://am/silence">Silence</a>` + "\nvalue <b>97%</b> &gt; 90%", false},
	}
	for _, c := range cases {
		head, rest, atLine := splitHTML(alert, c.max)
		if head != c.head || rest != c.rest || atLine != c.atLine {
			t.Errorf("splitHTML(%d) =\n%q\n%q %v\nwant\n%q\n%q %v", c.max, head, rest, atLine, c.head, c.rest, c.atLine)
		}
	}
	// An entity is never cut: "&amp;" is one character.
	if head, rest, _ := splitHTML("ab&amp;cd", 4); head != "ab&amp;…" || rest != "cd" {
		t.Errorf("entity cut: %q %q", head, rest)
	}
	if got := truncateHTML(alert, 42); got != "<b>🔥 FIRING</b> CPU high on <code>web-1</code>\n…" {
		t.Errorf("truncateHTML = %q", got)
	}
	if got := truncateHTML(alert, 8); got != "<b>🔥 FIRI…</b>" {
		t.Errorf("truncateHTML = %q", got)
	}
}

// The oracle below reads only what alertHTML writes: tags without ">" in
// their attributes and the entities it uses. It is independent of the
// tokenizer under test.
var (
	tagRE    = regexp.MustCompile(`<(/?)([a-z]+)[^>]*>`)
	entityRE = regexp.MustCompile(`&(lt|gt|amp|quot|#[0-9]+|#x[0-9A-Fa-f]+);`)
)

// plain is what s shows.
func plain(s string) string {
	s = tagRE.ReplaceAllString(s, "")
	return entityRE.ReplaceAllStringFunc(s, html.UnescapeString)
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// balanced reports whether every tag of s is closed, in order.
func balanced(s string) bool {
	var stack []string
	for _, m := range tagRE.FindAllStringSubmatch(s, -1) {
		if m[1] == "" {
			stack = append(stack, m[2])
			continue
		}
		if len(stack) == 0 || stack[len(stack)-1] != m[2] {
			return false
		}
		stack = stack[:len(stack)-1]
	}
	return len(stack) == 0
}

// alertHTML builds Telegram HTML from fuzz bytes the way alert templates
// write it: words, entities, emoji and tags, every line balanced.
func alertHTML(seed []byte) string {
	var b strings.Builder
	var open []string
	closeAll := func() {
		for len(open) > 0 {
			b.WriteString("</" + open[len(open)-1] + ">")
			open = open[:len(open)-1]
		}
	}
	words := []string{"CPU", "web-1", "high", "値", "경고", "😀", "a&b", "x"}
	for i, c := range seed {
		switch c % 9 {
		case 0, 1:
			b.WriteString(strings.Repeat(words[int(c/9)%len(words)], 1+int(c)%4))
		case 2:
			b.WriteString(" ")
		case 3:
			closeAll()
			b.WriteString("\n")
		case 4:
			if len(open) < 3 {
				tag := []string{"b", "i", "code", "a", "u", "s"}[i%6]
				if tag == "a" {
					b.WriteString(`<a href="https://g/d?x=1&amp;y=2">`)
				} else {
					b.WriteString("<" + tag + ">")
				}
				open = append(open, tag)
			}
		case 5:
			if len(open) > 0 {
				b.WriteString("</" + open[len(open)-1] + ">")
				open = open[:len(open)-1]
			}
		case 6:
			b.WriteString([]string{"&amp;", "&lt;", "&gt;", "&quot;", "&#128512;", "&#x41;"}[i%6])
		case 7:
			b.WriteString("& ")
		case 8:
			b.WriteString(strings.Repeat("long", int(c)%40))
		}
	}
	closeAll()
	return b.String()
}

func FuzzSplitHTML(f *testing.F) {
	f.Add([]byte("\x00\x02\x04\x00\x05\x03\x06\x02\x07\x08"), 10)
	f.Add([]byte(strings.Repeat("\x04\x00\x02\x01\x05\x03", 30)), 50)
	f.Add([]byte("\x04\x04\x04\x08\x08\x08\x08\x08"), 7)
	f.Fuzz(func(t *testing.T, seed []byte, max int) {
		if max < 3 || max > 5000 {
			return
		}
		s := alertHTML(seed)
		head, rest, atLine := splitHTML(s, max)
		if n := utf16Len(plain(head)); n > max {
			t.Fatalf("head shows %d units, max %d: %q", n, max, head)
		}
		if htmlLen(s) <= max {
			if head != s || rest != "" {
				t.Fatalf("a text that fits was split: %q → %q + %q", s, head, rest)
			}
			return
		}
		if !balanced(head) || !balanced(rest) {
			t.Fatalf("unbalanced tags:\n%q\n%q\nfrom %q", head, rest, s)
		}
		bare := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if bare(strings.Replace(plain(head), "…", "", 1)+plain(rest)) != bare(plain(s)) {
			t.Fatalf("text lost:\n%q\n%q\nfrom %q", head, rest, s)
		}
		if atLine && (!strings.HasPrefix(s, head) || !strings.HasSuffix(s, rest) || strings.TrimSpace(s[len(head):len(s)-len(rest)]) != "") {
			t.Fatalf("a line cut changed the text:\n%q\n%q\nfrom %q", head, rest, s)
		}
		if got := truncateHTML(s, max); utf16Len(plain(got)) > max || !balanced(got) {
			t.Fatalf("truncateHTML(%d) = %q", max, got)
		}
	})
}

// FuzzSplitHTMLAnyInput feeds arbitrary text, well-formed or not: the cut
// always fits and never breaks UTF-8.
func FuzzSplitHTMLAnyInput(f *testing.F) {
	f.Add(`<a href="x>y">z</a> &amp &#99999999; <b`, 5)
	f.Add("<<<>>>&&&;;;\n\n", 2)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 3 || max > 5000 {
			return
		}
		head, rest, _ := splitHTML(s, max)
		if n := htmlLen(head); n > max {
			t.Fatalf("head shows %d units, max %d: %q", n, max, head)
		}
		if utf8.ValidString(s) && !(utf8.ValidString(head) && utf8.ValidString(rest)) {
			t.Fatalf("split broke UTF-8: %q + %q", head, rest)
		}
		if htmlLen(s) > max && len(rest) == 0 && len(head) == len(s) {
			t.Fatalf("nothing was cut from %q", s)
		}
	})
}
