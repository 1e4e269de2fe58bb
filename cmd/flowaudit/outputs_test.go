package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOutputs(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	file := filepath.Join(dir, "plain.txt")
	for _, p := range []string{in, file} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		outs []output
		want string // substring of the error; "" for none
	}{
		{"stdout and nothing", []output{{"--output", ""}, {"--session", "-"}}, ""},
		{"new files", []output{{"--output", filepath.Join(dir, "r.json")}, {"--session", filepath.Join(dir, "s.json")}}, ""},
		{"existing file replaced", []output{{"--output", file}}, ""},
		{"device", []output{{"--output", os.DevNull}}, ""},
		{"directory", []output{{"--output", dir}}, "--output " + dir + " is a directory"},
		{"missing directory", []output{{"--output", filepath.Join(dir, "no", "r.json")}}, "directory " + filepath.Join(dir, "no") + ": no such file or directory"},
		{"parent is a file", []output{{"--session", filepath.Join(file, "s.json")}}, file + " is not a directory"},
		{"an input", []output{{"--output", in}}, "is also an input"},
		{"an input by another name", []output{{"--session", dir + "/./in.pcap"}}, "is also an input"},
		{"two outputs, one file", []output{{"--output", filepath.Join(dir, "x.json")}, {"--session", dir + "//x.json"}}, "--output and --session name the same file"},
		{"unwritable directory", []output{{"--output", filepath.Join(ro, "r.json")}}, "cannot write in " + ro},
		{"no files in /proc", []output{{"--output", "/proc/r.json"}}, "--output /proc/r.json: cannot write in /proc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unwritable directory" && os.Geteuid() == 0 {
				t.Skip("root writes in a 0500 directory")
			}
			err := checkOutputs([]string{in}, tc.outs...)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if ents, _ := filepath.Glob(filepath.Join(dir, ".flowaudit-check-*")); len(ents) > 0 {
				t.Errorf("check files left behind: %v", ents)
			}
		})
	}
}

func TestNodeFromCapture(t *testing.T) {
	for in, want := range map[string]string{
		"/data/gw1.pcapng.gz": "gw1",
		"gw2.pcap":            "gw2",
		"relay":               "relay",
		"../x/.hidden.pcap":   ".hidden",
		"mx.example.pcap":     "mx",
	} {
		if got := nodeFromCapture(in); got != want {
			t.Errorf("nodeFromCapture(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	// The catalog package joins one error per problem (errors.Join).
	multi := errors.Join(errors.New("a.yaml:1: product: unknown key (allowed: hosts, zones, features)"),
		errors.New("a.yaml:2: rows: unknown key (allowed: hosts, zones, features)"))
	// Issue 10, row 9: a key holding a newline and ESC is one problem,
	// shown escaped, and the count stays right.
	hostileKey := errors.Join(errors.New("a.yaml:3: two\nlines\x1b[2J: unknown key (allowed: product, title, document, features, rows)"),
		errors.New("a.yaml:4: rows[0].ports[0]: \"x\" is not a port number or a lo-hi range"))
	for _, tc := range []struct {
		name string
		err  error
		site bool
		want string
	}{
		{"one problem", errors.New("a.yaml:3: hosts[0]: \"x\" is not an IP address"), true, "a.yaml:3: hosts[0]: \"x\" is not an IP address"},
		{"catalog as site", multi, true, "a.yaml:1: product: unknown key (allowed: hosts, zones, features) (and 1 more; flowaudit catalog validate --site a.yaml lists them all): this looks like a catalog file: give it with --catalog"},
		{"hostile key", hostileKey, false, `a.yaml:3: two\nlines\x1b[2J: unknown key (allowed: product, title, document, features, rows) (and 1 more; flowaudit catalog validate a.yaml lists them all)`},
		{"site as catalog", errors.New("a.yaml:1: hosts: unknown key (allowed: product, title, document, features, rows)"), false, "a.yaml:1: hosts: unknown key (allowed: product, title, document, features, rows): this looks like a site file: give it with --site"},
	} {
		got := firstProblem(tc.err, "a.yaml", tc.site)
		if got.Error() != tc.want || !errors.Is(got, tc.err) {
			t.Errorf("%s: %q, want %q (wrapping the original)", tc.name, got, tc.want)
		}
	}
}
