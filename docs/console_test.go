package docs

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// consoleSize is how console.md states the console's weight.
var consoleSize = regexp.MustCompile(`about (\d+) KB \((\d+) KB\s+gzipped`)

// console.md's figure for the console's weight is the built console's
// (pkg/console/dist, as build.json lists it), to the nearest KiB, plain
// and gzipped as pkg/console serves it; a rebuild that grows it must
// update the page.
func TestDocsConsoleSize(t *testing.T) {
	page, err := os.ReadFile("console.md")
	if err != nil {
		t.Fatal(err)
	}
	m := consoleSize.FindSubmatch(page)
	if m == nil {
		t.Fatalf("console.md does not say %q", consoleSize)
	}
	dist := filepath.Join(root, "pkg/console/dist")
	b, err := os.ReadFile(filepath.Join(dist, "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	var build struct{ Files map[string]int }
	if err := json.Unmarshal(b, &build); err != nil {
		t.Fatal(err)
	}
	var plain, zipped int
	for name := range build.Files {
		f, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = zw.Write(f)
		_ = zw.Close()
		plain, zipped = plain+len(f), zipped+z.Len()
	}
	for _, c := range []struct {
		what  string
		doc   []byte
		bytes int
	}{{"plain", m[1], plain}, {"gzipped", m[2], zipped}} {
		stated, _ := strconv.Atoi(string(c.doc))
		if want := int(math.Round(float64(c.bytes) / 1024)); stated != want {
			t.Errorf("console.md says %d KB %s; the built console is %d bytes, %d KB", stated, c.what, c.bytes, want)
		}
	}
}
