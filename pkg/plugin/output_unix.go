//go:build unix

package plugin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// writeOutput writes data as the new file p (checked by checkOutputPath):
// into a hidden temporary name in p's folder, opened through the folder
// (so a folder swapped for a link since the check is refused) without
// following links and only if new; then linked to p, which fails if p
// exists by now, so nothing is ever replaced and Grafana never sees a
// half-written file.
func writeOutput(p string, data []byte) error {
	dir, name := filepath.Dir(p), filepath.Base(p)
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the folder of %s: %w: it must be a real folder the plugin may write to", p, err)
	}
	defer func() { _ = unix.Close(dfd) }()
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	tmp := "." + name + "." + hex.EncodeToString(suffix) + ".part"
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return fmt.Errorf("write %s: %w: check that Grafana's data folder is writable by the plugin", p, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, tmp))
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = unix.Linkat(dfd, tmp, dfd, name, 0)
		if errors.Is(werr, unix.EEXIST) {
			werr = fmt.Errorf("%s appeared meanwhile: Panelcast never replaces a file", p)
		}
	}
	_ = unix.Unlinkat(dfd, tmp, 0)
	if werr != nil {
		return fmt.Errorf("write %s: %w", p, werr)
	}
	return nil
}
