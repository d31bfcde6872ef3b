// Package svg makes uploaded SVG images safe to show: what Grafana asks a
// renderer's Sanitize RPC for. The sanitising is bluemonday's, with an
// allowlist like the DOMPurify settings Grafana asks for (its svg and
// svgFilters profiles plus <use>, no use of other documents): scripts,
// event handlers, <style>, <foreignObject>, animations and every reference
// to another document (href, xlink:href and url(...) that are not
// #fragments of the image itself, except data: pictures in <image>) are
// removed.
//
// bluemonday reads HTML and SVG is XML, so the image is read as XML first
// (encoding/xml: namespaces, CDATA, entities, self-closing tags) and
// written out in a form HTML's tokenizer reads the same way: only SVG
// elements, each with an end tag, no raw-text elements (<script>, <style>)
// that would swallow what follows. After bluemonday a last pass restores
// SVG's case-sensitive names (viewBox, linearGradient) and writes
// well-formed XML.
package svg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// MaxBytes bounds an image; Grafana's gRPC messages are at most 4 MiB.
const MaxBytes = 4 << 20

// maxDepth bounds the nesting, which also keeps matching end tags linear.
const maxDepth = 512

// elements are the SVG elements kept, in SVG's own case.
var elements = []string{
	"svg", "g", "defs", "symbol", "use", "switch", "a", "title", "desc", "metadata", "view",
	"circle", "ellipse", "line", "path", "polygon", "polyline", "rect",
	"text", "tspan", "textPath", "image",
	"linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker",
	"filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
	"feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood",
	"feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feImage", "feMerge", "feMergeNode",
	"feMorphology", "feOffset", "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
}

// attributes are kept on any kept element, in SVG's own case. Event
// handlers (on*) and animation timing are not among them.
var attributes = []string{
	"id", "class", "style", "lang", "xml:lang", "xml:space", "version", "transform", "transform-origin",
	"viewBox", "preserveAspectRatio", "width", "height", "x", "y", "x1", "x2", "y1", "y2",
	"cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "d", "points", "pathLength",
	"dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset", "method", "spacing", "side",
	"alignment-baseline", "baseline-shift", "clip", "clip-path", "clip-rule", "color", "color-interpolation",
	"color-interpolation-filters", "color-rendering", "direction", "display", "dominant-baseline",
	"fill", "fill-opacity", "fill-rule", "filter", "flood-color", "flood-opacity", "font", "font-family",
	"font-size", "font-size-adjust", "font-stretch", "font-style", "font-variant", "font-weight",
	"image-rendering", "letter-spacing", "lighting-color", "marker", "marker-start", "marker-mid",
	"marker-end", "mask", "mask-type", "opacity", "overflow", "paint-order", "shape-rendering",
	"stop-color", "stop-opacity", "stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
	"stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width", "text-anchor",
	"text-decoration", "text-rendering", "unicode-bidi", "vector-effect", "visibility", "word-spacing",
	"writing-mode",
	"gradientUnits", "gradientTransform", "spreadMethod", "offset", "patternUnits", "patternContentUnits",
	"patternTransform", "clipPathUnits", "maskUnits", "maskContentUnits", "markerUnits", "markerWidth",
	"markerHeight", "refX", "refY", "orient",
	"filterUnits", "primitiveUnits", "in", "in2", "result", "mode", "type", "values", "tableValues",
	"slope", "intercept", "amplitude", "exponent", "operator", "k1", "k2", "k3", "k4", "order",
	"kernelMatrix", "divisor", "bias", "targetX", "targetY", "edgeMode", "kernelUnitLength",
	"preserveAlpha", "surfaceScale", "diffuseConstant", "specularConstant", "specularExponent", "scale",
	"xChannelSelector", "yChannelSelector", "azimuth", "elevation", "pointsAtX", "pointsAtY", "pointsAtZ",
	"limitingConeAngle", "stdDeviation", "radius", "baseFrequency", "numOctaves", "seed", "stitchTiles",
}

var (
	// fragment is a reference into the image itself.
	fragment = regexp.MustCompile(`^\s*#[^\s"'<>]*\s*$`)
	// dataPicture is an embedded raster picture, which <image> may show.
	dataPicture = regexp.MustCompile(`^\s*data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$`)
	// urlRef finds url(...) references in presentation attributes and
	// styles; only url(#fragment) stays.
	urlRef      = regexp.MustCompile(`(?i)url\s*\(\s*(['"]?)\s*([^'")]*)`)
	policy      = newPolicy()
	canonical   = map[string]string{}
	errNoSVG    = errors.New("the file is not an SVG image: its first element is not <svg>")
	errTooLarge = fmt.Errorf("the SVG image is larger than %d MiB", MaxBytes>>20)
	errTooDeep  = fmt.Errorf("the SVG image nests elements deeper than %d levels", maxDepth)
)

