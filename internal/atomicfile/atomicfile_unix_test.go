//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestAtomicFileDevice: a path that is a device or a named pipe is written
// in place, never replaced by a renamed file.
func TestAtomicFileDevice(t *testing.T) {
	if err := WriteFile(os.DevNull, func(f *os.File) error { _, err := f.WriteString("x"); return err }); err != nil {
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
	if err := WriteFile(fifo, func(f *os.File) error { _, err := f.WriteString("report"); return err }); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "report" {
		t.Errorf("read %q from the pipe, want %q", s, "report")
	}
	if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
}

// TestAtomicFileModes: a new file follows the umask, a replaced one keeps
// its permissions (issue 10, row 11: both used to be forced to 0644).
func TestAtomicFileModes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		umask    int
		existing os.FileMode // 0: no file there
		want     os.FileMode
	}{
		{"new, umask 022", 0o022, 0, 0o644},
		{"new, umask 077", 0o077, 0, 0o600},
		{"new, umask 002", 0o002, 0, 0o664},
		{"replacing 0600, umask 022", 0o022, 0o600, 0o600},
		{"replacing 0640, umask 077", 0o077, 0o640, 0o640},
		{"replacing 0644, umask 077", 0o077, 0o644, 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report.json")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old"), tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil { // WriteFile's mode is masked
					t.Fatal(err)
				}
			}
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			var tmpMode os.FileMode
			err := WriteFile(path, func(f *os.File) error {
				fi, err := f.Stat()
				tmpMode = fi.Mode().Perm()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode %#o, want %#o", got, tc.want)
			}
			if tmpMode&^tc.want != 0 {
				t.Errorf("the temporary file was %#o: wider than the result %#o", tmpMode, tc.want)
			}
		})
	}
}
