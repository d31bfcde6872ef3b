package deploy_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/testenv"
)

// TestLinuxPackages builds the deb and rpm as the release does (make
// linux-packages, into a temporary directory), twice: 4.1.0 for amd64 and
// arm64, then 4.1.1 for amd64 to upgrade to. lintian and rpmlint judge
// them; dpkg installs, upgrades, removes and purges the deb in a
// temporary root; rpm does the same with the rpm; the arm64 binary runs
// under qemu-user-static.
func TestLinuxPackages(t *testing.T) {
	makeCmd := testenv.NeedCommand(t, "make")
	out := t.TempDir()
	build := func(version, arches string) {
		cmd := exec.Command(makeCmd, "-C", "..", "--no-print-directory", "linux-packages", "VERSION="+version,
			"LINUX_ARCHES="+arches, "LINUX_OUT="+out, "LINUX_BUILD="+filepath.Join(out, "build-"+version))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make linux-packages VERSION=%s: %v\n%s", version, err, b)
		}
	}
	build("4.1.0", "amd64 arm64")
	build("4.1.1", "amd64")
	pkg := func(name string) string {
		p := filepath.Join(out, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("make linux-packages did not write %s: %v", name, err)
		}
		return p
	}
	deb1, deb2, debArm := pkg("panelcast_4.1.0_amd64.deb"), pkg("panelcast_4.1.1_amd64.deb"), pkg("panelcast_4.1.0_arm64.deb")
	rpm1, rpm2, rpmArm := pkg("panelcast-4.1.0-1.x86_64.rpm"), pkg("panelcast-4.1.1-1.x86_64.rpm"), pkg("panelcast-4.1.0-1.aarch64.rpm")

	t.Run("lintian", func(t *testing.T) {
		lintian := testenv.NeedCommand(t, "lintian")
		// Warnings fail too: the ones that are answered are overridden in
		// the package, each with its reason (linuxpkg/lintian-overrides;
		// --show-overrides would count them again).
		b, err := exec.Command(lintian, "--fail-on", "error,warning", "--display-info", deb1, debArm).CombinedOutput()
		if err != nil {
			t.Fatalf("lintian: %v\n%s", err, b)
		}
		t.Logf("lintian (I: information):\n%s", b)
	})
	t.Run("dpkg", func(t *testing.T) { checkDebLifecycle(t, deb1, deb2) })
	t.Run("rpmlint", func(t *testing.T) {
		rpmlint := testenv.NeedCommand(t, "rpmlint")
		// rpmlint exits non-zero on an error; the answered ones are
		// filtered in rpmlint.toml with their reasons.
		b, err := exec.Command(rpmlint, "-c", "../tools/check/linuxpkg/rpmlint.toml", rpm1, rpmArm).CombinedOutput()
		if err != nil || !strings.Contains(string(b), " 0 errors") {
			t.Fatalf("rpmlint: %v\n%s", err, b)
		}
		t.Logf("rpmlint:\n%s", b)
	})
	t.Run("rpm", func(t *testing.T) { checkRPMLifecycle(t, rpm1, rpm2) })
	t.Run("arm64", func(t *testing.T) { checkArm64(t, debArm, rpmArm) })
}

// installedFiles are the files both packages put in place, relative to the
// root; the deb keeps its unit in /lib (Debian 12), the rpm in /usr/lib.
var installedFiles = []string{
	"usr/bin/panelcast",
	"etc/panelcast/env",
	"usr/lib/sysusers.d/panelcast.conf",
	"usr/share/man/man1/panelcast.1.gz",
}

