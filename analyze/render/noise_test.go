package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestNoiseAndFoldingInEveryFormat: internet noise (a scanner, spoofed
// SYNs), peers folded (a requirement with more peers than a report keeps)
// and unexpected groups folded (more ports than it lists) are said in
// every format: JSON fields, and a line in the table, Markdown and HTML.
func TestNoiseAndFoldingInEveryFormat(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	gw := netip.MustParseAddr("192.0.2.10")
	anyPeer := []catalog.Peer{{Kind: catalog.PeerAny}}
	p := &catalog.Product{Name: "p", Requirements: []catalog.Requirement{
		{ID: "smtp-in", Direction: catalog.In, Protocol: catalog.TCP, Ports: []catalog.PortRange{{25, 25}}, Peers: anyPeer},
		{ID: "https-out", Direction: catalog.Out, Protocol: catalog.TCP, Ports: []catalog.PortRange{{443, 443}}, Peers: anyPeer}}}
	in := func(src netip.Addr, port uint16, out flow.Outcome, respPkts uint64) flow.Flow {
		return flow.Flow{Proto: flow.ProtoTCP, Orig: netip.AddrPortFrom(src, 40000), Resp: netip.AddrPortFrom(gw, port),
			Start: t0, End: t0, Outcome: out, OrigPkts: 1, RespPkts: respPkts}
	}
	var flows []flow.Flow
	for i := range 3 {
		f := in(netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i)}), 25, flow.Established, 1)
		f.OrigBytes, f.RespBytes = 100, 100
		flows = append(flows, f, in(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i)}), 25, flow.Unanswered, 1))
	}
	for _, port := range []uint16{22, 23, 80, 443, 3389} {
		flows = append(flows, in(netip.MustParseAddr("198.51.100.66"), port, flow.Rejected, 1))
	}
	for i := range 300 {
		peer := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf1, 14: byte(i >> 8), 15: byte(i)})
		flows = append(flows, flow.Flow{Proto: flow.ProtoTCP, Orig: netip.AddrPortFrom(gw, 40000), Resp: netip.AddrPortFrom(peer, 443),
			Start: t0, End: t0, Outcome: flow.Established, OrigPkts: 1, RespPkts: 1})
	}
	for i := range analyze.MaxUnexpected + 10 {
		flows = append(flows, flow.Flow{Proto: flow.ProtoTCP, Orig: netip.AddrPortFrom(gw, 40000),
			Resp: netip.AddrPortFrom(netip.MustParseAddr("203.0.113.200"), uint16(2000+i)), Start: t0, End: t0,
			Outcome: flow.Rejected, OrigPkts: 1, RespPkts: 1})
	}
	rep, err := analyze.Audit(&capture.Result{Flows: flows, Stats: capture.Stats{Backend: "file", End: t0.Add(time.Minute)}},
		analyze.Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{gw}})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(rep)
	for _, field := range []string{`"noise":{"flows":8,`, `"peers_folded":`, `"folded_counts":`, `"unexpected_folded":{"groups":10,`, `"noise_flows":3`} {
		if !bytes.Contains(js, []byte(field)) {
			t.Errorf("JSON lacks %s", field)
		}
	}
	noise := "8 inbound flows set aside, not judged: 5 flows from 1 scanner, 3 flows of backscatter (SYN-ACKs to spoofed sources, never acknowledged) from about 3 sources; top ports tcp/25 (3), tcp/22 (1), tcp/23 (1), tcp/80 (1), tcp/443 (1)"
	folded := fmt.Sprintf("+%d more, and about ", analyze.MaxPeers-3+(128-analyze.MaxPeers))
	for _, fm := range []struct {
		name   string
		render func(io.Writer, *analyze.Report, Options) error
		want   []string
	}{
		{"table", Table,
			[]string{noise, "peers folded: 1 requirement(s) (https-out)", "  and 10 groups more, not listed (1024 per report), counted together: 10 flows (10 rejected)"}},
		{"markdown", Markdown, []string{noise, "peers folded: 1 requirement(s) (https-out)", "And 10 groups more, not listed"}},
		{"html", HTML, []string{noise, "peers folded: 1 requirement(s) (https-out)", "And 10 groups more, not listed", "Folded (more distinct peers than the report keeps): about "}},
	} {
		t.Run(fm.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := fm.render(&b, rep, Options{}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range fm.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s lacks %q", fm.name, w)
				}
			}
			if fm.name != "html" && !strings.Contains(out, folded) {
				t.Errorf("%s lacks %q in the peers of https-out", fm.name, folded)
			}
		})
	}
}
