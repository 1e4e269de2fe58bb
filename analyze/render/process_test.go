package render

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/flow"
)

func TestProcessLines(t *testing.T) {
	razor := &flow.Process{PID: 4121, Comm: "razor-check"}
	peer := netip.MustParseAddr("198.51.100.7")
	rep := &analyze.Report{Requirements: []analyze.Requirement{
		{ID: "p/out-tcp-2703", Status: analyze.Blocked, Protocol: "tcp", Timeline: []analyze.Attempt{
			{Peer: peer, Port: 2703, Outcome: "unanswered", Reason: "unanswered", Process: razor},
			{Peer: peer, Port: 2703, Outcome: "unanswered", Reason: "unanswered", Process: razor},
			{Peer: peer, Port: 2703, Outcome: "rejected", Reason: "rst-firewall", Process: razor},
			{Peer: peer, Port: 2703, Outcome: "unanswered"}, // no process: not listed
		}},
		{ID: "p/out-tcp-25", Status: analyze.OK, Protocol: "tcp", Timeline: []analyze.Attempt{
			{Peer: peer, Port: 25, Outcome: "established", Process: razor},
		}},
	}}
	want := []string{
		"razor-check (pid 4121) tried TCP/2703 to 198.51.100.7: unanswered (2 times)",
		"razor-check (pid 4121) tried TCP/2703 to 198.51.100.7: rejected (rst-firewall)",
	}
	if got := processLines(rep); !slices.Equal(got, want) {
		t.Errorf("processLines:\n got %q\nwant %q", got, want)
	}
	rep.Capture.Attribution = "unavailable: no cgroup2 mount"
	var b bytes.Buffer
	if err := Table(&b, rep, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(want, "PROCESSES", "Process attribution unavailable: no cgroup2 mount") {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table report lacks %q:\n%s", s, b.String())
		}
	}
}
