package deploy_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/cli"
)

// image is what the Dockerfile's stages say, read with BuildKit's own
// parser (the one docker build uses), its rule checks turned into errors.
type image struct {
	build, runtime instructions.Stage
}

func parseDockerfile(t *testing.T) image {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{ReturnAsError: true}))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) != 2 {
		t.Fatalf("Dockerfile: %d stages, want build and runtime", len(stages))
	}
	return image{build: stages[0], runtime: stages[1]}
}

func commands[C any](s instructions.Stage) []C {
	var out []C
	for _, c := range s.Commands {
		if c, ok := c.(C); ok {
			out = append(out, c)
		}
	}
	return out
}

// TestDockerfileBuildsForEachArchitecture: Go runs on the build machine's
// platform and cross-compiles for the target's (buildx sets TARGETOS and
// TARGETARCH), so amd64 and arm64 come from one Dockerfile without
// emulating the compiler; the binary is static, for the Debian stage.
func TestDockerfileBuildsForEachArchitecture(t *testing.T) {
	img := parseDockerfile(t)
	if img.build.Platform != "$BUILDPLATFORM" || !strings.HasPrefix(img.build.BaseName, "golang:") {
		t.Errorf("build stage FROM --platform=%q %s, want --platform=$BUILDPLATFORM golang:…", img.build.Platform, img.build.BaseName)
	}
	var args []string
	for _, a := range commands[*instructions.ArgCommand](img.build) {
		for _, kv := range a.Args {
			args = append(args, kv.Key)
		}
	}
	var build string
	for _, r := range commands[*instructions.RunCommand](img.build) {
		if line := strings.Join(r.CmdLine, " "); strings.Contains(line, "go build") {
			build = line
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH", "-trimpath", "buildinfo.Version=${VERSION}", "./pkg"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build line has no %s: %s", want, build)
		}
	}
	for _, want := range []string{"TARGETOS", "TARGETARCH", "VERSION"} {
		if !slices.Contains(args, want) {
			t.Errorf("the build stage does not declare ARG %s (buildx's values reach RUN only then)", want)
		}
	}
	if img.runtime.Platform != "" || img.runtime.BaseName != "debian:bookworm-slim" {
		t.Errorf("runtime stage FROM --platform=%q %s, want the target's debian:bookworm-slim", img.runtime.Platform, img.runtime.BaseName)
	}
}

// runtimePackages are the Debian packages the runtime stage installs.
func runtimePackages(t *testing.T, img image) []string {
	t.Helper()
	for _, r := range commands[*instructions.RunCommand](img.runtime) {
		line := strings.Join(r.CmdLine, " ")
		if _, rest, ok := strings.Cut(line, "apt-get install -y --no-install-recommends"); ok {
			list, _, _ := strings.Cut(rest, "&&")
			return strings.Fields(list)
		}
	}
	t.Fatal("the runtime stage has no apt-get install -y --no-install-recommends")
	return nil
}

