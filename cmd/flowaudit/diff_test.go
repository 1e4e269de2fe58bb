package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/flowaudit/flowaudit/analyze/render"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/catalog"
)

// maintenanceCaptures are the lab's recording of the mailcleaner scenario
// before and after one firewall change (razor over IPv6 accepted), paths
// relative to the repository root as the README gives them.
var maintenanceCaptures = []string{"testdata/lab/captures/maintenance-before.pcap", "testdata/lab/captures/maintenance-after.pcap"}

// testRoot is the repository root, found before any test changes the
// working directory.
var testRoot, testRootErr = filepath.Abs(filepath.Join("..", ".."))

func repoRoot(t *testing.T) string {
	t.Helper()
	if testRootErr != nil {
		t.Fatal(testRootErr)
	}
	if _, err := os.Stat(filepath.Join(testRoot, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", testRoot, err)
	}
	return testRoot
}

// diffFormatsExt maps each format to its golden file's extension.
var diffFormatsExt = map[string]string{"table": "txt", "markdown": "md", "html": "html", "json": "json"}

// TestDiffGolden pins every format of two diffs: the synthetic reports
// (every category, a reason change, requirements on one side only,
// not-applicable on one side, the coming "inconclusive" status) and the
// lab captures before and after the razor change. `go test
// ./cmd/flowaudit -run DiffGolden -update` rewrites them.
func TestDiffGolden(t *testing.T) {
	dirs := map[string]string{"synthetic": syntheticDiffDir(t), "lab": labDiffDir(t)}
	for _, name := range []string{"synthetic", "lab"} {
		for format, ext := range diffFormatsExt {
			t.Run(name+"/"+format, func(t *testing.T) {
				goldenPath := filepath.Join(repoRoot(t), "cmd", "flowaudit", "testdata", "diff", name+"."+ext)
				t.Chdir(dirs[name]) // the file names in the diff stay before.json and after.json
				out, stderr, err := runCLI(t, "diff", "-f", format, "--fail-on", "none", "before.json", "after.json")
				if err != nil {
					t.Fatalf("%v (stderr %s)", err, stderr)
				}
				golden(t, goldenPath, out)
			})
		}
	}
}

// labDiffDir replays the two maintenance captures into JSON reports, as
// the README's maintenance day does, and returns their directory.
func labDiffDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(repoRoot(t))
	for i, name := range []string{"before", "after"} {
		_, stderr, err := runCLI(t, "replay", "-p", "mailcleaner", "-f", "json", "-o", filepath.Join(dir, name+".json"),
			"--session", filepath.Join(dir, name+".session"), "--fail-on", "none", maintenanceCaptures[i])
		if err != nil {
			t.Fatalf("replay %s: %v (stderr %s)", maintenanceCaptures[i], err, stderr)
		}
	}
	return dir
}

// syntheticDiffDir writes the synthetic reports and returns their
// directory.
func syntheticDiffDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	before, after := syntheticDiffReports()
	for name, rep := range map[string]*analyze.Report{"before": before, "after": after} {
		writeReportFile(t, filepath.Join(dir, name+".json"), rep)
	}
	return dir
}