// checkDebLifecycle installs the deb into an empty root as dpkg installs
// into another root (--root, the scripts run outside it with DPKG_ROOT set;
// --force-depends as the root has no Chromium), then checks an upgrade
// keeps the edited configuration and the outbox, removal keeps them too,
// and purge deletes them.
func checkDebLifecycle(t *testing.T, deb1, deb2 string) {
	dpkgCmd := testenv.NeedCommand(t, "dpkg")
	query := testenv.NeedCommand(t, "dpkg-query")
	testenv.NeedCommand(t, "systemd-sysusers") // the postinst creates the user with it
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"} {
		mkdir(t, filepath.Join(root, d))
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		write(t, filepath.Join(root, f), nil, 0o644)
	}
	dpkg := func(args ...string) {
		t.Helper()
		cmd := exec.Command(dpkgCmd, append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, b)
		}
	}
	status := func() string {
		t.Helper()
		b, _ := exec.Command(query, "--root="+root, "-W", "-f=${db:Status-Abbrev}${Version}", "panelcast").Output()
		return strings.TrimSpace(string(b))
	}

	dpkg("-i", deb1)
	if got := status(); got != "ii 4.1.0" {
		t.Fatalf("after dpkg -i: status %q, want ii 4.1.0", got)
	}
	for _, f := range append(installedFiles, "lib/systemd/system/panelcast.service", "usr/share/doc/panelcast/copyright") {
		exists(t, root, f, true)
	}
	checkMode(t, filepath.Join(root, "usr/bin/panelcast"), 0o755)
	checkMode(t, filepath.Join(root, "etc/panelcast/env"), 0o600)
	checkVersion(t, filepath.Join(root, "usr/bin/panelcast"), "4.1.0")
	if got, want := read(t, filepath.Join(root, "etc/panelcast/env")), read(t, "systemd/env.example"); got != want {
		t.Errorf("/etc/panelcast/env is not env.example:\n%s", got)
	}
	if b, _ := exec.Command(query, "--root="+root, "-W", "-f=${Conffiles}", "panelcast").Output(); !strings.Contains(string(b), "/etc/panelcast/env ") {
		t.Errorf("/etc/panelcast/env is not a conffile (kept on upgrade): %q", b)
	}
	checkPackagedUnit(t, root, "lib/systemd/system/panelcast.service")
	// The maintainer scripts are linuxpkg's, and the postinst made the user.
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if got, want := read(t, filepath.Join(root, "var/lib/dpkg/info/panelcast."+s)), read(t, "../tools/check/linuxpkg/scripts/deb-"+s); got != want {
			t.Errorf("the deb's %s is not linuxpkg's scripts/deb-%s", s, s)
		}
	}
	checkUser(t, root)

	// What the service leaves: the outbox in its state directory, the
	// cache; and the operator's settings.
	outbox := filepath.Join(root, "var/lib/panelcast/outbox.db")
	mkdir(t, filepath.Dir(outbox))
	mkdir(t, filepath.Join(root, "var/cache/panelcast"))
	outboxData := []byte("SQLite format 3\x00 pushes not yet posted")
	write(t, outbox, outboxData, 0o600)
	edited := strings.Replace(read(t, filepath.Join(root, "etc/panelcast/env")), "PANELCAST_AUTH_TOKEN=\n", "PANELCAST_AUTH_TOKEN=0123456789abcdef0123456789abcdef\n", 1)
	write(t, filepath.Join(root, "etc/panelcast/env"), []byte(edited), 0o600)
	kept := func(when string) {
		t.Helper()
		if got := read(t, filepath.Join(root, "etc/panelcast/env")); got != edited {
			t.Errorf("%s: /etc/panelcast/env lost the operator's edit:\n%s", when, got)
		}
		if got := read(t, outbox); got != string(outboxData) {
			t.Errorf("%s: the outbox changed: %q", when, got)
		}
	}

	// stdin is empty: a conffile question would fail the upgrade.
	dpkg("-i", deb2)
	if got := status(); got != "ii 4.1.1" {
		t.Fatalf("after the upgrade: status %q, want ii 4.1.1", got)
	}
	checkVersion(t, filepath.Join(root, "usr/bin/panelcast"), "4.1.1")
	kept("upgrade")
	for _, leftover := range []string{"env.dpkg-new", "env.dpkg-old", "env.dpkg-dist"} {
		exists(t, root, "etc/panelcast/"+leftover, false)
	}
	checkUser(t, root)

	dpkg("-r", "panelcast")
	if got := status(); got != "rc 4.1.1" {
		t.Errorf("after dpkg -r: status %q, want rc (removed, configuration kept)", got)
	}
	exists(t, root, "usr/bin/panelcast", false)
	exists(t, root, "lib/systemd/system/panelcast.service", false)
	kept("remove")

	dpkg("-P", "panelcast")
	if got := status(); got != "" && !strings.HasPrefix(got, "un") {
		t.Errorf("after dpkg -P: status %q, want the package gone", got)
	}
	for _, gone := range []string{"etc/panelcast", "var/lib/panelcast", "var/cache/panelcast"} {
		exists(t, root, gone, false)
	}
}

