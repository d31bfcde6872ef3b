package svg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// hostile holds what a malicious upload tries, each with a harmless part
// that must survive.
const hostile = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg [<!ENTITY boom "boom">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     viewBox="0 0 100 50" width="100" height="50" onload="alert(1)" inkscape:version="1.3">
  <!-- a comment -->
  <title>CPU &amp; memory</title>
  <defs>
    <linearGradient id="grad" gradientUnits="userSpaceOnUse" x1="0" x2="100"><stop offset="0" stop-color="#73bf69"/></linearGradient>
    <style>@import url(https://evil.example/x.css); rect { fill: red }</style>
    <filter id="blur"><feGaussianBlur stdDeviation="2"/><feImage href="https://evil.example/track.png"/></filter>
  </defs>
  <script>alert(1)</script>
  <script><![CDATA[ alert(2) ]]></script>
  <path d="M0 0L100 50" fill="url(#grad)" stroke="url(https://evil.example/#x)" style="fill:url('https://evil.example/p.svg#a')"/>
  <use xlink:href="#grad"/>
  <use href="https://evil.example/sprite.svg#icon"/>
  <use xlink:href="javascript:alert(1)"/>
  <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>
  <image xlink:href="https://evil.example/x.png"/>
  <image href="data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+"/>
  <a href="javascript:alert(1)"><text x="1" y="20">load &lt;90%</text></a>
  <foreignObject><div xmlns="http://www.w3.org/1999/xhtml" onclick="alert(1)">html</div></foreignObject>
  <animate attributeName="href" to="javascript:alert(1)"/>
  <set attributeName="onmouseover" to="alert(1)"/>
  <rect width="5" height="5" onclick="alert(1)" onmouseover="alert(1)" filter="url( '#blur' )" ONLOAD="alert(1)"/>
  <g xmlns="http://www.w3.org/1999/xhtml"><circle r="2"/></g>
</svg>`

// element is what the sanitised document holds, read back as XML.
type element struct {
	name  xml.Name
	attrs []xml.Attr
}

// parse reads the sanitised document strictly as XML, as a browser reads
// an image/svg+xml file, and fails on anything that is not well formed.
func parse(t testing.TB, doc []byte) (els []element, text string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			els = append(els, element{tok.Name, tok.Attr})
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(tok)) > 0 {
				t.Fatalf("text outside the root: %q", tok)
			}
			text += string(tok)
		}
	}
	if roots != 1 || len(els) == 0 || els[0].name.Local != "svg" || els[0].name.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("want one <svg> root in the SVG namespace, got %d roots: %s", roots, doc)
	}
	return els, text
}

// unsafe says what, if anything, in an element could run script or fetch
// another document.
func unsafe(e element) string {
	switch strings.ToLower(e.name.Local) {
	case "script", "style", "foreignobject", "animate", "set", "animatemotion", "animatetransform", "iframe":
		return "element " + e.name.Local
	}
	if e.name.Space != "http://www.w3.org/2000/svg" {
		return "element in namespace " + e.name.Space
	}
	for _, a := range e.attrs {
		key := strings.ToLower(a.Name.Local)
		switch {
		case strings.HasPrefix(key, "on"):
			return "event handler " + a.Name.Local
		case key == "href" && !strings.HasPrefix(strings.TrimSpace(a.Value), "#") &&
			!strings.HasPrefix(strings.TrimSpace(a.Value), "data:image/png"):
			return "reference " + a.Value
		case foreignURL(a.Value):
			return "url() to another document: " + a.Value
		}
	}
	return ""
}

func TestSanitizeRemovesWhatIsUnsafe(t *testing.T) {
	out, err := Sanitize([]byte(hostile))
	if err != nil {
		t.Fatal(err)
	}
	els, text := parse(t, out)
	names := map[string]int{}
	for _, e := range els {
		if why := unsafe(e); why != "" {
			t.Errorf("kept %s in\n%s", why, out)
		}
		names[e.name.Local]++
	}
	// What is harmless stays, with SVG's case-sensitive names.
	for _, want := range []string{`viewBox="0 0 100 50"`, `<linearGradient id="grad" gradientUnits="userSpaceOnUse"`,
		`<feGaussianBlur stdDeviation="2"/>`, `fill="url(#grad)"`, `xlink:href="#grad"`, `filter="url( &#39;#blur&#39; )"`,
		`href="data:image/png;base64,iVBORw0KGgo="`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lost %s in\n%s", want, out)
		}
	}
	// The circle is inside a <g> of the XHTML namespace: not SVG, so gone.
	if names["path"] != 1 || names["rect"] != 1 || names["text"] != 1 || names["circle"] != 0 {
		t.Errorf("lost drawing elements: %v", names)
	}
	if !strings.Contains(text, "CPU & memory") || !strings.Contains(text, "load <90%") {
		t.Errorf("lost text: %q", text)
	}
	if strings.Contains(string(out), "boom") || strings.Contains(string(out), "alert") || strings.Contains(string(out), "evil.example") {
		t.Errorf("kept hostile content:\n%s", out)
	}
}

func TestSanitizeRefusals(t *testing.T) {
	for in, want := range map[string]error{
		"":                          errNoSVG,
		"just text":                 errNoSVG,
		"<script>alert(1)</script>": errNoSVG,
		"<svg" + strings.Repeat(" ", MaxBytes) + "/>":                            errTooLarge,
		"<svg>" + strings.Repeat("<g>", maxDepth) + strings.Repeat("</rect>", 9): errTooDeep,
	} {
		if _, err := Sanitize([]byte(in)); !errors.Is(err, want) {
			t.Errorf("Sanitize(%.30q) = %v, want %v", in, err, want)
		}
	}
}

// A missing end tag is invented, as image viewers do; what is not XML at
// all is refused, as a browser refuses to show it.
func TestSanitizeMalformed(t *testing.T) {
	out, err := Sanitize([]byte(`<svg><g><rect/></svg><svg/>after`))
	if err != nil {
		t.Fatal(err)
	}
	if els, _ := parse(t, out); len(els) != 3 {
		t.Errorf("%s: want svg, g and rect", out)
	}
	for _, in := range []string{`<svg></g></svg>`, `<svg><g><text>x</g></text></svg>`, `<svg><g>`, "<svg>&#0;</svg>"} {
		if _, err := Sanitize([]byte(in)); err == nil || !strings.Contains(err.Error(), "not well-formed XML") {
			t.Errorf("%s: %v", in, err)
		}
	}
	// Latin-1 declared in the XML declaration is read as such.
	out, err = Sanitize([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><svg><title>M\xfcnchen</title></svg>"))
	if _, text := parse(t, out); err != nil || text != "München" {
		t.Errorf("latin-1: %q %v", text, err)
	}
}

// Whatever comes in, what comes out is one well-formed SVG document with
// nothing that runs script or reaches another document.
func FuzzSanitize(f *testing.F) {
	f.Add(hostile)
	for _, s := range []string{`<svg xmlns="http://www.w3.org/2000/svg"><use href="//evil/x"/></svg>`,
		`<svg xmlns="http://www.w3.org/2000/svg" style="background:url(x)"><a xlink:href=" javascript:x"/></svg>`,
		`<svg xmlns="http://www.w3.org/2000/svg"><title><script>x</script></title></svg>`,
		`<svg xmlns="http://www.w3.org/2000/svg"><![CDATA[<script>]]></svg>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Sanitize([]byte(in))
		if err != nil {
			return
		}
		els, _ := parse(t, out)
		for _, e := range els {
			if why := unsafe(e); why != "" {
				t.Fatalf("kept %s from %q:\n%s", why, in, out)
			}
		}
	})
}