func writeReportFile(t *testing.T, path string, rep *analyze.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := writeReportJSON(&b, rep, render.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var synT0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// synReq is a requirement of product acme for the synthetic diff.
func synReq(id string, dir catalog.Direction, port uint16, service string, st analyze.Status, peer string, reasons ...analyze.Reason) analyze.Requirement {
	r := analyze.Requirement{Product: "acme", ID: "acme/" + id, Direction: dir, Protocol: catalog.TCP,
		Ports: []catalog.PortRange{{port, port}}, Service: service, Allowed: []catalog.Peer{{Kind: catalog.PeerAny}}, Status: st,
		Reasons: []analyze.ReasonCount{}, Peers: []analyze.PeerSeen{}}
	var c analyze.Counts
	for _, rs := range reasons {
		r.Reasons = append(r.Reasons, analyze.ReasonCount{Reason: rs, Text: rs.Text(), Flows: 1})
		c.Flows++
		c.Attempts++
		switch rs {
		case analyze.ReasonRejected, analyze.ReasonRefusedByGateway:
			c.Rejected++
		case analyze.ReasonAdminProhibited:
			c.Unreachable++
		default:
			c.Unanswered++
		}
	}
	if len(reasons) > 0 {
		r.Reason, r.ReasonText = reasons[0], reasons[0].Text()
	}
	if st == analyze.OK || st == analyze.Partial {
		c.Flows++
		c.Attempts++
		c.Established++
	}
	if peer != "" {
		r.Peers = []analyze.PeerSeen{{Addr: netip.MustParseAddr(peer), Names: []string{id + ".example.test"}, Counts: c}}
		first, last := synT0.Add(time.Second), synT0.Add(3*time.Second)
		r.FirstSeen, r.LastSeen = &first, &last
	}
	r.Counts = c
	return r
}

func synReport(file string, start time.Time, reqs []analyze.Requirement, groups ...analyze.UnexpectedFlow) *analyze.Report {
	rep := &analyze.Report{Schema: analyze.SchemaVersion, Tool: "flowaudit test",
		Products: []analyze.ProductSummary{{Name: "acme", Title: "Acme Mail", Requirements: len(reqs)}},
		Hosts:    analyze.Hosts{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, How: "given with --host"},
		Features: map[string]bool{"cluster": false}, Zones: map[string][]netip.Prefix{},
		Requirements: reqs, Unexpected: groups, Housekeeping: []analyze.Housekeeping{}, Warnings: []string{},
		Capture: analyze.CaptureSummary{Backend: "file", Files: []string{file}, Start: start, End: start.Add(90 * time.Second),
			Seconds: 90, Packets: 400, Flows: 60, Loss: []string{}, Nodes: []string{}, Warnings: []string{}}}
	for _, r := range reqs {
		switch r.Status {
		case analyze.OK:
			rep.Summary.OK++
		case analyze.Blocked:
			rep.Summary.Blocked++
		case analyze.Partial:
			rep.Summary.Partial++
		case analyze.NeverSeen:
			rep.Summary.NeverSeen++
		case analyze.NotApplicable:
			rep.Summary.NotApplicable++
		}
	}
	rep.Summary.Requirements, rep.Summary.Unexpected = len(reqs), len(groups)
	return rep
}

func synGroup(dir catalog.Direction, port uint16, peer string, flows int, note ...string) analyze.UnexpectedFlow {
	return analyze.UnexpectedFlow{Direction: dir, Protocol: "tcp", Port: port,
		Counts:   analyze.Counts{Flows: flows, Attempts: flows, Established: flows},
		Outcomes: []string{"established"}, Reasons: []analyze.ReasonCount{},
		Peers: []analyze.PeerSeen{{Addr: netip.MustParseAddr(peer), Names: []string{}, Counts: analyze.Counts{Flows: flows, Attempts: flows, Established: flows}}},
		Nodes: []string{}, ByNode: []analyze.NodeCounts{}, FirstSeen: synT0, LastSeen: synT0.Add(time.Minute),
		PeerNotAllowed: note, NotApplicable: []string{}}
}

// syntheticDiffReports are two reports of one gateway holding every diff
// category.
func syntheticDiffReports() (before, after *analyze.Report) {
	const in, out = catalog.In, catalog.Out
	never := synReq("out-tcp-80-http", out, 80, "HTTP", analyze.NeverSeen, "")
	never.Note = "1 attempt(s) still waiting for an answer when the capture ended (pending, not judged): 198.51.100.80"
	before = synReport("before.pcap", synT0, []analyze.Requirement{
		synReq("out-tcp-25-smtp", out, 25, "SMTP", analyze.OK, "198.51.100.25"),
		synReq("in-tcp-25-smtp", in, 25, "SMTP", analyze.OK, "203.0.113.5"),
		synReq("out-tcp-22-updates", out, 22, "SSH", analyze.Blocked, "203.0.113.22", analyze.ReasonUnanswered),
		synReq("out-tcp-2703-razor", out, 2703, "Razor", analyze.Partial, "2001:db8:b::7", analyze.ReasonRejected),
		synReq("out-tcp-6277-dcc", out, 6277, "DCC", analyze.Blocked, "198.51.100.62", analyze.ReasonAdminProhibited),
		synReq("out-tcp-7-razor", out, 7, "Razor", analyze.Blocked, "198.51.100.7", analyze.ReasonAdminProhibited),
		synReq("in-tcp-443-web", in, 443, "HTTPS", analyze.Blocked, "203.0.113.10", analyze.ReasonRefusedByGateway),
		synReq("out-tcp-443-web", out, 443, "HTTPS", analyze.Partial, "2001:db8:b::80", analyze.ReasonAdminProhibited),
		synReq("out-tcp-53-dns", out, 53, "DNS", analyze.OK, "198.51.100.53"),
		synReq("out-tcp-24441-pyzor", out, 24441, "Pyzor", "inconclusive", "198.51.100.24"),
		never,
		synReq("in-tcp-22-ssh", in, 22, "SSH", analyze.OK, "203.0.113.10"),
		synReq("in-tcp-3306-cluster", in, 3306, "MySQL", analyze.NotApplicable, ""),
		synReq("out-tcp-3306-cluster", out, 3306, "MySQL", analyze.NotApplicable, ""),
		synReq("out-tcp-873-rsync", out, 873, "rsync", analyze.Blocked, "198.51.100.73", analyze.ReasonUnanswered),
	}, synGroup(out, 6667, "203.0.113.66", 2), synGroup(in, 3389, "198.51.100.99", 1))
	after = synReport("after.pcap", synT0.Add(time.Hour), []analyze.Requirement{
		synReq("out-tcp-25-smtp", out, 25, "SMTP", analyze.Blocked, "198.51.100.25", analyze.ReasonRejected),
		synReq("in-tcp-25-smtp", in, 25, "SMTP", analyze.OK, "203.0.113.5"),
		synReq("out-tcp-22-updates", out, 22, "SSH", analyze.Blocked, "203.0.113.22", analyze.ReasonUnanswered),
		synReq("out-tcp-2703-razor", out, 2703, "Razor", analyze.OK, "2001:db8:b::7"),
		synReq("out-tcp-6277-dcc", out, 6277, "DCC", analyze.Blocked, "198.51.100.62", analyze.ReasonUnanswered),
		synReq("out-tcp-7-razor", out, 7, "Razor", "inconclusive", "198.51.100.7"),
		synReq("in-tcp-443-web", in, 443, "HTTPS", analyze.NeverSeen, ""),
		synReq("out-tcp-443-web", out, 443, "HTTPS", analyze.Blocked, "2001:db8:b::80", analyze.ReasonAdminProhibited),
		synReq("out-tcp-53-dns", out, 53, "DNS", analyze.OK, "198.51.100.53"),
		synReq("out-tcp-24441-pyzor", out, 24441, "Pyzor", analyze.OK, "198.51.100.24"),
		never,
		synReq("in-tcp-22-ssh", in, 22, "SSH", analyze.OK, "203.0.113.10"),
		synReq("in-tcp-3306-cluster", in, 3306, "MySQL", analyze.NotApplicable, ""),
		synReq("out-tcp-3306-cluster", out, 3306, "MySQL", analyze.NeverSeen, ""),
		synReq("out-tcp-4190-sieve", out, 4190, "Sieve", analyze.OK, "198.51.100.41"),
	}, synGroup(out, 6667, "203.0.113.66", 1), synGroup(in, 22, "198.51.100.200", 3, "acme/in-tcp-22-ssh"))
	return before, after
}

// diffJSON is the part of a JSON diff these tests read.
type diffJSON struct {
	Schema       string              `json:"schema"`
	Summary      analyze.DiffSummary `json:"summary"`
	Mismatch     string              `json:"mismatch"`
	Requirements []struct {
		ID            string `json:"id"`
		Category      string `json:"category"`
		ReasonChanged bool   `json:"reason_changed"`
	} `json:"requirements"`
	Unexpected []struct {
		Category string `json:"category"`
	} `json:"unexpected"`
	Before, After struct {
		File, Kind string
	}
}

// TestDiffLab is the maintenance day over the lab's captures: before and
// after one nftables change (razor over IPv6 reset, then accepted), as
// reports, sessions, or one of each. out-tcp-2703-razor is fixed and
// nothing else changes: every other requirement keeps its status and
// reason, every unexpected group stays, exit status 0.
func TestDiffLab(t *testing.T) {
	dir := labDiffDir(t)
	t.Chdir(dir)
	for _, tc := range []struct {
		name  string
		args  []string
		kinds [2]string
	}{
		{"reports", []string{"before.json", "after.json"}, [2]string{"report", "report"}},
		{"sessions", []string{"-p", "mailcleaner", "before.session", "after.session"}, [2]string{"session", "session"}},
		{"report and session", []string{"-p", "mailcleaner", "before.json", "after.session"}, [2]string{"report", "session"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, append([]string{"diff", "-f", "json"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v, want exit status 0 (stderr %s)", err, stderr)
			}
			var d diffJSON
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			if d.Before.Kind != tc.kinds[0] || d.After.Kind != tc.kinds[1] {
				t.Errorf("kinds %s, %s, want %v", d.Before.Kind, d.After.Kind, tc.kinds)
			}
			checkLabDiff(t, d)
			_, _, err = runCLI(t, append([]string{"diff", "-f", "json", "--fail-on", "still-failing"}, tc.args...)...)
			if !isFindings(err) {
				t.Errorf("--fail-on still-failing: %v, want exit status 1", err)
			}
		})
	}
}

func checkLabDiff(t *testing.T, d diffJSON) {
	t.Helper()
	if d.Mismatch != "" {
		t.Errorf("mismatch %q", d.Mismatch)
	}
	quiet := []string{"still-failing", "still-ok", "never-seen", "not-applicable"}
	for _, r := range d.Requirements {
		switch {
		case r.ID == "mailcleaner/out-tcp-2703-razor":
			if r.Category != "fixed" {
				t.Errorf("%s: %s, want fixed", r.ID, r.Category)
			}
		case !slices.Contains(quiet, r.Category) || r.ReasonChanged:
			t.Errorf("%s: %s (reason changed %v): nothing else changed", r.ID, r.Category, r.ReasonChanged)
		}
	}
	for _, u := range d.Unexpected {
		if u.Category != "still-unexpected" {
			t.Errorf("unexpected group %s: nothing else changed", u.Category)
		}
	}
	s := d.Summary
	if s.Fixed != 1 || s.Regressions != 0 || s.StillFailing != 6 || s.StillUnexpected != 4 || s.NotApplicable != 13 || len(d.Requirements) != 27 {
		t.Errorf("summary %+v (%d requirements)", s, len(d.Requirements))
	}
}

// TestMaintenanceScenarioOneChange: the "after" scenario is the
// mailcleaner one with exactly one firewall rule changed, so the lab diff
// shows the effect of one change.
func TestMaintenanceScenarioOneChange(t *testing.T) {
	rows := func(name string) [][]string {
		f, err := os.Open(filepath.Join(repoRoot(t), "testdata", "lab", "scenarios", name+".tsv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out [][]string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, strings.Fields(l))
			}
		}
		return out
	}
	before, after := rows("mailcleaner"), rows("mailcleaner-razor-fixed")
	if len(before) != len(after) {
		t.Fatalf("%d rows before, %d after", len(before), len(after))
	}
	var changed []string
	for i := range before {
		if !slices.Equal(before[i], after[i]) {
			changed = append(changed, strings.Join(before[i], " ")+" => "+strings.Join(after[i], " "))
			b, a := slices.Clone(before[i]), slices.Clone(after[i])
			b[5], a[5] = "", ""
			if !slices.Equal(a, b) || before[i][8] != "razor-v6" || before[i][5] != "reset" || after[i][5] != "accept" {
				t.Errorf("row %d: more than razor-v6's firewall column changed: %s", i+1, changed[len(changed)-1])
			}
		}
	}
	if len(changed) != 1 {
		t.Errorf("%d rows changed, want exactly one: %q", len(changed), changed)
	}
}

// TestDiffExitStatus: 1 on what --fail-on lists (by default the
// regressions), 0 otherwise, whatever the format and output.
func TestDiffExitStatus(t *testing.T) {
	t.Chdir(syntheticDiffDir(t))
	for _, tc := range []struct {
		args     []string
		findings bool
	}{
		{[]string{"before.json", "after.json"}, true},
		{[]string{"--fail-on", "none", "before.json", "after.json"}, false},
		{[]string{"--fail-on", "fixed", "before.json", "after.json"}, true},
		{[]string{"--fail-on", "newly_failing", "-f", "markdown", "before.json", "after.json"}, true},
		{[]string{"--fail-on", "still-ok,gone-unexpected", "after.json", "after.json"}, true},
		{[]string{"--fail-on", "gone-unexpected", "after.json", "after.json"}, false},
		{[]string{"after.json", "after.json"}, false},
		{[]string{"before.json", "before.json"}, false},
	} {
		_, stderr, err := runCLI(t, append([]string{"diff", "-f", "json"}, tc.args...)...)
		if err != nil && !isFindings(err) {
			t.Errorf("%v: %v (stderr %s)", tc.args, err, stderr)
		}
		if isFindings(err) != tc.findings {
			t.Errorf("%v: findings %v, want %v", tc.args, isFindings(err), tc.findings)
		}
	}
}

// TestDiffOutputFile: -o picks the format from the extension (-f wins),
// writes nothing on stdout, says on stderr what it wrote, and keeps the
// exit status.
func TestDiffOutputFile(t *testing.T) {
	t.Chdir(syntheticDiffDir(t))
	for _, tc := range []struct {
		args []string
		file string
		want string
	}{
		{[]string{"-o", "change.md"}, "change.md", "# flowaudit diff: acme\n"},
		{[]string{"-o", "change.html"}, "change.html", "<!DOCTYPE html>"},
		{[]string{"-o", "change.json"}, "change.json", "{\n  \"schema\": \"flowaudit.diff/v1\""},
		{[]string{"-o", "change.txt"}, "change.txt", "after the change: 1 fixed"},
		{[]string{"-o", "change.out", "-f", "markdown"}, "change.out", "# flowaudit diff"},
	} {
		out, stderr, err := runCLI(t, append([]string{"diff", "before.json", "after.json"}, tc.args...)...)
		if !isFindings(err) {
			t.Errorf("%v: %v, want exit status 1 (the synthetic diff has regressions)", tc.args, err)
		}
		if out != "" {
			t.Errorf("%v: stdout %q, want nothing", tc.args, out)
		}
		if want := "flowaudit: wrote " + tc.file + ": after the change: 1 fixed, 1 newly failing"; !strings.HasPrefix(stderr, want) {
			t.Errorf("%v: stderr %q, want %q...", tc.args, stderr, want)
		}
		b, err := os.ReadFile(tc.file)
		if err != nil || !strings.HasPrefix(string(b), tc.want) {
			t.Errorf("%v: %s starts %.60q (%v), want %q", tc.args, tc.file, b, err, tc.want)
		}
	}
}

// TestDiffErrors: every usage or input error is one line naming the file
// or flag at fault, and exit status 2 (not findings).
func TestDiffErrors(t *testing.T) {
	dir := syntheticDiffDir(t)
	t.Chdir(dir)
	write := func(name, content string) string {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	report, _ := os.ReadFile("after.json")
	write("v2.json", strings.Replace(string(report), analyze.SchemaVersion, "flowaudit.report/v2", 1))
	write("cut.json", string(report[:len(report)/2]))
	write("other.json", `{"name": "x", "list": [1, 2, {"schema": "flowaudit.report/v1"}]}`)
	write("array.json", `[{"schema": "flowaudit.report/v1"}]`)
	write("dup.json", strings.Replace(string(report), `"acme/in-tcp-25-smtp"`, `"acme/out-tcp-25-smtp"`, 1))
	write("capture.pcap", "\xd4\xc3\xb2\xa1\x02\x00\x04\x00")
	diffOut, _, _ := runCLI(t, "diff", "-f", "json", "before.json", "after.json")
	write("diff.json", diffOut)
	if err := os.Mkdir("adir", 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "replay", "-p", "mailcleaner", "--session", "s.session", "-f", "json", "-o", "r.json",
		filepath.Join(repoRoot(t), maintenanceCaptures[0]))
	if err != nil && !isFindings(err) {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "diff: want two files, BEFORE and AFTER (reports or sessions), got 0"},
		{[]string{"before.json"}, "got 1"},
		{[]string{"before.json", "after.json", "after.json"}, "got 3"},
		{[]string{"--fail-on", "blocked", "before.json", "after.json"}, `--fail-on "blocked": unknown category "blocked" (want newly-failing, `},
		{[]string{"--fail-on", "none,fixed", "before.json", "after.json"}, `"none" cannot be combined`},
		{[]string{"--fail-on", "", "before.json", "after.json"}, `--fail-on "": give categories`},
		{[]string{"-f", "pdf", "before.json", "after.json"}, `unknown report format "pdf"`},
		{[]string{"before.json", "missing.json"}, "diff input missing.json: no such file or directory"},
		{[]string{"adir", "after.json"}, "diff input adir: not a regular file"},
		{[]string{"capture.pcap", "after.json"}, "diff input capture.pcap: not JSON, so neither a flowaudit JSON report nor a session (a capture? replay it"},
		{[]string{"before.json", "other.json"}, `diff input other.json: neither a flowaudit JSON report ("schema": "flowaudit.report/v1") nor a session ("format": "flowaudit-session")`},
		{[]string{"array.json", "after.json"}, "diff input array.json: neither a flowaudit JSON report"},
		{[]string{"diff.json", "after.json"}, "diff input diff.json is a diff (flowaudit.diff/v1), not a report"},
		{[]string{"before.json", "v2.json"}, `diff input v2.json: report schema "flowaudit.report/v2" is not supported (this flowaudit reads flowaudit.report/v1)`},
		{[]string{"before.json", "cut.json"}, "report cut.json: damaged JSON: unexpected EOF"},
		{[]string{"dup.json", "after.json"}, "report dup.json: requirement acme/out-tcp-25-smtp is listed twice"},
		{[]string{"-p", "acme", "before.json", "after.json"}, "--product audits sessions, but before.json and after.json are both reports, audited already"},
		{[]string{"--with", "cluster", "before.json", "after.json"}, "--with audits sessions"},
		{[]string{"r.json", "s.session"}, "session s.session is audited for the diff: no product given: use --product with one or more of "},
		{[]string{"r.json", "s.session"}, "(the report r.json was audited against mailcleaner)"},
		{[]string{"-p", "nosuch", "r.json", "s.session"}, `nosuch`},
		{[]string{"-o", "after.json", "before.json", "after.json"}, "--output after.json is also an input (after.json): writing it would destroy it"},
	} {
		out, stderr, err := runCLI(t, append([]string{"diff"}, tc.args...)...)
		if err == nil || isFindings(err) {
			t.Errorf("%v: err %v, want a usage or input error", tc.args, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v: error %q, want one line with %q", tc.args, msg, tc.want)
		}
		if out != "" || strings.Contains(stderr, "Usage") {
			t.Errorf("%v: stdout %q, stderr %q", tc.args, out, stderr)
		}
		if code := exitCode(err, new(bytes.Buffer)); code != 2 {
			t.Errorf("%v: exit status %d, want 2", tc.args, code)
		}
	}
}
