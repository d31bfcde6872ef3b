package buildinfo

import (
	"testing"

	"github.com/Masterminds/semver/v3"
)

func TestGrafanaVersion(t *testing.T) {
	for in, want := range map[string]string{
		"4.0.0": "4.0.0", "4.0.0-3-gabc1234-dirty": "4.0.0", "v4.2.1": "4.2.1", "5.1.0+build": "5.1.0",
		"4.1.0-rc.1": "4.1.0", "1.0.0": "4.0.0", "0.1.0-dev": "4.0.0", "dev": "4.0.0", "": "4.0.0",
		"4.1": "4.0.0", "04.1.0": "4.0.0", " 4.2.0": "4.0.0",
	} {
		if got := GrafanaVersion(in); got != want {
			t.Errorf("GrafanaVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// Grafana checks the renderer's version with Masterminds semver
// constraints; whatever a build between tags is called, every gate must
// pass for the version Grafana is told.
func TestGrafanaGatesPass(t *testing.T) {
	for _, release := range []string{"4.0.0-3-gabc1234-dirty", "4.0.0+3.gabc1234", "0.1.0-dev", "4.7.2"} {
		v, err := semver.NewVersion(GrafanaVersion(release))
		if err != nil {
			t.Fatalf("%s: Grafana cannot parse %q: %v", release, GrafanaVersion(release), err)
		}
		for _, gate := range []string{">= 3.4.0", ">= 3.5.0", ">= 3.10.0"} {
			if !mustConstraint(t, gate).Check(v) {
				t.Errorf("%s: %s fails Grafana's gate %s", release, v, gate)
			}
		}
	}
}

func mustConstraint(t *testing.T, c string) *semver.Constraints {
	t.Helper()
	cons, err := semver.NewConstraint(c)
	if err != nil {
		t.Fatal(err)
	}
	return cons
}
