package plugin

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// checkOutputPath accepts only what Grafana sends as filePath: a clean
// absolute path of a file that does not exist yet, named with the extension
// of what was asked (png, pdf, csv), in a real (not symlinked) folder named
// like the extension — Grafana writes to <data>/png, <data>/pdf and
// <data>/csv (its images_dir, pdfs_dir and csvs_dir) — or in one of dirs
// (output_dirs). Anything else would let a caller of the renderer service
// write where Grafana never would.
func checkOutputPath(p, ext string, dirs []string) error {
	if p == "" || !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("filePath %q is not a clean absolute path: Grafana sends <data folder>/%s/<name>.%s", p, ext, ext)
	}
	name, dir := filepath.Base(p), filepath.Dir(p)
	if filepath.Ext(name) != "."+ext || len(name) == len(ext)+1 || name[0] == '.' {
		return fmt.Errorf("filePath %q is not a %s file name: Grafana asks for <name>.%s", p, ext, ext)
	}
	if filepath.Base(dir) != ext && !slices.Contains(dirs, dir) {
		return fmt.Errorf("filePath %q is not in a folder named %s (Grafana's <data folder>/%s) nor in output_dirs: add its folder to output_dirs if Grafana really writes there", p, ext, ext)
	}
	st, err := os.Lstat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("filePath folder %q does not exist: check Grafana's [paths] data (Grafana creates %s/ in it at start)", dir, ext)
	case st.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("filePath folder %q is a symbolic link, which Panelcast does not follow: make it a real folder", dir)
	case !st.IsDir():
		return fmt.Errorf("filePath folder %q is not a folder", dir)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("filePath %q exists already: Panelcast never replaces a file; Grafana asks for a new name each time", p)
	}
	return nil
}

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
