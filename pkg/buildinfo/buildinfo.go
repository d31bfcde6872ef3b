// Package buildinfo holds facts stamped into the binary at link time, and
// the version Grafana is told.
package buildinfo

import "github.com/Masterminds/semver/v3"

// Version is the Panelcast release. `make build` and the Magefile set it with
// -ldflags "-X github.com/panelcast/panelcast/pkg/buildinfo.Version=..."; a
// plain `go build` keeps this development default. Between tags it carries
// build details (4.0.0-3-gabc1234-dirty); Grafana is told GrafanaVersion.
var Version = "4.0.0"

// ProtocolFloor is the renderer version whose whole protocol Panelcast
// speaks (the 4.x plugin's: full height, scaling, SVG sanitising, PDF, CSV).
const ProtocolFloor = "4.0.0"

var floor = semver.MustParse(ProtocolFloor)

// GrafanaVersion is the version Grafana is told, in plugin.json info.version
// and by /render/version: release's MAJOR.MINOR.PATCH, never below
// ProtocolFloor. Grafana gates renderer features with semver constraints
// (full height and scaling >= 3.4.0, SVG sanitising >= 3.5.0, PDF >= 3.10.0)
// that no pre-release satisfies, so pre-release and build details are
// dropped, and a development build or a young release number must not turn
// those features off.
func GrafanaVersion(release string) string {
	v, err := Core(release)
	if err != nil || v.LessThan(floor) {
		return ProtocolFloor
	}
	return v.String()
}

// Core reads a release version (semver 2.0, an optional leading "v") and
// returns its MAJOR.MINOR.PATCH alone.
func Core(release string) (*semver.Version, error) {
	v, err := semver.StrictNewVersion(trimV(release))
	if err != nil {
		return nil, err
	}
	core := semver.New(v.Major(), v.Minor(), v.Patch(), "", "")
	return core, nil
}

func trimV(s string) string {
	if len(s) > 1 && s[0] == 'v' {
		return s[1:]
	}
	return s
}
