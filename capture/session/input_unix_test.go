//go:build unix

package session

import (
	"path/filepath"
	"syscall"
	"testing"
)

// fifo makes a named pipe in dir: opening it for reading would wait for a
// writer forever.
func fifo(t *testing.T, dir string) string {
	p := filepath.Join(dir, "pipe.json")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
