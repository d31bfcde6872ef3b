package render

import (
	"io/fs"
	"os"
	"os/exec"
	"syscall"
)

// browserProcAttr puts Chromium in a process group of its own, which kill
// ends whole, and makes the kernel kill it when the thread that started it
// dies (Pdeathsig): a plugin that Grafana kills with SIGKILL leaves no
// browser behind, without go-rod's leakless helper (which it would download).
func browserProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the browser's process group: its zygote and renderers too.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// probeUserNamespace starts `true` in a new user namespace: where that is
// refused, so is Chromium's namespace sandbox.
func probeUserNamespace() error {
	bin, err := exec.LookPath("true")
	if err != nil {
		return nil //nolint:nilerr // nothing to probe with; the sysctls decide
	}
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	return cmd.Run()
}

// ownedByRoot reports whether the file belongs to uid 0.
func ownedByRoot(fi fs.FileInfo) bool {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	return ok && sys.Uid == 0
}
