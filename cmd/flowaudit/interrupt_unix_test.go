//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestInterruptStatus: the exit status of an interrupted read follows the
// signal that stopped it, which main gives the context as its cause: 130
// for SIGINT, 143 for SIGTERM (issue 10, row 13: SIGTERM gave 130).
func TestInterruptStatus(t *testing.T) {
	dir := fixture(t)
	big := filepath.Join(dir, "big.pcap")
	var segs []seg
	for i := range 3000 {
		segs = append(segs, handshake("203.0.113.5", uint16(10000+i), "192.0.2.10", 25)...)
	}
	writePcap(t, big, segs)
	for _, tc := range []struct {
		cause error
		want  int
	}{{signalCause{syscall.SIGTERM}, 143}, {signalCause{os.Interrupt}, 130}, {nil, 130}} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(tc.cause)
		for _, args := range [][]string{{"flows", "-f", "zeek", big}, {"replay", "-p", "mailcleaner", "--host", "192.0.2.10", "-f", "json", big}} {
			var stdout, stderr bytes.Buffer
			err := run(ctx, args, &stdout, &stderr)
			if !errors.Is(err, errInterrupted) {
				t.Fatalf("%s, cause %v: error %v, want errInterrupted", args[0], tc.cause, err)
			}
			if code := exitCode(err, devNull(t)); code != tc.want {
				t.Errorf("%s, cause %v: exit status %d, want %d", args[0], tc.cause, code, tc.want)
			}
		}
	}
}

// TestSIGTERMReplay sends SIGTERM to a `flowaudit replay` reading a named
// pipe that is still being written: it writes the partial report and
// exits with 143, as a command SIGTERM ended.
func TestSIGTERMReplay(t *testing.T) {
	bin := flowauditBinary(t)
	dir := fixture(t)
	fifo := filepath.Join(dir, "live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	out := filepath.Join(dir, "r.json")
	cmd := exec.Command(bin, "replay", "-p", "mailcleaner", "--host", "192.0.2.10", "-f", "json", "-o", out, fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Opening for writing returns once replay has opened it for reading,
	// and so has set up its signal handling.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	src := filepath.Join(dir, "src.pcap")
	var segs []seg
	for i := range 300 {
		segs = append(segs, handshake("203.0.113.5", uint16(10000+i), "192.0.2.10", 25)...)
	}
	writePcap(t, src, segs)
	pcap, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pcap); err != nil {
		t.Fatal(err)
	}
	records := pcap[24:] // whole records: written again and again after the signal
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The stop takes effect at the next data: keep writing until replay
	// has gone (the pipe then breaks).
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 143 {
				t.Fatalf("replay ended with %v, want exit status 143; stderr: %s", err, stderr.String())
			}
			if b, err := os.ReadFile(out); err != nil || !json.Valid(b) {
				t.Errorf("partial report not written: %v", err)
			}
			return
		case <-deadline:
			t.Fatalf("replay still running 20 s after SIGTERM; stderr: %s", stderr.String())
		default:
			w.Write(records) // fails once replay is gone
		}
	}
}
