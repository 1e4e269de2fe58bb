package inputfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestOpen: what Open refuses and how it says so; catalog and session
// test the same through their loaders (TestInputBounds, TestLoadBounds).
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, 100); !errors.Is(err, ErrNotRegular) || err.Error() != "not a regular file (a directory)" {
		t.Errorf("directory: %v", err)
	}
	if _, _, err := Open(small, 9); !errors.Is(err, ErrTooLarge) || err.Error() != "10 bytes, over the size limit of 9 bytes" {
		t.Errorf("over the limit: %v", err)
	}
	_, _, err := Open(filepath.Join(dir, "missing"), 100)
	if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Op != "open" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want an open *fs.PathError", err)
	}
	f, size, err := Open(small, 10)
	if err != nil || size != 10 {
		t.Fatalf("at the limit: %v, size %d", err, size)
	}
	f.Close()
	if data, err := ReadAll(small, 10); err != nil || string(data) != "0123456789" {
		t.Errorf("ReadAll: %q, %v", data, err)
	}
}
