package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/config"
)

const page = "../../docs/configuration.md"

// docs/configuration.md is what the generator writes, so a key added,
// renamed or given a new default is documented as the code has it.
func TestDocsConfigurationIsGenerated(t *testing.T) {
	got, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("%v: run make docs", err)
	}
	var want bytes.Buffer
	write(&want)
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("docs/configuration.md is not what tools/docgen writes from pkg/config's keys: run make docs\n%s", firstDifference(got, want.Bytes()))
	}
}

// The page names every key in each of its spellings, secrets marked.
func TestDocsConfigurationNamesEveryKey(t *testing.T) {
	var b bytes.Buffer
	write(&b)
	doc := b.String()
	for _, k := range config.Keys {
		up := strings.ToUpper(k.Name)
		for _, s := range []string{"| `" + k.Name + "` |", "`GF_PLUGIN_" + up + "`", "`PANELCAST_" + up + "`", "`--" + k.Name + "`"} {
			if !strings.Contains(doc, s) {
				t.Errorf("%s: the page lacks %s", k.Name, s)
			}
		}
	}
}

func TestFirstDifference(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"x\ny\n", "x\nz\n", "line 2"},
		{"x\n", "x\ny\n", "line 2"},
	} {
		if got := firstDifference([]byte(c.a), []byte(c.b)); !strings.Contains(got, c.want) {
			t.Errorf("firstDifference(%q, %q) = %q, want it to name %s", c.a, c.b, got, c.want)
		}
	}
}

// firstDifference names the first line where the file and the generator's
// output part, so the failure says what changed.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  file: " + gl + "\n  want: " + wl
		}
	}
	return ""
}
