package main

import (
	"os"
	"strings"
	"testing"
)

// TestUsageErrors: misuse of the command line is one line on stderr and
// exit status 2, in words a user can act on.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nosuch"}, `help: no command "nosuch" (flowaudit --help lists them)`},
		{[]string{"flows", "--max-flows", "abc", "x.pcap"}, `--max-flows "abc": not a whole number`},
		{[]string{"flows", "--max-flows", "99999999999999999999", "x.pcap"}, `--max-flows "99999999999999999999": out of range`},
		{[]string{"flows", "--max-flows", "-2", "x.pcap"}, `--max-flows -2: want a positive number`},
		{[]string{"capture", "-i", "lo", "-p", "mailcleaner", "--duration", "5q"}, `--duration "5q": not a duration (e.g. 90s, 30m, 2h)`},
		{[]string{"capture", "-i", "lo", "-p", "mailcleaner", "--duration", "-5s"}, `--duration -5s: want a positive duration`},
		{[]string{"capture", "-i", "lo", "-p", "mailcleaner", "--max-flows", "-3"}, `--max-flows -3: want a positive number`},
		{[]string{"capture", "-i", "lo", "-p", "mailcleaner", "-o", "/proc/r.json"}, `--output /proc/r.json: cannot write in /proc`},
		{[]string{"capture", "-i", "lo", "-p", "mailcleaner", "--node", "gw1", "--session", "s.json", "--no-session"}, `--session and --no-session: give one`},
		{[]string{"flows", "../../testdata/example/gateway.pcap", "../../testdata/example/../example/gateway.pcap"}, `capture ../../testdata/example/../example/gateway.pcap is given twice`},
	} {
		_, _, err := runCLI(t, tc.args...)
		if err == nil || isFindings(err) {
			t.Errorf("%v: err %v, want a usage error", tc.args, err)
			continue
		}
		if msg := err.Error(); msg != tc.want && !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v: error %q, want one line starting %q", tc.args, msg, tc.want)
		}
	}
	// help with a known topic is help, and success.
	out, _, err := runCLI(t, "help", "replay")
	if err != nil || !strings.Contains(out, "Usage:") {
		t.Errorf("help replay: %v %q", err, out)
	}
	out, _, err = runCLI(t, "catalog", "help", "show")
	if err != nil || !strings.Contains(out, "catalog show PRODUCT") {
		t.Errorf("catalog help show: %v %q", err, out)
	}
	if _, _, err = runCLI(t, "catalog", "help", "nosuch"); err == nil || err.Error() != `catalog help: no subcommand "nosuch" (want list, show, validate or export)` {
		t.Errorf("catalog help nosuch: %v", err)
	}
}

// TestReportToStdoutWhenFileFails: a report that cannot be written to its
// file (here a full device) goes to stdout, and the error says so.
func TestReportToStdoutWhenFileFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	out, _, err := runCLI(t, "replay", "-p", "mailcleaner", "-f", "json", "-o", "/dev/full", "../../testdata/example/gateway.pcap")
	if err == nil || !strings.Contains(err.Error(), "(the report was written to stdout instead)") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want one line saying the report went to stdout", err)
	}
	if !strings.Contains(out, `"schema": "flowaudit.report/v1"`) {
		t.Errorf("no report on stdout: %.200s", out)
	}
}
