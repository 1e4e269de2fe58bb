package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
)

// TestProcessesInEveryFormat (issue 12): the programs behind a blocked
// requirement's flows and behind an unexpected group (eBPF attribution)
// are named in the table (both layouts), the Markdown and the HTML.
func TestProcessesInEveryFormat(t *testing.T) {
	rep := syntheticReport(t)
	ntp, irc := "ntpd (pid 612, 2 flows)", "weechat (pid 4242, 1 flow)"
	rep.Capture.Attribution = "unavailable: no cgroup2 mount"
	for _, f := range []struct {
		name   string
		opts   Options
		render func(*bytes.Buffer, *analyze.Report, Options) error
		want   []string
	}{
		{"table", Options{}, func(b *bytes.Buffer, r *analyze.Report, o Options) error { return Table(b, r, o) },
			[]string{"│ " + ntp + " ", "│ " + irc + " ", "Process attribution unavailable: no cgroup2 mount"}},
		{"blocks", Options{Width: 80}, func(b *bytes.Buffer, r *analyze.Report, o Options) error { return Table(b, r, o) },
			[]string{"  process: " + ntp + "\n", "  process:  " + irc + "\n"}},
		{"markdown", Options{}, func(b *bytes.Buffer, r *analyze.Report, o Options) error { return Markdown(b, r, o) },
			[]string{"   - Process: " + ntp + "\n", "| " + irc + " |", "- Process attribution: unavailable: no cgroup2 mount"}},
		{"html", Options{}, func(b *bytes.Buffer, r *analyze.Report, o Options) error { return HTML(b, r, o) },
			[]string{`<dt>Processes</dt><dd class="procs">` + ntp + `</dd>`, "<td>" + irc + "</td>", "attribution unavailable: no cgroup2 mount"}},
	} {
		var b bytes.Buffer
		if err := f.render(&b, rep, f.opts); err != nil {
			t.Fatal(err)
		}
		for _, w := range f.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s lacks %q", f.name, w)
			}
		}
	}
}

// TestProcessText: one program, several process ids, more than kept, and
// the flows of programs not listed.
func TestProcessText(t *testing.T) {
	got := processList([]analyze.ProcessSeen{
		{Comm: "razor-check", PIDs: []uint32{4121}, Flows: 1},
		{Comm: "smtp", PIDs: []uint32{2100, 2101, 2102, 2103}, MorePIDs: true, Flows: 9},
	}, 3)
	want := []string{"razor-check (pid 4121, 1 flow)", "smtp (pids 2100, 2101, 2102, 2103 and others, 9 flows)", "+3 flows of other programs"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("processList:\n got %q\nwant %q", got, want)
	}
}
