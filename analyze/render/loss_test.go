package render

import (
	"bytes"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestLossInEveryFormat checks that each format says what was lost, and
// shows a read error (in both the report's and the capture's warnings)
// once.
func TestLossInEveryFormat(t *testing.T) {
	const truncated = "read capture trunc.pcap: after 44 frames: unexpected EOF (truncated: flows up to this point are kept)"
	p := &catalog.Product{Name: "p", Requirements: []catalog.Requirement{{ID: "smtp-out", Direction: catalog.Out,
		Protocol: catalog.TCP, Ports: []catalog.PortRange{{25, 25}}, Peers: []catalog.Peer{{Kind: catalog.PeerAny}}}}}
	st := capture.Stats{Backend: "file", Files: []string{"trunc.pcap"}, Packets: 44, Undecodable: 3,
		ReadErrors: []string{truncated}, Warnings: []string{truncated}}
	rep, err := analyze.Audit(&capture.Result{Stats: st},
		analyze.Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{netip.MustParseAddr("192.0.2.10")}})
	if err != nil {
		t.Fatal(err)
	}
	formats := []struct {
		name   string
		render func(io.Writer, *analyze.Report, Options) error
	}{
		{"table", Table},
		{"markdown", Markdown},
		{"html", HTML},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.render(&b, rep, Options{}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			want := "3 frames could not be decoded, 1 input file not read to its end (truncated or damaged): never-seen verdicts may be wrong, and blocked/partial ones for attempts just before the cut"
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
			if n := strings.Count(out, "after 44 frames: unexpected EOF"); n != 1 {
				t.Errorf("the read error is shown %d times, want once:\n%s", n, out)
			}
		})
	}
}
