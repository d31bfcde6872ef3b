// Command docgen writes docs/configuration.md from pkg/config's key table,
// so the documented keys, defaults and spellings are the code's:
//
//	go run ./tools/docgen -out docs/configuration.md   (make docs)
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/panelcast/panelcast/pkg/config"
)

func main() {
	out := flag.String("out", "docs/configuration.md", "file to write")
	flag.Parse()
	var b bytes.Buffer
	write(&b)
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

// write is the whole page: the prose that does not change with a key, the
// table of keys, and every spelling of each key.
func write(w io.Writer) {
	fmt.Fprint(w, head)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The old image renderer's keys that mean nothing here are accepted and ignored: `%s`.\n\n",
		strings.Join(config.IgnoredOldKeys(), "`, `"))
	fmt.Fprint(w, "## Keys\n\n")
	config.WriteTable(w)
	fmt.Fprint(w, spellingsHead)
	fmt.Fprintln(w, "| key | grafana.ini `[plugin.panelcast-renderer]` | plugin environment | `panelcast serve`, `render`, `push` |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, k := range config.Keys {
		up := strings.ToUpper(k.Name)
		flags := "`--" + k.Name + "`"
		if dashed := strings.ReplaceAll(k.Name, "_", "-"); dashed != k.Name {
			flags += ", `--" + dashed + "`"
		}
		fmt.Fprintf(w, "| `%s` | `%s = …` | `GF_PLUGIN_%s` | %s, `PANELCAST_%s` |\n", k.Name, k.Name, up, flags, up)
	}
}

// The prose around the tables, kept as Markdown so it reads as the page.
var (
	//go:embed head.md
	head string
	//go:embed spellings.md
	spellingsHead string
)
