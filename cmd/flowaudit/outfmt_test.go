package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveFormat: the one rule by which -o and -f pick a format, for
// each kind of document.
func TestResolveFormat(t *testing.T) {
	dev := os.DevNull
	for _, tc := range []struct {
		set          formatSet
		flag, output string
		want, err    string
	}{
		{reportFileFormats, "auto", "", "table", ""},
		{reportFileFormats, "auto", "-", "table", ""},
		{reportFileFormats, "json", "-", "json", ""},
		{reportFileFormats, "auto", dev, "table", ""},
		{reportFileFormats, "auto", "r.json", "json", ""},
		{reportFileFormats, "auto", "R.HTML", "html", ""},
		{reportFileFormats, "auto", "r.htm", "html", ""},
		{reportFileFormats, "auto", "r.md", "markdown", ""},
		{reportFileFormats, "auto", "r.markdown", "markdown", ""},
		{reportFileFormats, "auto", "r.txt", "table", ""},
		{reportFileFormats, "html", "r.html", "html", ""},
		{reportFileFormats, "html", "r.out", "html", ""},
		{reportFileFormats, "auto", "r.out", "", "-o r.out: the extension .out picks no format: give -f table|json|markdown|html, or a file ending in .txt (table), .json (json), .md or .markdown (markdown), .html or .htm (html)"},
		{reportFileFormats, "auto", "dir/report", "", "-o dir/report: no extension to pick the format by: give -f table|json|markdown|html"},
		{reportFileFormats, "html", "r.json", "", "-o r.json: the extension .json means json, but -f is html: drop -f, or give a file ending in .html or .htm"},
		{reportFileFormats, "auto", "json", "", "-o json names the file to write, not the format: did you mean -f json?"},
		{reportFileFormats, "json", "json", "", "did you mean -f json?"},
		{reportFileFormats, "auto", "md", "", "did you mean -f markdown?"},
		{reportFileFormats, "auto", "HTML", "", "did you mean -f html?"},
		{reportFileFormats, "pdf", "", "", `unknown report format "pdf" (want table|json|markdown|html)`},
		{flowsFileFormats, "", "conn.log", "zeek", ""},
		{flowsFileFormats, "", "conn.tsv", "zeek", ""},
		{flowsFileFormats, "", "flows.json", "json", ""},
		{flowsFileFormats, "", "flows.txt", "table", ""},
		{flowsFileFormats, "", "zeek", "", "did you mean -f zeek?"},
		{flowsFileFormats, "", "flows.html", "", "-o flows.html: the extension .html picks no format: give -f table|json|zeek, or a file ending in .txt (table), .json (json), .log or .tsv (zeek)"},
		{flowsFileFormats, "json", "conn.log", "", "the extension .log means zeek, but -f is json"},
		{showFileFormats, "", "mc.md", "markdown", ""},
		{showFileFormats, "", "mc.html", "", "the extension .html picks no format"},
		{exportFileFormats, "", "", "nftables", ""},
		{exportFileFormats, "", "fw.nft", "nftables", ""},
		{exportFileFormats, "", "rules.v4", "iptables", ""},
		{exportFileFormats, "", "fw.rules", "iptables", ""},
		{exportFileFormats, "", "fw.iptables", "iptables", ""},
		{exportFileFormats, "", "rules.v6", "ip6tables", ""},
		{exportFileFormats, "", "fw.ip6tables", "ip6tables", ""},
		{exportFileFormats, "", "nftables", "", "did you mean -f nftables?"},
		{exportFileFormats, "iptables", "fw.nft", "", "the extension .nft means nftables, but -f is iptables: drop -f, or give a file ending in .v4 or .rules or .iptables"},
	} {
		def := "table"
		if tc.set.names() == exportFileFormats.names() {
			def = "nftables"
		}
		got, err := resolveFormat(tc.set, "report ", tc.flag, def, tc.output)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("-f %q -o %q: %q, %v; want %q", tc.flag, tc.output, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("-f %q -o %q: %q, %v; want an error with %q", tc.flag, tc.output, got, err, tc.err)
		}
	}
}

