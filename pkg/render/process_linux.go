package render

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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

// releaseCode asks the kernel to reclaim now the pages of the program's
// executable that the renders touched (its code and read-only data): at
// rest they are most of what the process holds. They are clean copies of
// the file, which the kernel would drop under memory pressure anyway, and
// which page back in when a render runs that code again. Kernels before
// 5.4 have no MADV_PAGEOUT and refuse it.
func releaseCode() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(maps), "\n") {
		// start-end perms offset dev inode path
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(line, " "+exe) || strings.Contains(f[1], "w") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT); errno != 0 {
			return fmt.Errorf("madvise(MADV_PAGEOUT) of %s: %w", exe, errno)
		}
	}
	return nil
}
