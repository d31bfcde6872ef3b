package render

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestDecideSandbox(t *testing.T) {
	eperm := errors.New("operation not permitted")
	for _, c := range []struct {
		name string
		h    sandboxHost
		on   bool
		why  string // part of the reason
	}{
		{"root", sandboxHost{root: true}, false, "off: running as root"},
		{"root with a helper", sandboxHost{root: true, setuidHelper: "/usr/lib/chromium/chrome-sandbox"}, false, "off: running as root"},
		{"user namespaces", sandboxHost{usernsClone: "1", maxUserNS: "63000"}, true, "on: user namespaces"},
		{"no sysctls at all", sandboxHost{}, true, "on: user namespaces"},
		{"operator said no", sandboxHost{noSandboxArg: true}, false, "off: chromium_args has --no-sandbox"},
		{"Debian switch off", sandboxHost{usernsClone: "0"}, false, "kernel.unprivileged_userns_clone = 0"},
		{"no namespaces allowed", sandboxHost{maxUserNS: "0"}, false, "user.max_user_namespaces = 0"},
		{"AppArmor restriction", sandboxHost{apparmorRestrict: "1"}, false, "kernel.apparmor_restrict_unprivileged_userns = 1"},
		{"RestrictNamespaces", sandboxHost{cloneErr: eperm}, false, "RestrictNamespaces=true"},
		{"RestrictNamespaces with the helper", sandboxHost{cloneErr: eperm, setuidHelper: "/usr/lib/chromium/chrome-sandbox"}, true,
			"on: setuid helper /usr/lib/chromium/chrome-sandbox"},
		{"no namespaces, no helper", sandboxHost{usernsClone: "0"}, false, "install chromium-sandbox"},
		{"helper under NoNewPrivileges", sandboxHost{cloneErr: eperm, setuidHelper: "/usr/lib/chromium/chrome-sandbox", noNewPrivs: true}, false,
			"cannot work under no_new_privs"},
	} {
		on, why := decideSandbox(c.h)
		if on != c.on || !strings.Contains(why, c.why) {
			t.Errorf("%s: %v %q, want %v and %q", c.name, on, why, c.on, c.why)
		}
		if on != strings.HasPrefix(why, "on: ") {
			t.Errorf("%s: reason %q does not start with on/off as decided", c.name, why)
		}
	}
}

// TestSandboxDecisionReachesTheBrowser: the machine's decision is in Stats
// (for health) and the browser runs accordingly; as root, the only way
// here and in CI, the reason is root.
func TestSandboxDecisionReachesTheBrowser(t *testing.T) {
	r := newRenderer(t, Options{})
	st := r.Stats()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.BrowserPID))
	if err != nil {
		t.Fatal(err)
	}
	noSandbox := strings.Contains(string(b), "--no-sandbox\x00")
	if noSandbox != strings.HasPrefix(st.Sandbox, "off: ") {
		t.Errorf("sandbox %q, but the browser runs with --no-sandbox %v", st.Sandbox, noSandbox)
	}
	if os.Geteuid() == 0 && !strings.HasPrefix(st.Sandbox, "off: running as root") {
		t.Errorf("as root the sandbox is %q, want off for root", st.Sandbox)
	}
}
