package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
)

// TestReplayNoise replays, from packets, ten real SMTP sessions, three
// spoofed SYNs the gateway answers with SYN-ACKs nobody acknowledges, and
// a SYN scanner of four ports (refused, and one open port it resets after
// the SYN-ACK): in-tcp-25-smtp stays ok, nothing is unexpected, and the
// noise is one line in the table and a field in the JSON (issue 10 row 8
// and "internet noise").
func TestReplayNoise(t *testing.T) {
	const gw = "192.0.2.10"
	var segs []seg
	for i := range 10 {
		segs = append(segs, handshake(fmt.Sprintf("203.0.113.%d", 1+i), uint16(40000+i), gw, 25)...)
		if i%4 == 0 {
			spoofed := fmt.Sprintf("198.51.100.%d", 201+i)
			segs = append(segs, seg{src: spoofed, dst: gw, sport: 41000, dport: 25, syn: true, seq: 7},
				seg{src: gw, dst: spoofed, sport: 25, dport: 41000, syn: true, ack: true, seq: 900, ackn: 8})
		}
	}
	const scanner = "198.51.100.66"
	for i, port := range []uint16{22, 23, 80, 3389} {
		segs = append(segs, seg{src: scanner, dst: gw, sport: uint16(50000 + i), dport: port, syn: true, seq: 1})
		if port == 80 {
			segs = append(segs, seg{src: gw, dst: scanner, sport: port, dport: uint16(50000 + i), syn: true, ack: true, seq: 5, ackn: 2},
				seg{src: scanner, dst: gw, sport: uint16(50000 + i), dport: port, rst: true, seq: 2})
			continue
		}
		segs = append(segs, seg{src: gw, dst: scanner, sport: port, dport: uint16(50000 + i), rst: true, ack: true, ackn: 2})
	}
	dir := t.TempDir()
	pcap := filepath.Join(dir, "noise.pcap")
	writePcap(t, pcap, segs)
	args := []string{"replay", "-p", "mailcleaner", "--host", gw, "--fail-on", "blocked,partial,unexpected"}

	out, stderr, err := runCLI(t, append(args, "-f", "json", pcap)...)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	var rep analyze.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Requirements {
		if r.ID == "mailcleaner/in-tcp-25-smtp" && (r.Status != analyze.OK || r.Counts.Established != 10 || r.Counts.Flows != 10) {
			t.Errorf("in-tcp-25-smtp %s %+v, want ok with 10 established", r.Status, r.Counts)
		}
	}
	want := analyze.Noise{Flows: 7, Backscatter: analyze.NoiseKind{Sources: 3, Flows: 3}, Scanners: analyze.NoiseKind{Sources: 1, Flows: 4}}
	if n := rep.Noise; n == nil || n.Flows != want.Flows || n.Backscatter != want.Backscatter || n.Scanners != want.Scanners || len(rep.Unexpected) != 0 {
		t.Errorf("noise %+v, unexpected %+v; want %+v and nothing unexpected", rep.Noise, rep.Unexpected, want)
	}

	out, stderr, err = runCLI(t, append(args, pcap)...)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	line := "Noise (not judged, see docs/report.md): 7 inbound flows set aside, not judged: 4 flows from 1 scanner, " +
		"3 flows of backscatter (SYN-ACKs to spoofed sources, never acknowledged) from about 3 sources; top ports tcp/25 (3),"
	// The table wraps its lines to 100 columns (no terminal, no COLUMNS).
	if !strings.Contains(strings.Join(strings.Fields(out), " "), line) || !strings.Contains(out, "UNEXPECTED: none") {
		t.Errorf("table lacks the noise line or has unexpected flows:\n%s", out)
	}
}
