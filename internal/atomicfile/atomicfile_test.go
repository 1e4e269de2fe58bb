package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAtomicFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Aborted: the old content stays, no temporary is left.
	a, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteString("half")
	a.Abort()
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after abort: %q", b)
	}
	// A failing writer leaves the old file too.
	err = WriteFile(path, func(f *os.File) error { f.WriteString("x"); return errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v", err)
	}
	if err := WriteFile(path, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("after commit: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries left in dir, want 1", len(ents))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}