// checkRPMLifecycle checks the rpm's files and flags, then installs it into
// an empty root, upgrades and erases it. The scripts do not run there (no
// shell inside the root to chroot into: --noscripts); they are checked as
// the ones linuxpkg ships, and the deb's run.
func checkRPMLifecycle(t *testing.T, rpm1, rpm2 string) {
	rpmCmd := testenv.NeedCommand(t, "rpm")
	query := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(rpmCmd, append([]string{"-qp"}, args...)...).Output()
		if err != nil {
			t.Fatalf("rpm -qp %v: %v", args, err)
		}
		return string(b)
	}
	files := strings.Fields(query("-l", rpm1))
	want := []string{"/etc/panelcast/env", "/usr/bin/panelcast", "/usr/lib/systemd/system/panelcast.service",
		"/usr/lib/sysusers.d/panelcast.conf", "/usr/share/doc/panelcast/CHANGELOG.md", "/usr/share/licenses/panelcast/LICENSE",
		"/usr/share/man/man1/panelcast.1.gz"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("rpm -qlp:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}
	// c: %config, n: noreplace (an edited file survives an upgrade).
	if flags := query("--qf", "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILENAMES}\n]", rpm1); !strings.Contains(flags, "cn -rw------- /etc/panelcast/env\n") {
		t.Errorf("/etc/panelcast/env is not %%config(noreplace) 0600:\n%s", flags)
	}
	for _, dep := range []string{"chromium", "ca-certificates"} {
		if !regexp.MustCompile(`(?m)^` + dep + `$`).MatchString(query("--requires", rpm1)) {
			t.Errorf("the rpm does not require %s", dep)
		}
	}
	for _, dep := range []string{"google-noto-sans-cjk-fonts", "google-noto-color-emoji-fonts"} {
		if !strings.Contains(query("--recommends", rpm1), dep) {
			t.Errorf("the rpm does not recommend %s", dep)
		}
	}
	scripts := query("--scripts", rpm1)
	for _, s := range []string{"rpm-post", "rpm-preun", "rpm-postun"} {
		if !strings.Contains(scripts, strings.TrimSpace(read(t, "../tools/check/linuxpkg/scripts/"+s))) {
			t.Errorf("the rpm does not carry linuxpkg's scripts/%s:\n%s", s, scripts)
		}
	}

	root := t.TempDir()
	rpm := func(args ...string) {
		t.Helper()
		cmd := exec.Command(rpmCmd, append([]string{"--root", root, "--dbpath", "/var/lib/rpm"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, b)
		}
	}
	installed := func() string {
		b, _ := exec.Command(rpmCmd, "--root", root, "--dbpath", "/var/lib/rpm", "-q", "panelcast").Output()
		return strings.TrimSpace(string(b))
	}
	rpm("--initdb")
	rpm("-i", "--nodeps", "--noscripts", rpm1)
	if got := installed(); got != "panelcast-4.1.0-1.x86_64" {
		t.Fatalf("after rpm -i: %q", got)
	}
	checkPackagedUnit(t, root, "usr/lib/systemd/system/panelcast.service")
	checkVersion(t, filepath.Join(root, "usr/bin/panelcast"), "4.1.0")
	env := filepath.Join(root, "etc/panelcast/env")
	outbox := filepath.Join(root, "var/lib/panelcast/outbox.db")
	mkdir(t, filepath.Dir(outbox))
	write(t, outbox, []byte("outbox"), 0o600)
	edited := read(t, env) + "PANELCAST_LOG_LEVEL=debug\n"
	write(t, env, []byte(edited), 0o600)

	rpm("-U", "--nodeps", "--noscripts", rpm2)
	if got := installed(); got != "panelcast-4.1.1-1.x86_64" {
		t.Fatalf("after rpm -U: %q", got)
	}
	checkVersion(t, filepath.Join(root, "usr/bin/panelcast"), "4.1.1")
	if read(t, env) != edited || read(t, outbox) != "outbox" {
		t.Error("rpm -U lost the edited /etc/panelcast/env or the outbox")
	}
	exists(t, root, "etc/panelcast/env.rpmnew", false)

	// rpm has no purge: an edited configuration is saved as .rpmsave.
	rpm("-e", "--nodeps", "--noscripts", "panelcast")
	exists(t, root, "usr/bin/panelcast", false)
	if read(t, env+".rpmsave") != edited || read(t, outbox) != "outbox" {
		t.Error("rpm -e did not keep the edited configuration (as env.rpmsave) and the outbox")
	}
}

// checkArm64 has the arm64 packages say so and their binary, an aarch64
// executable, answer `panelcast version` under qemu-user-static.
func checkArm64(t *testing.T, deb, rpm string) {
	dpkgDeb := testenv.NeedCommand(t, "dpkg-deb")
	qemu := testenv.NeedCommand(t, "qemu-aarch64-static")
	if b, err := exec.Command(dpkgDeb, "-f", deb, "Architecture").Output(); err != nil || strings.TrimSpace(string(b)) != "arm64" {
		t.Errorf("the arm64 deb's Architecture: %q, %v", b, err)
	}
	if rpmCmd, err := exec.LookPath("rpm"); err == nil {
		if b, err := exec.Command(rpmCmd, "-qp", "--qf", "%{ARCH}", rpm).Output(); err != nil || string(b) != "aarch64" {
			t.Errorf("the arm64 rpm's arch: %q, %v", b, err)
		}
	}
	dir := t.TempDir()
	if b, err := exec.Command(dpkgDeb, "-x", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, b)
	}
	bin := filepath.Join(dir, "usr/bin/panelcast")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("the arm64 deb's binary is for %v", f.Machine)
	}
	b, err := exec.Command(qemu, bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(b), "panelcast 4.1.0 (") || !strings.Contains(string(b), "linux/arm64") {
		t.Errorf("qemu-aarch64-static panelcast version: %v\n%s", err, b)
	}
}

