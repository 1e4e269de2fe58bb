package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportFormats runs replay with each human format, to stdout (not a
// terminal: no colour) and to files, where "auto" follows the extension.
func TestReportFormats(t *testing.T) {
	dir := fixture(t)
	bad := filepath.Join(dir, "bad.pcap")
	base := []string{"replay", "--catalog", filepath.Join(dir, "testmail.yaml"), "-p", "testmail", "--host", "192.0.2.10"}
	tests := []struct {
		name   string
		args   []string
		output string // file to write; "" is stdout
		prefix string // what the report starts with
	}{
		{"table", []string{"-f", "table"}, "", "3 requirements: 1 ok, 1 blocked, 1 not applicable; 1 unexpected\n"},
		{"markdown", []string{"-f", "markdown"}, "", "# flowaudit report: testmail\n"},
		{"html", []string{"-f", "html"}, "", "<!DOCTYPE html>"},
		{"auto to a pipe is the table", nil, "", "3 requirements: 1 ok, 1 blocked, 1 not applicable; 1 unexpected\n"},
		{"auto by extension: json", nil, "r.json", "{\n  \"schema\""},
		{"auto by extension: html", nil, "r.html", "<!DOCTYPE html>"},
		{"auto by extension: md", nil, "r.md", "# flowaudit report"},
		{"auto by extension: txt", nil, "r.txt", "3 requirements"},
		{"unknown extension: -f says", []string{"-f", "table"}, "r.out", "3 requirements"},
		{"-f repeats the extension", []string{"-f", "json"}, "r2.json", "{"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(append([]string{}, base...), tc.args...), bad)
			path := ""
			if tc.output != "" {
				path = filepath.Join(t.TempDir(), tc.output)
				args = append(args, "--output", path)
			}
			out, stderr, err := runCLI(t, args...)
			if !isFindings(err) {
				t.Fatalf("want findings (exit 1), got %v; stderr %s", err, stderr)
			}
			if path != "" {
				if out != "" {
					t.Errorf("stdout not empty with --output: %q", out)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				out = string(b)
			}
			if !strings.HasPrefix(out, tc.prefix) {
				t.Errorf("report starts %q, want %q", headOf(out, 80), tc.prefix)
			}
			if strings.Contains(out, "\x1b") {
				t.Error("escape codes in a pipe or file")
			}
		})
	}
}

func headOf(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
