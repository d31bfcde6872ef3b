package render

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// exeResident is how much of the test binary's own file is resident in
// this process (Rss of its mappings in /proc/self/smaps).
func exeResident(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var kb int64
	inExe := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-"):
			inExe = strings.HasSuffix(line, " "+exe)
		case inExe && len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.ParseInt(f[1], 10, 64)
			kb += n
		}
	}
	return kb
}

// After an idle stop the code the renders ran is given back: most of the
// binary's resident pages go, and the program runs on.
func TestReleaseCodeDropsResidentPages(t *testing.T) {
	before := exeResident(t)
	if before < 1024 {
		t.Fatalf("only %d KiB of the test binary resident before: cannot tell a release", before)
	}
	if err := releaseCode(); err != nil {
		if errors.Is(err, unix.EINVAL) && os.Getenv("CI") == "" {
			t.Skip("this kernel has no MADV_PAGEOUT (Linux 5.4+):", err)
		}
		t.Fatal(err)
	}
	after := exeResident(t)
	t.Logf("test binary resident: %d KiB before, %d KiB after", before, after)
	if after > before/2 {
		t.Errorf("%d KiB of the binary still resident after the release, of %d KiB before", after, before)
	}
}