// checkPackagedUnit has systemd read the installed unit (its ExecStart
// pointed into the root, where the binary is) and checks it runs the
// packaged binary as the package's user.
func checkPackagedUnit(t *testing.T, root, unitPath string) {
	t.Helper()
	unit := read(t, filepath.Join(root, unitPath))
	for _, want := range []string{"\nExecStart=/usr/bin/panelcast serve\n", "\nUser=panelcast\n", "\nEnvironmentFile=/etc/panelcast/env\n", "\nStateDirectory=panelcast\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("%s has no %q", unitPath, strings.TrimSpace(want))
		}
	}
	if strings.Contains(unit, "DynamicUser=") || strings.Contains(unit, "/usr/local/bin") {
		t.Errorf("%s still has the hand-installed unit's DynamicUser or /usr/local/bin", unitPath)
	}
	analyze := testenv.NeedCommand(t, "systemd-analyze")
	copyPath := filepath.Join(t.TempDir(), "panelcast.service")
	write(t, copyPath, []byte(strings.ReplaceAll(unit, "/usr/bin/panelcast", filepath.Join(root, "usr/bin/panelcast"))), 0o644)
	b, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(b)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, b)
	}
}

// checkUser finds the one system user the postinst made, without a login.
func checkUser(t *testing.T, root string) {
	t.Helper()
	users := regexp.MustCompile(`(?m)^panelcast:x:(\d+):\d+:[^:]*:/nonexistent:/usr/sbin/nologin$`).FindAllStringSubmatch(read(t, filepath.Join(root, "etc/passwd")), -1)
	if len(users) != 1 || len(users[0][1]) > 3 {
		t.Errorf("/etc/passwd in the root: %d panelcast users %v, want one system user (uid < 1000) with nologin", len(users), users)
	}
}

func checkVersion(t *testing.T, bin, want string) {
	t.Helper()
	b, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(b), "panelcast "+want+" (") {
		t.Errorf("%s version: %v\n%s\nwant panelcast %s", bin, err, b, want)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s: mode %o, want %o", path, st.Mode().Perm(), want)
	}
}

func exists(t *testing.T, root, path string, want bool) {
	t.Helper()
	_, err := os.Lstat(filepath.Join(root, path))
	if got := err == nil; got != want {
		t.Errorf("/%s exists: %v, want %v", path, got, want)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}
