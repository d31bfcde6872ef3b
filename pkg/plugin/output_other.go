//go:build !unix

package plugin

import "errors"

// writeOutput needs the Unix calls of output_unix.go; the renderer plugin
// ships for Linux only, and this build (Windows) is the app plugin's.
func writeOutput(string, []byte) error {
	return errors.New("the renderer plugin writes renders on Linux only: on Windows, run `panelcast serve` on a Linux host and make it Grafana's remote renderer")
}
