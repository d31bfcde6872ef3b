package chat

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitLines(t *testing.T) {
	text := "*CPU high* on web-1\n<https://grafana/d/abc|panel>\nvalue 97%"
	cases := []struct {
		max        int
		head, rest string
	}{
		{100, text, ""},
		{50, "*CPU high* on web-1\n<https://grafana/d/abc|panel>", "value 97%"},
		{30, "*CPU high* on web-1", "<https://grafana/d/abc|panel>\nvalue 97%"},
		// The last line break keeps too little: cut between words instead.
		{12, "*CPU high*…", "on web-1\n<https://grafana/d/abc|panel>\nvalue 97%"},
	}
	for _, c := range cases {
		head, rest := SplitLines(text, c.max)
		if head != c.head || rest != c.rest {
			t.Errorf("SplitLines(%d) = %q, %q; want %q, %q", c.max, head, rest, c.head, c.rest)
		}
	}
	if got := TruncateLines(text, 51); got != "*CPU high* on web-1\n<https://grafana/d/abc|panel>\n…" {
		t.Errorf("TruncateLines = %q", got)
	}
	if got := TruncateLines(text, 14); got != "*CPU high* on…" {
		t.Errorf("TruncateLines = %q", got)
	}
	if got := TruncateLines(text, 1000); got != text {
		t.Errorf("TruncateLines changed a text that fits: %q", got)
	}
}

func FuzzSplitLines(f *testing.F) {
	f.Add("a b\nc d\n\ne", 3)
	f.Add(strings.Repeat("**x** ", 50)+"\n"+strings.Repeat("😀", 30), 40)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 3 || max > 5000 {
			return
		}
		head, rest := SplitLines(s, max)
		if UTF16Len(head) > max {
			t.Fatalf("head %q has %d units, max %d", head, UTF16Len(head), max)
		}
		if UTF16Len(s) <= max && (head != s || rest != "") {
			t.Fatalf("split changed a text that fits: %q → %q + %q", s, head, rest)
		}
		if utf8.ValidString(s) && !(utf8.ValidString(head) && utf8.ValidString(rest)) {
			t.Fatalf("split broke UTF-8: %q + %q", head, rest)
		}
		if rest != "" {
			bare := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if bare(strings.TrimSuffix(head, "…")+rest) != bare(s) {
				t.Fatalf("split lost text: %q + %q from %q", head, rest, s)
			}
		}
		if got := TruncateLines(s, max); UTF16Len(got) > max {
			t.Fatalf("TruncateLines gave %d units, max %d", UTF16Len(got), max)
		}
	})
}

func TestCheckImages(t *testing.T) {
	png := Image{Data: []byte("png")}
	if err := CheckImages("discord", []Image{png, png}, 10); err != nil {
		t.Fatal(err)
	}
	var ce *Error
	err := CheckImages("mattermost", []Image{png, png, png}, 2)
	if !errors.As(err, &ce) || ce.Code != "too_many_images" || ce.Temporary ||
		ce.Hint != "the message has 3 pictures and Mattermost shows at most 2 in one message: send the others in another message." {
		t.Fatalf("got %v", err)
	}
	err = CheckImages("slack", []Image{png, {Filename: "mem.png"}}, 10)
	if !errors.As(err, &ce) || ce.Code != "empty_image" || !strings.Contains(ce.Hint, "picture 2 (mem.png)") {
		t.Fatalf("got %v", err)
	}
}
