package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSessionNotWritten: when the session cannot be written (a full disk;
// here /dev/full, whose every write fails with ENOSPC), the report is
// still written and the exit status is 2 with one line naming the session
// (issue 10, row 12).
func TestSessionNotWritten(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	dir := fixture(t)
	cat := filepath.Join(dir, "testmail.yaml")
	pcap := filepath.Join(dir, "good.pcap")
	for _, tc := range []struct {
		name   string
		output string // "" for stdout
	}{{"report to a file", filepath.Join(dir, "r.json")}, {"report to stdout", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"replay", "--catalog", cat, "-p", "testmail", "--fail-on", "none", "-f", "json", "--session", "/dev/full", pcap}
			if tc.output != "" {
				args = append(args, "-o", tc.output)
			}
			stdout, _, err := runCLI(t, args...)
			if err == nil || exitCode(err, devNull(t)) != 2 {
				t.Fatalf("error %v, want exit status 2", err)
			}
			want := "save session: write /dev/full: no space left on device"
			if msg := err.Error(); msg != want {
				t.Errorf("error %q, want %q", msg, want)
			}
			report := []byte(stdout)
			if tc.output != "" {
				if report, err = os.ReadFile(tc.output); err != nil {
					t.Fatalf("the report was not written: %v", err)
				}
			}
			var rep struct {
				Requirements []json.RawMessage `json:"requirements"`
			}
			if err := json.Unmarshal(report, &rep); err != nil || len(rep.Requirements) == 0 {
				t.Errorf("the report is not whole (%v): %.200s", err, report)
			}
			if tc.output != "" && strings.TrimSpace(stdout) != "" {
				t.Errorf("stdout %q, want nothing (the report went to its file)", stdout)
			}
		})
	}
}