// cliFixture is fixture's directory with what the commands read: two
// JSON reports (good and bad) and a session of bad.pcap.
type cliFixture struct {
	dir, catalog, good, bad, before, after, session string
}

func newCLIFixture(t *testing.T) cliFixture {
	t.Helper()
	dir := fixture(t)
	fx := cliFixture{dir: dir, catalog: filepath.Join(dir, "testmail.yaml"), good: filepath.Join(dir, "good.pcap"),
		bad: filepath.Join(dir, "bad.pcap"), before: filepath.Join(dir, "before.json"), after: filepath.Join(dir, "after.json"),
		session: filepath.Join(dir, "bad.session")}
	for _, args := range [][]string{
		{"replay", "--catalog", fx.catalog, "-p", "testmail", "--host", "192.0.2.10", "--fail-on", "none", "-o", fx.before, "--session", fx.session, fx.bad},
		{"replay", "--catalog", fx.catalog, "-p", "testmail", "--host", "192.0.2.10", "--fail-on", "none", "-o", fx.after, fx.good},
	} {
		if _, stderr, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, stderr)
		}
	}
	return fx
}

// commands are, for each command that writes a report or data, the
// arguments before -o and -f, and the formats its extensions pick with
// how each file starts.
func (fx cliFixture) commands() []struct {
	name  string
	args  []string
	files map[string]string // file name: start of its content
} {
	audit := []string{"--catalog", fx.catalog, "-p", "testmail", "--host", "192.0.2.10"}
	report := map[string]string{"r.json": "{\n  \"schema\"", "r.md": "# flowaudit report", "r.markdown": "# flowaudit report",
		"r.html": "<!DOCTYPE html>", "r.htm": "<!DOCTYPE html>", "r.txt": "3 requirements"}
	return []struct {
		name  string
		args  []string
		files map[string]string
	}{
		{"replay", append(append([]string{"replay"}, audit...), fx.bad), report},
		{"report", []string{"report", fx.session}, report},
		{"diff", []string{"diff", fx.before, fx.after}, map[string]string{"d.json": "{\n  \"schema\": \"flowaudit.diff/v1\"",
			"d.md": "# flowaudit diff", "d.html": "<!DOCTYPE html>", "d.txt": "after the change"}},
		{"flows", []string{"flows", fx.bad}, map[string]string{"f.json": "{\n  \"flows\"", "conn.log": "#separator \\x09",
			"conn.tsv": "#separator \\x09", "f.txt": "┌"}},
		{"catalog show", []string{"catalog", "show", "mailcleaner"}, map[string]string{"s.json": "{\n  \"product\"",
			"s.md": "| ID", "s.markdown": "| ID", "s.txt": "┌"}},
		{"catalog export", []string{"catalog", "export", "spamexperts", "--allow-admin", "192.0.2.0/28"}, map[string]string{"fw.nft": "#!/usr/sbin/nft -f",
			"rules.v4": "# Generated by flowaudit", "fw.rules": "# Generated by flowaudit", "fw.iptables": "# Generated by flowaudit",
			"rules.v6": "# Generated by flowaudit", "fw.ip6tables": "# Generated by flowaudit"}},
	}
}

// TestOutputExtensionEveryCommand: on every command that writes a report
// or data, -o FILE writes the format its extension names, to the file
// only, and says so in one line on stderr; "-o -" is stdout.
func TestOutputExtensionEveryCommand(t *testing.T) {
	fx := newCLIFixture(t)
	for _, c := range fx.commands() {
		for file, start := range c.files {
			path := filepath.Join(t.TempDir(), file)
			stdout, stderr, err := runCLI(t, append(append([]string{}, c.args...), "-o", path)...)
			if err != nil && !isFindings(err) {
				t.Errorf("%s -o %s: %v", c.name, file, err)
				continue
			}
			data, rerr := os.ReadFile(path)
			if rerr != nil || !strings.HasPrefix(string(data), start) {
				t.Errorf("%s -o %s: file starts %q (%v), want %q", c.name, file, headOf(string(data), 60), rerr, start)
			}
			if stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "flowaudit: wrote "+path+": ") {
				t.Errorf("%s -o %s: stdout %q, stderr %q: want one wrote line on stderr only", c.name, file, headOf(stdout, 60), stderr)
			}
		}
		stdout, stderr, err := runCLI(t, append(append([]string{}, c.args...), "-o", "-")...)
		if (err != nil && !isFindings(err)) || stdout == "" || stderr != "" {
			t.Errorf("%s -o -: %v, stdout %d bytes, stderr %q", c.name, err, len(stdout), stderr)
		}
	}
}

