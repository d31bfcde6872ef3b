package render

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sandboxHost is what decides whether Chromium's sandbox can work on this
// machine, gathered once by probeSandbox.
type sandboxHost struct {
	root bool // effective uid 0: Chromium refuses its sandbox then
	// noSandboxArg: the operator's chromium_args switch it off.
	noSandboxArg bool
	// sysctls that switch unprivileged user namespaces off, by name, with
	// their values ("" when the file does not exist).
	usernsClone, maxUserNS, apparmorRestrict string
	// cloneErr is how a probe clone(CLONE_NEWUSER) failed; systemd's
	// RestrictNamespaces=true (Grafana's deb/rpm unit) makes it EPERM.
	cloneErr error
	// setuidHelper is Chromium's setuid-root chrome-sandbox, "" if absent.
	setuidHelper string
	// noNewPrivs: setuid does not work for this process and its children
	// (systemd's NoNewPrivileges=yes, as in deploy/systemd).
	noNewPrivs bool
}

// decideSandbox says whether to run Chromium with its sandbox, and why, in
// the words health shows ("on: user namespaces").
func decideSandbox(h sandboxHost) (on bool, reason string) {
	if h.noSandboxArg {
		return false, "off: chromium_args has --no-sandbox"
	}
	if h.root {
		return false, "off: running as root, where Chromium refuses its sandbox; run Panelcast as another user to have it"
	}
	var why string
	switch {
	case h.usernsClone == "0":
		why = "kernel.unprivileged_userns_clone = 0"
	case h.maxUserNS == "0":
		why = "user.max_user_namespaces = 0"
	case h.apparmorRestrict == "1":
		why = "kernel.apparmor_restrict_unprivileged_userns = 1"
	case h.cloneErr != nil:
		why = fmt.Sprintf("creating one fails (%v; systemd's RestrictNamespaces=true does that)", h.cloneErr)
	default:
		return true, "on: user namespaces"
	}
	switch {
	case h.setuidHelper != "" && !h.noNewPrivs:
		return true, "on: setuid helper " + h.setuidHelper + " (no user namespaces: " + why + ")"
	case h.setuidHelper != "":
		return false, "off: no user namespaces (" + why + "), and the setuid chrome-sandbox helper cannot work under no_new_privs (systemd's NoNewPrivileges=yes); allow user namespaces"
	}
	return false, "off: no user namespaces (" + why + ") and no setuid chrome-sandbox helper; allow user namespaces or install chromium-sandbox"
}

// probeSandbox looks at this machine for decideSandbox. It costs one
// short-lived process, and only when the answer is not already known.
func probeSandbox(bin string, args []string) sandboxHost {
	h := sandboxHost{
		root:             os.Geteuid() == 0,
		noSandboxArg:     slices.Contains(args, "--no-sandbox"),
		usernsClone:      readSysctl("/proc/sys/kernel/unprivileged_userns_clone"),
		maxUserNS:        readSysctl("/proc/sys/user/max_user_namespaces"),
		apparmorRestrict: readSysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
		setuidHelper:     setuidHelper(bin),
		noNewPrivs:       noNewPrivs(),
	}
	if h.root || h.noSandboxArg {
		return h
	}
	h.cloneErr = probeUserNamespace()
	return h
}

func noNewPrivs() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NoNewPrivs:"); ok {
			return strings.TrimSpace(v) == "1"
		}
	}
	return false
}

func readSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// setuidHelper finds chrome-sandbox beside the real browser binary (Debian's
// /usr/bin/chromium is a script for /usr/lib/chromium/chromium), usable only
// when it is setuid root.
func setuidHelper(bin string) string {
	var dirs []string
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	dirs = append(dirs, "/usr/lib/chromium")
	for _, d := range dirs {
		p := filepath.Join(d, "chrome-sandbox")
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.Mode()&os.ModeSetuid != 0 && ownedByRoot(st) {
			return p
		}
	}
	return ""
}
