package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/panelcast/panelcast/pkg/config"
)

// printKeys lists every setting with its default, as a Markdown table: the
// README's table is this output, and operators can print it for the
// version they run.
func printKeys(w io.Writer) {
	def := config.Default()
	fmt.Fprintln(w, "| key | default | old image-renderer key | what |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, k := range config.Keys {
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
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", k.Name, d, old, strings.ReplaceAll(k.Help, "|", "\\|"))
	}
}
