package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link of the pages leads to a file, and its #fragment to a
// heading of that page, so moving a section cannot leave a link dangling.
func TestDocsLinks(t *testing.T) {
	for _, p := range pages(t) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range brokenLinks(p, string(b)) {
			t.Errorf("%s: %s", p, bad)
		}
	}
}

func TestDocsLinksReportsBrokenOnes(t *testing.T) {
	page := "# A page\n\n## Who may push what (plugin mode)\n\n" +
		"[ok](#who-may-push-what-plugin-mode) [ok](console.md#the-api) [web](https://example.com/x.md)\n" +
		"[gone](nothing.md) [no heading](#nowhere) [no heading there](console.md#nowhere)\n"
	bad := brokenLinks("page.md", page)
	want := []string{"nothing.md", "#nowhere", "console.md#nowhere"}
	if len(bad) != len(want) {
		t.Fatalf("reported %q, want the three broken links %q", bad, want)
	}
	for i, w := range want {
		if !strings.Contains(bad[i], w) {
			t.Errorf("report %d = %q, want it to name %s", i, bad[i], w)
		}
	}
}

// brokenLinks names the relative links of page (a file at path) that lead
// nowhere.
func brokenLinks(path, page string) []string {
	var bad []string
	for _, m := range mdLink.FindAllStringSubmatch(page, -1) {
		link := m[1]
		if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
			continue
		}
		file, frag, _ := strings.Cut(link, "#")
		target, text := path, page
		if file != "" {
			target = filepath.Join(filepath.Dir(path), file)
			b, err := os.ReadFile(target)
			if err != nil {
				if _, serr := os.Stat(target); serr != nil {
					bad = append(bad, link+": no such file")
					continue
				}
			}
			text = string(b)
		}
		if frag != "" && strings.HasSuffix(target, ".md") && !headings(text)[frag] {
			bad = append(bad, link+": no such heading")
		}
	}
	return bad
}

// headings are a page's heading anchors as GitHub makes them: lower case,
// punctuation dropped, spaces as hyphens.
func headings(page string) map[string]bool {
	out := map[string]bool{}
	inFence := false
	for _, l := range strings.Split(page, "\n") {
		if fence.MatchString(l) {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(l, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}
