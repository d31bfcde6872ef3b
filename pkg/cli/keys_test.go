package cli

import (
	"bytes"
	"os"
	"testing"
)

// The README's table of settings is printKeys' output, so the defaults it
// documents are the ones the code has.
func TestREADMEKeysTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	printKeys(&table)
	if !bytes.Contains(readme, table.Bytes()) {
		t.Errorf("README.md's settings table differs from `panelcast keys`; paste its output into the README:\n%s", table.String())
	}
}
