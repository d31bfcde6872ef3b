package config

import (
	"bytes"
	"strings"
	"testing"
)

// Each key is one row with its default, its secrecy and its old names, so
// the table cannot drop a key or show a secret's value.
func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	WriteTable(&b)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if got, want := len(lines), len(Keys)+2; got != want {
		t.Fatalf("%d lines, want a header, a rule and one row per key (%d)", got, want)
	}
	def := Default()
	for i, k := range Keys {
		row := lines[i+2]
		cells := strings.Split(row, " | ")
		if cells[0] != "| `"+k.Name+"`" {
			t.Errorf("row %d = %q, want key %s", i, row, k.Name)
			continue
		}
		if d := def.Get(k.Name); d != "" && cells[1] != "`"+d+"`" {
			t.Errorf("%s: default cell %q, want %q", k.Name, cells[1], d)
		}
		if (cells[2] == "yes") != k.Secret {
			t.Errorf("%s: secret cell %q, key.Secret = %v", k.Name, cells[2], k.Secret)
		}
		for _, a := range k.Aliases {
			if !strings.Contains(cells[3], "`"+a+"`") {
				t.Errorf("%s: old keys cell %q lacks %s", k.Name, cells[3], a)
			}
		}
	}
}

func TestIgnoredOldKeysAreAccepted(t *testing.T) {
	old := IgnoredOldKeys()
	if len(old) == 0 {
		t.Fatal("no ignored old keys")
	}
	for _, k := range old {
		c := Default()
		if err := c.Set(k, "anything"); err != nil {
			t.Errorf("Set(%s) = %v, want it accepted and ignored", k, err)
		}
	}
}