// TestOutputUsageErrors: on every command, an unknown extension without
// -f, a -f that contradicts the extension and "-o json" are usage errors
// (exit 2) of one line naming the file, before anything is read or
// written.
func TestOutputUsageErrors(t *testing.T) {
	fx := newCLIFixture(t)
	cmds := fx.commands()
	cmds = append(cmds, struct {
		name  string
		args  []string
		files map[string]string
	}{"capture", []string{"capture", "--iface", "lo", "-p", "mailcleaner"}, nil})
	for _, c := range cmds {
		other := map[string][2]string{"flows": {"conn.log", "json"}, "catalog export": {"fw.nft", "iptables"}}[c.name]
		if other[0] == "" {
			other = [2]string{"out.json", "markdown"}
		}
		dir := t.TempDir()
		for _, tc := range []struct {
			extra []string
			want  string
		}{
			{[]string{"-o", filepath.Join(dir, "out.xyz")}, "-o " + filepath.Join(dir, "out.xyz") + ": the extension .xyz picks no format: give -f "},
			{[]string{"-o", filepath.Join(dir, "out")}, ": no extension to pick the format by"},
			{[]string{"-o", filepath.Join(dir, other[0]), "-f", other[1]}, "-o " + filepath.Join(dir, other[0]) + ": the extension "},
			{[]string{"-o", "json"}, "-o json names the file to write, not the format: did you mean -f json?"},
		} {
			var errb bytes.Buffer
			err := run(context.Background(), append(append([]string{}, c.args...), tc.extra...), io.Discard, &errb)
			code := exitCode(err, &errb)
			if code != 2 || !strings.Contains(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("%s %v: exit %d, stderr %q; want 2 and one line with %q", c.name, tc.extra, code, errb.String(), tc.want)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: usage errors wrote %d files", c.name, len(entries))
		}
	}
}

// TestWroteLine: the line a file written leaves on stderr says what it
// holds: a report's findings in the order of urgency ("no findings" when
// none), a diff's changes, the number of flows, what a catalog command
// wrote.
func TestWroteLine(t *testing.T) {
	fx := newCLIFixture(t)
	audit := []string{"replay", "--catalog", fx.catalog, "-p", "testmail", "--host", "192.0.2.10"}
	for _, tc := range []struct {
		args []string
		file string
		want string
	}{
		{append(slicesClone(audit), fx.bad), "r.html", "1 blocked, 1 unexpected"},
		{append(slicesClone(audit), fx.good), "r.md", "no findings"},
		{[]string{"report", fx.session}, "r.json", "1 blocked, 1 unexpected"},
		{[]string{"diff", fx.before, fx.after}, "d.md", "after the change: 1 fixed, 0 newly failing, 0 still failing, 0 newly unexpected, 1 gone unexpected"},
		{[]string{"flows", fx.bad}, "conn.log", "3 flows"},
		{[]string{"flows", "--port", "3389", fx.bad}, "f.json", "1 flow"},
		{[]string{"flows", "--port", "9", fx.bad}, "f.txt", "0 flows"},
		{[]string{"catalog", "show", "mailcleaner"}, "s.md", "markdown, 27 requirements of mailcleaner"},
		{[]string{"catalog", "export", "spamexperts"}, "fw.nft", "nftables ruleset for spamexperts, 41 of 41 requirements"},
	} {
		path := filepath.Join(t.TempDir(), tc.file)
		_, stderr, err := runCLI(t, append(tc.args, "-o", path)...)
		if err != nil && !isFindings(err) {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if want := "flowaudit: wrote " + path + ": " + tc.want; !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: stderr %q, want one line starting %q", tc.args, stderr, want)
		}
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
