package main

import (
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
