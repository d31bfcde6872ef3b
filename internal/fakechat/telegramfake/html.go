package telegramfake

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// parseHTML reads text in parse_mode HTML as the Bot API does (TDLib's
// parse_html) and returns what shows, or Telegram's error description
// (after "Bad Request: can't parse entities: "). "<" always opens a tag;
// only the tags below are supported, each closed in order; "&" starts an
// entity only for &lt; &gt; &amp; &quot; and numeric references.
func parseHTML(s string) (string, string) {
	var out strings.Builder
	var open []string
	for i := 0; i < len(s); {
		c := s[i]
		if c == '&' {
			if end, code := decodeEntity(s, i); end > 0 {
				out.WriteRune(code)
				i = end
				continue
			}
		}
		if c != '<' {
			out.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '/' {
			end, desc := endTag(s, i, open)
			if desc != "" {
				return "", desc
			}
			open = open[:len(open)-1]
			i = end
			continue
		}
		name, end, desc := startTag(s, i)
		if desc != "" {
			return "", desc
		}
		open = append(open, name)
		i = end
	}
	if len(open) > 0 {
		return "", fmt.Sprintf(`Can't find end tag corresponding to start tag "%s"`, open[len(open)-1])
	}
	if !utf8.ValidString(out.String()) {
		return "", "Strings must be encoded in UTF-8"
	}
	return out.String(), ""
}

// endTag reads the end tag at s[begin] ("</"), which must close the last
// of the open tags; a bare "</>" closes it whatever it is. end is just
// past its '>'.
func endTag(s string, begin int, open []string) (end int, desc string) {
	if len(open) == 0 {
		return 0, fmt.Sprintf("Unexpected end tag at byte offset %d", begin)
	}
	j := begin + 2
	for j < len(s) && !space(s[j]) && s[j] != '>' {
		j++
	}
	name := strings.ToLower(s[begin+2 : j])
	for j < len(s) && space(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '>' {
		return 0, fmt.Sprintf("Unclosed end tag at byte offset %d", begin)
	}
	if want := open[len(open)-1]; name != "" && name != want {
		return 0, fmt.Sprintf(`Unmatched end tag at byte offset %d, expected "</%s>", found "</%s>"`, begin, want, name)
	}
	return j + 1, ""
}

// startTag reads the start tag at s[begin] ('<'): a supported name, then
// attributes, of which only span's class matters. end is just past its
// '>'.
func startTag(s string, begin int) (name string, end int, desc string) {
	j := begin + 1
	for j < len(s) && !space(s[j]) && s[j] != '>' {
		j++
	}
	if j >= len(s) {
		return "", 0, fmt.Sprintf("Unclosed start tag at byte offset %d", begin)
	}
	name = strings.ToLower(s[begin+1 : j])
	if !supportedTags[name] {
		return "", 0, fmt.Sprintf(`Unsupported start tag "%s" at byte offset %d`, name, begin)
	}
	class, j, desc := attributes(s, j, name, begin)
	if desc != "" {
		return "", 0, desc
	}
	if j >= len(s) {
		return "", 0, fmt.Sprintf("Unclosed start tag at byte offset %d", begin)
	}
	if name == "span" && class != "tg-spoiler" {
		return "", 0, fmt.Sprintf(`Tag "span" must have class "tg-spoiler" at byte offset %d`, begin)
	}
	return name, j + 1, ""
}

// attributes reads the attributes of the start tag name (at begin) from
// s[j] up to its '>' or the end of s, and returns span's class. An
// attribute may have no value.
func attributes(s string, j int, name string, begin int) (class string, end int, desc string) {
	for j < len(s) && s[j] != '>' {
		for j < len(s) && space(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '>' {
			break
		}
		a := j
		for j < len(s) && !space(s[j]) && !strings.ContainsRune("=>/\"'", rune(s[j])) {
			j++
		}
		attr := s[a:j]
		if attr == "" {
			return "", 0, fmt.Sprintf(`Empty attribute name in the tag "%s" at byte offset %d`, name, begin)
		}
		for j < len(s) && space(s[j]) {
			j++
		}
		if j >= len(s) {
			return "", 0, fmt.Sprintf(`Unclosed start tag "%s" at byte offset %d`, name, begin)
		}
		if s[j] != '=' {
			continue
		}
		j++
		for j < len(s) && space(s[j]) {
			j++
		}
		if j >= len(s) {
			return "", 0, fmt.Sprintf(`Unclosed start tag "%s" at byte offset %d`, name, begin)
		}
		var value string
		if value, j, desc = attributeValue(s, j, begin); desc != "" {
			return "", 0, desc
		}
		if name == "span" && attr == "class" {
			class = value
		}
	}
	return class, j, ""
}

// attributeValue reads the value at s[j]: quoted as written, or a bare
// name token, lowercased.
func attributeValue(s string, j, begin int) (value string, end int, desc string) {
	if q := s[j]; q == '"' || q == '\'' {
		n := strings.IndexByte(s[j+1:], q)
		if n < 0 {
			return "", 0, fmt.Sprintf("Unclosed start tag at byte offset %d", begin)
		}
		return s[j+1 : j+1+n], j + n + 2, ""
	}
	v := j
	for j < len(s) && (isAlnum(s[j]) || s[j] == '.' || s[j] == '-') {
		j++
	}
	if j < len(s) && !space(s[j]) && s[j] != '>' {
		return "", 0, fmt.Sprintf("Unexpected end of name token at byte offset %d", v)
	}
	return strings.ToLower(s[v:j]), j, ""
}

var supportedTags = map[string]bool{
	"a": true, "b": true, "strong": true, "i": true, "em": true, "s": true, "strike": true, "del": true,
	"u": true, "ins": true, "tg-spoiler": true, "tg-emoji": true, "tg-time": true, "span": true,
	"pre": true, "code": true, "blockquote": true,
}

// decodeEntity reads the entity at s[i]; end is 0 when it is none.
func decodeEntity(s string, i int) (end int, code rune) {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		base := rune(10)
		if j < len(s) && s[j] == 'x' {
			base = 16
			j++
		}
		for j < len(s) {
			d := digitValue(s[j], base)
			if d < 0 {
				break
			}
			if code = code*base + d; code >= 0x10ffff {
				return 0, 0
			}
			j++
		}
		if code == 0 || j-i >= 10 {
			return 0, 0
		}
	} else {
		a := j
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
			j++
		}
		code = map[string]rune{"lt": '<', "gt": '>', "amp": '&', "quot": '"'}[s[a:j]]
		if code == 0 {
			return 0, 0
		}
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	return j, code
}

// digitValue is c's value as a digit in base, or -1.
func digitValue(c byte, base rune) rune {
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

func space(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
