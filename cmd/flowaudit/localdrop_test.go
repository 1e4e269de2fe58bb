package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
)

// TestLiveTableLocalDrop: the --live table names a local reason with
// where the gateway dropped the attempts.
func TestLiveTableLocalDrop(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "eth0", true, time.Unix(0, 0))
	rep := &analyze.Report{Requirements: []analyze.Requirement{
		{ID: "mailcleaner/out-tcp-2703-razor", Status: analyze.Blocked, Direction: "out", Protocol: "tcp",
			Reason: analyze.ReasonLocalDrop, ReasonText: "dropped by this gateway's firewall (output)"},
		{ID: "mailcleaner/out-udp-53-dns", Status: analyze.Blocked, Direction: "out", Protocol: "udp",
			Reason: analyze.ReasonNeighFailed, ReasonText: "this gateway could not resolve the next hop (ARP / neighbour discovery) (output)"},
		{ID: "mailcleaner/in-tcp-22-ssh", Status: analyze.Blocked, Direction: "in", Protocol: "tcp",
			Reason: analyze.ReasonUnanswered, ReasonText: "unanswered: dropped silently"},
	}}
	var tb strings.Builder
	p.table(&tb, rep)
	out := tb.String()
	for _, want := range []string{"local-drop (output)\n", "neigh-failed (output)\n", "unanswered\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("live table lacks %q:\n%s", want, out)
		}
	}
}
