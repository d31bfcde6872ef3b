package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The binary is pkg/... and what it imports: none of it may import the
// module's internal/ packages, which are test code (stand-ins, harnesses).
// Direct imports are enough: internal/ is importable only from inside the
// module, so without one from pkg/ none is linked.
func TestProductImportsNoInternal(t *testing.T) {
	const internal = "github.com/panelcast/panelcast/internal/"
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, internal) {
				t.Errorf("%s imports %s: product code must not depend on internal/ test code", filepath.Join("pkg", path), p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read %d Go files under pkg/, want the whole product", files)
	}
}
