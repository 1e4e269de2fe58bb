package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/internal/labtest"
)

// fullDisk mounts a 64 KiB tmpfs, fills it, and returns its directory.
func fullDisk(t *testing.T) string {
	t.Helper()
	labtest.Require(t)
	mnt := filepath.Join(t.TempDir(), "full")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err == nil {
		t.Fatal("a 64 KiB tmpfs took 1 MiB")
	}
	return mnt
}

// TestPrivilegedSessionDiskFull: with --session on a full filesystem,
// replay and capture still write the report, exit with status 2 and say
// in one line which session could not be written; no temporary file is
// left on the full disk (issue 10, row 12).
func TestPrivilegedSessionDiskFull(t *testing.T) {
	full := fullDisk(t)
	dir := fixture(t)
	sess := filepath.Join(full, "s.json")
	want := "save session: write " + sess + ": no space left on device"
	check := func(t *testing.T, code int, msg, report string) {
		t.Helper()
		if code != 2 || !strings.Contains(msg, want) {
			t.Errorf("exit status %d, message %q: want 2 and %q", code, msg, want)
		}
		if fi, err := os.Stat(report); err != nil || fi.Size() == 0 {
			t.Errorf("report not written: %v", err)
		}
		if ents, _ := os.ReadDir(full); len(ents) != 1 {
			t.Errorf("%d entries on the full disk, want only the filler", len(ents))
		}
	}
	t.Run("replay", func(t *testing.T) {
		out := filepath.Join(dir, "replay.json")
		_, _, err := runCLI(t, "replay", "--catalog", filepath.Join(dir, "testmail.yaml"), "-p", "testmail",
			"--fail-on", "none", "--session", sess, "-o", out, filepath.Join(dir, "good.pcap"))
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		check(t, exitCode(err, devNull(t)), msg, out)
	})
	t.Run("capture", func(t *testing.T) {
		l := labtest.Up(t)
		out := filepath.Join(dir, "capture.json")
		c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "--backend", "afpacket", "-p", "mailcleaner",
			"--duration", "2s", "--fail-on", "none", "-o", out, "--session", sess)
		l.Exec(labtest.Gateway, "ping", "-c", "2", "-i", "0.2", "-W", "1", "192.0.2.1")
		code := c.wait(t, 15*time.Second)
		check(t, code, c.stderr.String(), out)
	})
}
