package plugin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
