package docs

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/panelcast/panelcast/"

// imports maps each package under pkg/ (as "pkg/server") to what its
// non-test files import, module paths shortened the same way.
func imports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		pkg := filepath.ToSlash(rel)
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			out[pkg][strings.TrimPrefix(path, module)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// What architecture.md says of the import graph holds.
func TestDocsArchitectureHolds(t *testing.T) {
	g := imports(t)
	doors := []string{"pkg/plugin", "pkg/server", "pkg/app"}
	for pkg, ims := range g {
		for _, door := range doors {
			// Only pkg/cli wires the doors; no door imports another.
			if ims[door] && pkg != "pkg/cli" {
				t.Errorf("architecture.md says only pkg/cli imports the doors, but %s imports %s", pkg, door)
			}
		}
		if ims["github.com/go-rod/rod"] && pkg != "pkg/render" {
			t.Errorf("architecture.md says only pkg/render drives a browser, but %s imports go-rod", pkg)
		}
		if ims["pkg/pluginextensionv2"] && pkg != "pkg/plugin" {
			t.Errorf("architecture.md says only pkg/plugin uses pkg/pluginextensionv2, but %s does", pkg)
		}
	}
	for pkg, ims := range g {
		below := false
		for _, b := range []string{"pkg/service", "pkg/render", "pkg/delivery", "pkg/grafana", "pkg/chat/", "pkg/config", "pkg/alerttext"} {
			below = below || pkg == strings.TrimSuffix(b, "/") || strings.HasPrefix(pkg, strings.TrimSuffix(b, "/")+"/")
		}
		for _, door := range []string{"pkg/httpapi", "pkg/cli", "pkg/plugin", "pkg/server", "pkg/app"} {
			if below && ims[door] {
				t.Errorf("architecture.md says nothing below pkg/service imports a door, but %s imports %s", pkg, door)
			}
		}
	}
	for _, door := range append(doors, "pkg/httpapi") {
		if !g[door]["pkg/service"] {
			t.Errorf("architecture.md says %s calls pkg/service, but it does not import it", door)
		}
	}
}
