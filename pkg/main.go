// Command panelcast is Grafana's renderer plugin when Grafana starts it, and
// a command line (render, demo, version) when a person does.
package main

import (
	"os"

	"github.com/panelcast/panelcast/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Environ(), os.Stdout, os.Stderr))
}
