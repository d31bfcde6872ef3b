package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// grafanaData lays out a Grafana data folder as Grafana does at start,
// plus the traps: a png folder that is a link, a folder of another name, an
// existing picture and a link where a new picture would go.
func grafanaData(t testing.TB) (data, outside, custom string) {
	t.Helper()
	root := t.TempDir()
	data = filepath.Join(root, "data")
	outside = filepath.Join(root, "outside")
	custom = filepath.Join(root, "custom")
	for _, d := range []string{"png", "pdf", "csv", "plugins"} {
		mkdir(t, filepath.Join(data, d))
	}
	mkdir(t, outside)
	mkdir(t, custom)
	mkdir(t, filepath.Join(outside, "png"))
	if err := os.Symlink(filepath.Join(outside, "png"), filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(root, "links"))
	if err := os.Symlink(filepath.Join(outside, "png"), filepath.Join(root, "links", "png")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(data, "png", "exists.png"), "old")
	if err := os.Symlink(filepath.Join(outside, "target.png"), filepath.Join(data, "png", "link.png")); err != nil {
		t.Fatal(err)
	}
	return data, outside, custom
}

func mkdir(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOutputPath(t *testing.T) {
	data, outside, custom := grafanaData(t)
	root := filepath.Dir(data)
	for _, c := range []struct {
		path, ext string
		refusal   string // "" accepted
	}{
		{filepath.Join(data, "png", "Ab3dEf7hIj0lMn2pQr4t.png"), "png", ""},
		{filepath.Join(data, "pdf", "Ab3dEf7hIj0lMn2pQr4t.pdf"), "pdf", ""},
		{filepath.Join(data, "csv", "Ab3dEf7hIj0lMn2pQr4t.csv"), "csv", ""},
		{filepath.Join(custom, "panel.png"), "png", ""}, // output_dirs
		{"png/new.png", "png", "not a clean absolute path"},
		{"", "png", "not a clean absolute path"},
		{data + "/png/../plugins/new.png", "png", "not a clean absolute path"},
		{data + "//png/new.png", "png", "not a clean absolute path"},
		{filepath.Join(data, "png", "new.pdf"), "png", "not a png file name"},
		{filepath.Join(data, "png", "new.PNG"), "png", "not a png file name"},
		{filepath.Join(data, "png", ".png"), "png", "not a png file name"},
		{filepath.Join(data, "png", ".hidden.png"), "png", "not a png file name"},
		{filepath.Join(data, "pdf", "new.png"), "png", "not in a folder named png"},
		{filepath.Join(data, "plugins", "new.png"), "png", "not in a folder named png"},
		{filepath.Join(outside, "new.png"), "png", "nor in output_dirs"},
		{"/etc/cron.d/new.csv", "csv", "not in a folder named csv"},
		{filepath.Join(root, "nowhere", "png", "new.png"), "png", "does not exist"},
		{filepath.Join(root, "links", "png", "new.png"), "png", "is a symbolic link"},
		{filepath.Join(root, "linked", "new.png"), "png", "nor in output_dirs"},
		{filepath.Join(data, "png", "exists.png"), "png", "exists already"},
		{filepath.Join(data, "png", "link.png"), "png", "exists already"}, // a dangling link counts
	} {
		err := checkOutputPath(c.path, c.ext, []string{custom})
		switch {
		case c.refusal == "" && err != nil:
			t.Errorf("%s: refused: %v", c.path, err)
		case c.refusal != "" && (err == nil || !strings.Contains(err.Error(), c.refusal)):
			t.Errorf("%s: err = %v, want %q", c.path, err, c.refusal)
		}
	}
}

func TestWriteOutputNeverReplacesNorFollows(t *testing.T) {
	data, outside, _ := grafanaData(t)
	fresh := filepath.Join(data, "png", "fresh.png")
	if err := writeOutput(fresh, []byte("picture")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fresh); string(b) != "picture" {
		t.Errorf("wrote %q", b)
	}
	// What checkOutputPath refuses, writeOutput refuses too, even when the
	// file or the link appeared after the check.
	for _, p := range []string{fresh, filepath.Join(data, "png", "exists.png"), filepath.Join(data, "png", "link.png")} {
		if err := writeOutput(p, []byte("new")); err == nil {
			t.Errorf("%s was written over", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(data, "png", "exists.png")); string(b) != "old" {
		t.Errorf("exists.png now holds %q", b)
	}
	if _, err := os.Lstat(filepath.Join(outside, "target.png")); err == nil {
		t.Error("the link was followed")
	}
	// The folder was swapped for a link after the check.
	swapped := filepath.Join(filepath.Dir(data), "links", "png", "new.png")
	if err := writeOutput(swapped, []byte("new")); err == nil {
		t.Error("a file was written through a symlinked folder")
	}
	entries, _ := os.ReadDir(filepath.Join(data, "png"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

// FuzzCheckOutputPath: whatever filePath Grafana's side sends, an accepted
// one is a new file with the asked extension directly in a real png/ folder
// or an output_dirs folder, reached without "..".
func FuzzCheckOutputPath(f *testing.F) {
	data, _, custom := grafanaData(f)
	for _, s := range []string{data + "/png/a.png", data + "/png/../png/a.png", custom + "/a.png", "/a.png", data + "/png/exists.png", data + "/png/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if checkOutputPath(p, "png", []string{custom}) != nil {
			return
		}
		dir := filepath.Dir(p)
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || !strings.HasSuffix(p, ".png") ||
			(filepath.Base(dir) != "png" && dir != custom) {
			t.Fatalf("accepted %q", p)
		}
		if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
			t.Fatalf("accepted %q in a folder that is not a real one", p)
		}
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("accepted %q, which exists", p)
		}
	})
}
