package config

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteTable writes every key with its default as a Markdown table: what
// `panelcast keys` prints and what docs/configuration.md holds, so the
// defaults documented are the ones this build has.
func WriteTable(w io.Writer) {
	def := Default()
	fmt.Fprintln(w, "| key | default | secret | old image-renderer key | what |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, k := range Keys {
		d := def.Get(k.Name)
		if d == "" {
			d = "—"
		} else {
			d = "`" + d + "`"
		}
		old := "—"
		if len(k.Aliases) > 0 {
			old = "`" + strings.Join(k.Aliases, "`, `") + "`"
		}
		secret := ""
		if k.Secret {
			secret = "yes"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", k.Name, d, secret, old, strings.ReplaceAll(k.Help, "|", "\\|"))
	}
}

// IgnoredOldKeys are the old image renderer's keys that are accepted and
// ignored, sorted.
func IgnoredOldKeys() []string { return slices.Sorted(maps.Keys(ignoredOldKeys)) }
