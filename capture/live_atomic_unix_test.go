//go:build unix

package capture

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestAtomicFileDevice: a path that is a device or a named pipe is written
// in place, never replaced by a renamed file.
func TestAtomicFileDevice(t *testing.T) {
	if err := WriteFileAtomic(os.DevNull, func(f *os.File) error { _, err := f.WriteString("x"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", os.DevNull, fi.Mode(), err)
	}
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	if err := WriteFileAtomic(fifo, func(f *os.File) error { _, err := f.WriteString("report"); return err }); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "report" {
		t.Errorf("read %q from the pipe, want %q", s, "report")
	}
	if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
}
