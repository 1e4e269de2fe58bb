package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReportLayoutFlags (issue 12): the table follows COLUMNS when the
// output is no terminal (100 columns without it), the not-applicable
// requirements fold to one line unless --all, in every format, and the
// HTML page's title names the gateway and when it was generated.
func TestReportLayoutFlags(t *testing.T) {
	example := filepath.Join("..", "..", "testdata", "example", "gateway.pcap")
	replay := func(columns string, args ...string) string {
		t.Helper()
		t.Setenv("COLUMNS", columns)
		out, stderr, err := runCLI(t, append(append([]string{"replay", "-p", "mailcleaner"}, args...), example)...)
		if err != nil && !isFindings(err) {
			t.Fatalf("replay %v: %v\n%s", args, err, stderr)
		}
		return out
	}
	longest := func(out string) (n int) {
		for _, l := range strings.Split(out, "\n") {
			n = max(n, len([]rune(l)))
		}
		return n
	}
	fold := "13 not applicable: cluster (10), premium-support (3); --all to list"
	for _, tc := range []struct {
		columns string
		args    []string
		want    []string
		widest  int
	}{
		{"", nil, []string{"\nBLOCKED out-tcp-2703-razor  out tcp/2703  Razor\n", fold}, 100},
		{"80", nil, []string{"\nBLOCKED out-tcp-2703-razor  out tcp/2703  Razor\n", fold}, 80},
		{"200", nil, []string{"│ out-tcp-2703-razor  │ out │ tcp/2703  │", fold}, 200},
		{"200", []string{"--all"}, []string{"NOT APPLICABLE (13)", "│ in-tcp-22-premium-ssh "}, 200},
		{"", []string{"--all", "-f", "markdown"}, []string{"| mailcleaner/in-tcp-22-premium-ssh |"}, 0},
		{"", []string{"-f", "markdown"}, []string{fold + "."}, 0},
	} {
		out := replay(tc.columns, tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("COLUMNS=%q %v: no %q in\n%s", tc.columns, tc.args, w, out)
			}
		}
		if w := longest(out); tc.widest > 0 && w > tc.widest {
			t.Errorf("COLUMNS=%q %v: a line of %d columns, want at most %d", tc.columns, tc.args, w, tc.widest)
		}
		if !slices.Contains(tc.args, "--all") && strings.Contains(out, "premium-ssh") {
			t.Errorf("COLUMNS=%q %v: not-applicable requirements listed without --all", tc.columns, tc.args)
		}
	}
	page := replay("", "-f", "html")
	title := regexp.MustCompile(`<title>flowaudit: mailcleaner on 192\.0\.2\.10, 2001:db8:a::10, \d{4}-\d\d-\d\d \d\d:\d\dZ</title>`)
	if !title.MatchString(page) || !strings.Contains(page, `id="na-fold"`) {
		t.Errorf("html: title or folded not-applicable line missing:\n%.600s", page)
	}
}
