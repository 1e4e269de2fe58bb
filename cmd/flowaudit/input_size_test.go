//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/catalog"
)

// sparse makes a file of n bytes that costs neither disk nor time.
func sparse(t *testing.T, path string, n int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(n); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInputFileBounds: a catalog, site or session file that is a device,
// a named pipe or a directory, or is larger than the limit, is refused in
// one line naming it, with exit status 2, and at once (a named pipe used
// to block, /dev/zero to be read until memory ran out: issue 10, row 4).
// --max-input-size raises (or lowers) the limit for all three.
func TestInputFileBounds(t *testing.T) {
	dir := fixture(t)
	cat := filepath.Join(dir, "testmail.yaml")
	pcap := filepath.Join(dir, "good.pcap")
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	bigCat := sparse(t, filepath.Join(dir, "big.yaml"), catalog.MaxFileSize+1)
	bigSession := sparse(t, filepath.Join(dir, "big.json"), session.MaxFileSize+1)
	sess := filepath.Join(dir, "s.json")
	if _, _, err := runCLI(t, "replay", "--catalog", cat, "-p", "testmail", "--fail-on", "none", "--session", sess, "-o", filepath.Join(dir, "r.json"), pcap); err != nil {
		t.Fatal(err)
	}
	replay := []string{"replay", "--catalog", cat, "-p", "testmail", "--host", "192.0.2.10", "-f", "json", pcap}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"catalog /dev/zero", []string{"catalog", "list", "--catalog", "/dev/zero"}, "load catalog /dev/zero: not a regular file (a character device)"},
		{"catalog pipe", []string{"catalog", "show", "testmail", "--catalog", fifo}, "load catalog " + fifo + ": not a regular file (a named pipe)"},
		{"catalog too large", []string{"catalog", "validate", bigCat}, "load catalog or site file " + bigCat + ": 4194305 bytes, over the size limit of 4 MiB (--max-input-size raises the limit)"},
		{"site pipe", append(replay, "--site", fifo), "load site " + fifo + ": not a regular file (a named pipe)"},
		{"site directory", []string{"catalog", "export", "testmail", "-f", "nftables", "--catalog", cat, "--site", dir}, "load site " + dir + ": not a regular file (a directory)"},
		{"site /dev/zero, capture", []string{"capture", "-i", "lo", "-p", "mailcleaner", "--site", "/dev/zero"}, "load site /dev/zero: not a regular file (a character device)"},
		{"session /dev/zero", []string{"report", "-p", "mailcleaner", "/dev/zero"}, "session /dev/zero: not a regular file (a character device)"},
		{"session pipe", []string{"report", "-p", "mailcleaner", sess, fifo}, "session " + fifo + ": not a regular file (a named pipe)"},
		{"session too large", []string{"report", "-p", "mailcleaner", bigSession}, "session " + bigSession + ": 1073741825 bytes, over the size limit of 1 GiB (--max-input-size raises the limit)"},
		{"limit lowered", []string{"report", "--catalog", cat, "-p", "testmail", "--max-input-size", "1KiB", sess}, "over the size limit of 1 KiB (--max-input-size raises the limit)"},
		{"limit raised", []string{"catalog", "validate", "--max-input-size", "8MiB", bigCat}, bigCat + ": not valid YAML"},
		{"limit not a size", []string{"report", "-p", "mailcleaner", "--max-input-size", "64MB", sess}, `--max-input-size "64MB": want a size such as 16MiB`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			var stdout, stderr strings.Builder
			go func() { done <- run(context.Background(), tc.args, &stdout, &stderr) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("no answer within 20 s: the input is being read")
			}
			if err == nil || exitCode(err, devNull(t)) != 2 {
				t.Fatalf("error %v, want exit status 2", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line containing %q", msg, tc.want)
			}
		})
	}
	// Raised for sessions, the limit reads the session as usual.
	if _, _, err := runCLI(t, "report", "--catalog", cat, "-p", "testmail", "--fail-on", "none", "--max-input-size", "2GiB", sess); err != nil {
		t.Errorf("report with a raised limit: %v", err)
	}
}