func init() {
	for _, n := range append(append([]string{"xmlns", "xmlns:xlink", "href", "xlink:href"}, elements...), attributes...) {
		canonical[strings.ToLower(n)] = n
	}
}

func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	lower := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = strings.ToLower(n)
		}
		return out
	}
	els := lower(elements)
	p.AllowElements(els...)
	p.AllowNoAttrs().OnElements(els...)
	p.AllowAttrs(lower(attributes)...).Globally()
	// Only the SVG and XLink namespaces: another default namespace would
	// turn the elements into something else, XHTML for one.
	p.AllowAttrs("xmlns").Matching(regexp.MustCompile(`^http://www\.w3\.org/2000/svg$`)).Globally()
	p.AllowAttrs("xmlns:xlink").Matching(regexp.MustCompile(`^http://www\.w3\.org/1999/xlink$`)).Globally()
	p.AllowAttrs("href", "xlink:href").Matching(fragment).Globally()
	p.AllowAttrs("href", "xlink:href").Matching(dataPicture).OnElements("image", "feimage")
	// A title is text; bluemonday drops an HTML title's content by default.
	p.AllowElementsContent("title")
	return p
}

// Sanitize returns content with everything unsafe removed, as a standalone
// SVG document: one <svg> root, every element closed, nothing outside it
// (the XML declaration, doctype and comments are dropped).
func Sanitize(content []byte) ([]byte, error) {
	if len(content) > MaxBytes {
		return nil, errTooLarge
	}
	plain, err := normalize(content)
	if err != nil {
		return nil, err
	}
	return restore(policy.SanitizeBytes(plain))
}

// restore writes bluemonday's HTML as the SVG document: SVG's names, one
// root, every element closed (an element without content as <x/>), no
// url(...) to another document. normalize already balanced the tags; an
// end tag that closes nothing open is dropped all the same.
func restore(clean []byte) ([]byte, error) {
	var r restorer
	z := html.NewTokenizer(bytes.NewReader(clean))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the SVG image cannot be read: %w", err)
			}
			break
		}
		t := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if err := r.start(t, tt == html.SelfClosingTagToken); err != nil {
				return nil, err
			}
		case html.EndTagToken:
			r.end(t)
		case html.TextToken:
			r.text(t)
		}
	}
	if !r.rooted {
		return nil, errNoSVG
	}
	r.flush()
	for i := len(r.open) - 1; i >= 0; i-- {
		r.out.WriteString("</" + r.open[i] + ">")
	}
	return r.out.Bytes(), nil
}

// restorer is what restore knows between tokens.
type restorer struct {
	out     bytes.Buffer
	open    []string // elements not closed yet, the root first
	pending string   // the last start tag, "<x a=..." without ">" yet
	rooted  bool     // the root <svg> has been read
}

// flush ends the pending start tag with ">": its element has content.
func (r *restorer) flush() {
	if r.pending != "" {
		r.out.WriteString(r.pending + ">")
		r.pending = ""
	}
}

// start writes a start tag with SVG's name and only safe attributes, held
// pending until it is known whether the element has content. What follows
// the root is dropped.
func (r *restorer) start(t html.Token, selfClosing bool) error {
	if !r.rooted {
		if t.Data != "svg" {
			return errNoSVG
		}
		r.rooted = true
	} else if len(r.open) == 0 {
		return nil // after the root
	}
	r.flush()
	t.Type, t.Data, t.Attr = html.StartTagToken, name(t.Data), safeAttrs(t.Attr)
	tag := t.String()
	if selfClosing {
		r.out.WriteString(tag[:len(tag)-1] + "/>")
		return nil
	}
	if r.open = append(r.open, t.Data); len(r.open) > maxDepth {
		return errTooDeep
	}
	r.pending = tag[:len(tag)-1]
	return nil
}

// end closes the innermost open element of t's name and those still open
// inside it; an element without content becomes <x/>.
func (r *restorer) end(t html.Token) {
	i := len(r.open) - 1
	for i >= 0 && r.open[i] != name(t.Data) {
		i--
	}
	if i < 0 {
		return
	}
	if r.pending != "" && i == len(r.open)-1 {
		r.out.WriteString(r.pending + "/>")
		r.pending, r.open = "", r.open[:i]
		return
	}
	r.flush()
	for len(r.open) > i {
		r.out.WriteString("</" + r.open[len(r.open)-1] + ">")
		r.open = r.open[:len(r.open)-1]
	}
}

func (r *restorer) text(t html.Token) {
	if len(r.open) > 0 { // XML has no text outside the root
		r.flush()
		r.out.WriteString(t.String())
	}
}

const (
	nsSVG   = "http://www.w3.org/2000/svg"
	nsXLink = "http://www.w3.org/1999/xlink"
	nsXML   = "http://www.w3.org/XML/1998/namespace"
)

