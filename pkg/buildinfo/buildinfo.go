// Package buildinfo holds facts stamped into the binary at link time.
package buildinfo

// Version is the Panelcast release. `make build` and the Magefile set it with
// -ldflags "-X github.com/panelcast/panelcast/pkg/buildinfo.Version=..."; a
// plain `go build` keeps this development default.
var Version = "4.0.0"
