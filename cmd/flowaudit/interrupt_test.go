package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterruptedRead: when a signal (here a cancelled context) stops
// replay or flows before the end of their input, the partial output is
// still written, and the error is errInterrupted (exit status 130), not a
// success or a plain findings status that would pass a partial report off
// as complete.
func TestInterruptedRead(t *testing.T) {
	dir := fixture(t)
	big := filepath.Join(dir, "big.pcap")
	var segs []seg
	for i := range 3000 { // 9000 packets: several batches of the pipeline
		segs = append(segs, handshake("203.0.113.5", uint16(10000+i), "192.0.2.10", 25)...)
	}
	writePcap(t, big, segs)
	cat := filepath.Join(dir, "testmail.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		args []string
		out  string // file the partial output goes to ("" for stdout)
	}{
		{"replay", []string{"replay", "--catalog", cat, "-p", "testmail", "--host", "192.0.2.10", "-f", "json", "-o", filepath.Join(dir, "r.json"), big}, filepath.Join(dir, "r.json")},
		{"replay with session", []string{"replay", "--catalog", cat, "-p", "testmail", "--session", filepath.Join(dir, "s.json"), "-o", filepath.Join(dir, "r2.json"), big}, filepath.Join(dir, "s.json")},
		{"flows zeek", []string{"flows", "-f", "zeek", big}, ""},
		{"flows table", []string{"flows", big}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(ctx, tc.args, &stdout, &stderr)
			if !errors.Is(err, errInterrupted) {
				t.Fatalf("error %v, want errInterrupted; stderr %s", err, stderr.String())
			}
			if code := exitCode(err, devNull(t)); code != 130 {
				t.Errorf("exit status %d, want 130", code)
			}
			var got []byte
			if tc.out == "" {
				got = stdout.Bytes()
			} else if got, err = os.ReadFile(tc.out); err != nil {
				t.Fatalf("no partial output: %v", err)
			}
			if len(got) == 0 {
				t.Error("the partial output is empty")
			}
			if tc.name == "flows table" && !strings.Contains(stdout.String(), "capture loss seen: the replay was interrupted") {
				t.Errorf("the flows table does not say it is partial: %s", stdout.String())
			}
			if tc.name == "flows zeek" && strings.Count(stdout.String(), "\n") >= 9000/3+8 {
				t.Errorf("%d lines: all the flows, not part of them", strings.Count(stdout.String(), "\n"))
			}
		})
	}
	// Read to the end: not interrupted, whatever happens to ctx later.
	if _, _, err := runCLI(t, "flows", big); err != nil {
		t.Errorf("a complete read: %v", err)
	}
}

func devNull(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