// rawText are elements whose content HTML's tokenizer reads as text up to
// their end tag; none is kept, so they go with all they hold.
var rawText = map[string]bool{"script": true, "style": true, "textarea": true, "xmp": true, "iframe": true,
	"noembed": true, "noframes": true, "noscript": true, "plaintext": true}

// normalize reads content as XML and writes its SVG elements back as
// HTML's tokenizer will read them: the root first with the SVG and XLink
// namespaces, every element with an end tag, attributes of no namespace,
// xlink: or xml: only, text escaped, a <title> as text alone; comments,
// processing instructions and the doctype (and with it any entity it
// declares) are dropped.
func normalize(content []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(content))
	// Lenient, as image viewers are: missing end tags are invented and
	// unknown entities stay text.
	d.Strict = false
	d.Entity = xml.HTMLEntity
	d.CharsetReader = charset.NewReaderLabel
	var n normalizer
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the SVG image is not well-formed XML: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if err := n.start(tok); err != nil {
				return nil, err
			}
		case xml.EndElement:
			n.end(tok)
		case xml.CharData:
			n.text(tok)
		}
	}
	if !n.rooted {
		return nil, errNoSVG
	}
	return n.out.Bytes(), nil
}

// normalizer is what normalize knows between tokens.
type normalizer struct {
	out    bytes.Buffer
	depth  int  // open elements
	skip   int  // depth of the subtree being dropped; 0 for none
	title  int  // depth of the <title> written as text alone; 0 for none
	rooted bool // the root <svg> has been read
}

// start writes an element's start tag, or starts dropping its subtree
// when it is of another namespace or one HTML reads as raw text.
func (n *normalizer) start(tok xml.StartElement) error {
	n.depth++
	if n.depth > maxDepth {
		return errTooDeep
	}
	if n.skip > 0 || n.title > 0 {
		return nil
	}
	local := strings.ToLower(tok.Name.Local)
	if !n.rooted {
		if local != "svg" {
			return errNoSVG
		}
		n.rooted = true
	}
	if (tok.Name.Space != nsSVG && tok.Name.Space != "") || rawText[local] {
		n.skip = n.depth
		return nil
	}
	n.out.WriteString("<" + local)
	if n.depth == 1 {
		n.out.WriteString(` xmlns="` + nsSVG + `" xmlns:xlink="` + nsXLink + `"`)
	}
	n.attributes(tok.Attr)
	n.out.WriteString(">")
	if local == "title" {
		n.title = n.depth
	}
	return nil
}

// attributes writes those of no namespace, xlink: or xml:.
func (n *normalizer) attributes(attrs []xml.Attr) {
	for _, a := range attrs {
		key := a.Name.Local
		switch a.Name.Space {
		case "":
		case nsXLink, "xlink":
			key = "xlink:" + key
		case nsXML, "xml":
			key = "xml:" + key
		default:
			continue
		}
		if key == "xmlns" || strings.HasPrefix(key, "xmlns:") {
			continue // the root declares the two namespaces kept
		}
		n.out.WriteString(" " + key + `="`)
		_ = xml.EscapeText(&n.out, []byte(xmlChars(a.Value))) // into a bytes.Buffer: cannot fail
		n.out.WriteString(`"`)
	}
}

// end writes an end tag unless its element is dropped or inside a title.
func (n *normalizer) end(tok xml.EndElement) {
	if n.skip == n.depth {
		n.skip = 0
	} else if n.skip == 0 {
		if n.title == n.depth {
			n.title = 0
		}
		if n.title == 0 {
			n.out.WriteString("</" + strings.ToLower(tok.Name.Local) + ">")
		}
	}
	n.depth--
}

// text writes text, escaped, unless it is dropped or outside the root.
func (n *normalizer) text(tok xml.CharData) {
	if n.skip == 0 && n.depth > 0 {
		_ = xml.EscapeText(&n.out, []byte(xmlChars(string(tok))))
	}
}

// xmlChars is text as XML can hold it: valid UTF-8 without the control
// characters XML 1.0 forbids.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// name is an element's or attribute's SVG spelling.
func name(n string) string {
	if c, ok := canonical[n]; ok {
		return c
	}
	return n
}

// safeAttrs restores the names' case and drops attributes that refer to
// another document through url(...).
func safeAttrs(attrs []html.Attribute) []html.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if foreignURL(a.Val) {
			continue
		}
		a.Key = name(a.Key)
		out = append(out, a)
	}
	return out
}

// foreignURL reports a url(...) that is not a #fragment of the image.
func foreignURL(v string) bool {
	for _, m := range urlRef.FindAllStringSubmatch(v, -1) {
		if !strings.HasPrefix(strings.TrimSpace(m[2]), "#") {
			return true
		}
	}
	return false
}
