package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
)

// runIn runs flowaudit with stdin as its standard input.
func runIn(t *testing.T, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := runStdin(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestStdinInputs: "-" reads standard input for captures (replay, flows,
// gzip too) and for sessions and reports (report, diff), with the same
// result as the file, and stands as "stdin" in the output.
func TestStdinInputs(t *testing.T) {
	fx := newCLIFixture(t)
	pcap := mustRead(t, fx.bad)
	audit := []string{"replay", "--catalog", fx.catalog, "-p", "testmail", "--host", "192.0.2.10", "--fail-on", "none", "-f", "json"}

	fromFile, _, err := runCLI(t, append(slicesClone(audit), fx.bad)...)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"pcap": pcap, "gzip": gzipped(t, pcap)} {
		out, stderr, err := runIn(t, in, append(slicesClone(audit), "-")...)
		if err != nil {
			t.Fatalf("replay - (%s): %v %s", name, err, stderr)
		}
		var rep analyze.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if files := rep.Capture.Files; len(files) != 1 || files[0] != "stdin" {
			t.Errorf("replay - (%s): the report's files are %q, want [stdin]", name, files)
		}
		if strings.ReplaceAll(out, `"stdin"`, `"`+fx.bad+`"`) != fromFile {
			t.Errorf("replay - (%s): the report differs from the file's", name)
		}
	}

	flowsFile, _, _ := runCLI(t, "flows", "-f", "zeek", fx.bad)
	flowsIn, _, err := runIn(t, gzipped(t, pcap), "flows", "-f", "zeek", "-")
	if err != nil || dropZeekStamps(flowsIn) != dropZeekStamps(flowsFile) {
		t.Errorf("flows - (gzip): %v\n%s\nwant\n%s", err, flowsIn, flowsFile)
	}

	repFile, _, _ := runCLI(t, "report", "-f", "json", "--fail-on", "none", fx.session)
	repIn, stderr, err := runIn(t, mustRead(t, fx.session), "report", "-f", "json", "--fail-on", "none", "-")
	if err != nil || repIn != repFile {
		t.Errorf("report -: %v %s: differs from the file's report", err, stderr)
	}

	diffIn, stderr, err := runIn(t, mustRead(t, fx.before), "diff", "-f", "json", "--fail-on", "none", "-", fx.after)
	var d analyze.Diff
	if err != nil || json.Unmarshal([]byte(diffIn), &d) != nil || d.Before.File != "stdin" || d.After.File != fx.after || d.Summary.Fixed != 1 {
		t.Errorf("diff - AFTER: %v %s: before %q after %q, %+v", err, stderr, d.Before.File, d.After.File, d.Summary)
	}
	// A session on stdin against a report.
	diffIn, stderr, err = runIn(t, mustRead(t, fx.session), "diff", "-f", "json", "--fail-on", "none",
		"--catalog", fx.catalog, "-p", "testmail", "--host", "192.0.2.10", fx.after, "-")
	if err != nil || json.Unmarshal([]byte(diffIn), &d) != nil || d.After.File != "stdin" || d.After.Kind != kindSession {
		t.Errorf("diff BEFORE - (a session): %v %s: after %q %q", err, stderr, d.After.File, d.After.Kind)
	}
}

// dropZeekStamps removes conn.log's #open and #close lines (wall time).
func dropZeekStamps(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#open") && !strings.HasPrefix(l, "#close") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestStdinErrors: "-" at most once per command; errors name "stdin";
// --max-input-size bounds standard input as it bounds files.
func TestStdinErrors(t *testing.T) {
	fx := newCLIFixture(t)
	session := mustRead(t, fx.session)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the copies of stdin go

	for _, tc := range []struct {
		in   []byte
		args []string
		want string
	}{
		{nil, []string{"replay", "-p", "mailcleaner", "-", "-"}, "- (standard input) is given 2 times: it can be read once"},
		{nil, []string{"flows", "-", fx.bad, "-"}, "- (standard input) is given 2 times"},
		{nil, []string{"report", "-", "-"}, "- (standard input) is given 2 times"},
		{nil, []string{"diff", "-", "-"}, "- (standard input) is given 2 times"},
		{[]byte("not a capture"), []string{"flows", "-"}, "open capture stdin: not a pcap or pcapng file"},
		{nil, []string{"replay", "-p", "mailcleaner", "-"}, "open capture stdin: empty file"},
		{session[:100], []string{"report", "-"}, "session stdin: corrupt session file"},
		{session, []string{"report", "--max-input-size", "1KiB", "-"}, "session stdin: over the size limit of 1 KiB (--max-input-size raises the limit)"},
		{session, []string{"diff", "--max-input-size", "1KiB", "-", fx.after}, "diff input stdin: over the size limit of 1 KiB"},
		{[]byte("{}"), []string{"diff", "-", fx.after}, "diff input stdin: neither a flowaudit JSON report"},
	} {
		var errb bytes.Buffer
		err := runStdin(context.Background(), tc.args, bytes.NewReader(tc.in), &bytes.Buffer{}, &errb)
		code := exitCode(err, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, errb.String(), tc.want)
		}
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("copies of stdin left behind: %v", entries)
	}
}