// TestDockerfileRuntime: the browser and the fonts a Korean or emoji alert
// needs are in the image, it runs as the non-root user the Kubernetes
// manifest expects, and the entrypoint and health check are the binary
// the build stage made.
func TestDockerfileRuntime(t *testing.T) {
	img := parseDockerfile(t)
	pkgs := runtimePackages(t, img)
	for _, want := range []string{"chromium-headless-shell", "fonts-noto-cjk", "fonts-noto-color-emoji", "ca-certificates", "tzdata"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("the image does not install %s", want)
		}
	}

	users := commands[*instructions.UserCommand](img.runtime)
	if len(users) != 1 || users[0].User != "10001:10001" {
		t.Fatalf("USER %v, want one USER 10001:10001", users)
	}
	var useradd string
	for _, r := range commands[*instructions.RunCommand](img.runtime) {
		if line := strings.Join(r.CmdLine, " "); strings.Contains(line, "useradd") {
			useradd = line
		}
	}
	if !strings.Contains(useradd, "--uid 10001") {
		t.Errorf("USER 10001 has no passwd entry (useradd --uid 10001): %q", useradd)
	}
	deployment := read(t, "kubernetes/deployment.yaml")
	for _, want := range []string{"runAsUser: 10001", "runAsGroup: 10001", "runAsNonRoot: true"} {
		if !strings.Contains(deployment, want) {
			t.Errorf("kubernetes/deployment.yaml has no %q, the image's user", want)
		}
	}

	copies := commands[*instructions.CopyCommand](img.runtime)
	if len(copies) != 1 || copies[0].From != img.build.Name || copies[0].DestPath != "/usr/local/bin/panelcast" {
		t.Fatalf("COPY %v, want the build stage's binary to /usr/local/bin/panelcast", copies)
	}
	entry := commands[*instructions.EntrypointCommand](img.runtime)
	cmd := commands[*instructions.CmdCommand](img.runtime)
	if len(entry) != 1 || entry[0].PrependShell || !slices.Equal(entry[0].CmdLine, []string{"/usr/local/bin/panelcast"}) {
		t.Errorf("ENTRYPOINT %v, want [\"/usr/local/bin/panelcast\"] (exec form: SIGTERM reaches panelcast)", entry)
	}
	if len(cmd) != 1 || !slices.Equal(cmd[0].CmdLine, []string{"serve"}) {
		t.Errorf("CMD %v, want [\"serve\"]", cmd)
	}

	health := commands[*instructions.HealthCheckCommand](img.runtime)
	if len(health) != 1 {
		t.Fatalf("%d HEALTHCHECKs, want one", len(health))
	}
	test := health[0].Health.Test
	if !slices.Equal(test, []string{"CMD", "/usr/local/bin/panelcast", "healthcheck"}) {
		t.Fatalf("HEALTHCHECK %v, want CMD [\"/usr/local/bin/panelcast\", \"healthcheck\"] (the image has no curl)", test)
	}
	if h := health[0].Health; h.Timeout <= 0 || h.Interval <= h.Timeout {
		t.Errorf("HEALTHCHECK interval %s, timeout %s", h.Interval, h.Timeout)
	}
	// The command with the image's environment asks /healthz on loopback
	// at PANELCAST_ADDR's port: here a port nothing listens on, so it must
	// fail and name that URL.
	var addr string
	for _, e := range commands[*instructions.EnvCommand](img.runtime) {
		for _, kv := range e.Env {
			if kv.Key == "PANELCAST_ADDR" {
				addr = kv.Value
			}
		}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("ENV PANELCAST_ADDR=%q: %v", addr, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	var stdout, stderr bytes.Buffer
	code := cli.Main(append([]string{"panelcast"}, test[2:]...), []string{"PANELCAST_ADDR=" + net.JoinHostPort(host, port)}, &stdout, &stderr)
	if want := "GET http://127.0.0.1:" + port + "/healthz"; code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("the HEALTHCHECK command with nothing listening: exit %d, %q; want 1 and %q", code, stderr.String(), want)
	}
}

// TestDockerfilePackagesExist asks apt for each package the runtime stage
// installs. This machine is Debian 12 like the image's base; its index is
// for its own architecture only, so for the other one an Architecture: all
// package is known to exist and an architecture-specific one (chromium-headless-shell) is
// checked only if that index is present (dpkg --add-architecture), which
// the test does not add: it says so.
func TestDockerfilePackagesExist(t *testing.T) {
	aptCache := testenv.NeedCommand(t, "apt-cache")
	if v, err := os.ReadFile("/etc/debian_version"); err != nil || !strings.HasPrefix(string(v), "12.") {
		t.Skipf("this machine is not Debian 12 (bookworm), the image's base: /etc/debian_version %q", v)
	}
	host, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	hostArch := strings.TrimSpace(string(host))
	// One apt-cache call per architecture: each reads the whole index.
	show := func(pkgs []string, arch string) (map[string]map[string]string, error) {
		args := []string{"show", "--no-all-versions"}
		for _, p := range pkgs {
			args = append(args, p+":"+arch)
		}
		b, err := exec.Command(aptCache, args...).Output()
		stanzas := map[string]map[string]string{}
		for _, stanza := range strings.Split(string(b), "\n\n") {
			f := map[string]string{}
			for _, m := range regexp.MustCompile(`(?m)^([A-Za-z-]+): (.*)$`).FindAllStringSubmatch(stanza, -1) {
				f[m[1]] = m[2]
			}
			if f["Package"] != "" {
				stanzas[f["Package"]] = f
			}
		}
		return stanzas, err
	}
	pkgs := runtimePackages(t, parseDockerfile(t))
	found, err := show(pkgs, hostArch)
	if err != nil {
		t.Fatalf("apt-cache show %v: %v", pkgs, err)
	}
	var archSpecific []string
	for _, p := range pkgs {
		f := found[p]
		if f == nil || (f["Architecture"] != hostArch && f["Architecture"] != "all") {
			t.Errorf("%s is not in Debian 12 for %s", p, hostArch)
			continue
		}
		t.Logf("%s %s (%s): installed size %s KiB", p, f["Version"], f["Architecture"], f["Installed-Size"])
		if f["Architecture"] != "all" {
			archSpecific = append(archSpecific, p)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if arch == hostArch || len(archSpecific) == 0 {
			continue
		}
		other, err := show(archSpecific, arch)
		if err != nil {
			t.Logf("%v for %s: unchecked, apt has no %s index here (the Architecture: all packages exist for it by definition)", archSpecific, arch, arch)
			continue
		}
		for _, p := range archSpecific {
			if other[p]["Architecture"] != arch {
				t.Errorf("%s is not in Debian 12 for %s", p, arch)
			}
		}
	}
}
