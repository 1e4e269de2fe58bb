package analyze

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// FuzzAudit feeds arbitrary flows (every 8 bytes make one) to Audit, with
// and without gateway addresses, and with a scanner test of room for one
// source: it must not panic, every flow must be placed exactly once
// (housekeeping, transit, matched, unexpected or noise), and streaming
// (Auditor.Add, then Report) must give the same report as Audit.
func FuzzAudit(f *testing.F) {
	f.Add([]byte{6, 0, 1, 0, 25, 0, 0, 0, 17, 1, 0, 0, 53, 3, 1, 0})
	f.Add([]byte{58, 4, 5, 135, 0, 2, 0, 0, 1, 0, 1, 8, 0, 1, 0, 0, 2, 0, 6, 0, 0, 0, 0, 0})
	// A scanner (three refused ports), a spoofed SYN, a session, an SYN
	// cut off by the end.
	f.Add([]byte{6, 1, 0, 50, 0, 22, 1, 0, 6, 1, 0, 51, 0, 23, 1, 0, 6, 1, 0, 52, 0, 80, 1, 0,
		6, 2, 0, 53, 0, 25, 3, 128, 6, 2, 0, 54, 0, 25, 0, 64, 6, 2, 0, 55, 0, 22, 3 | 64, 0})
	addrs := []netip.Addr{
		netip.MustParseAddr(gw4), netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("198.51.100.7"),
		netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1"),
		netip.MustParseAddr("255.255.255.255"), {}, netip.MustParseAddr("::ffff:192.0.2.10"),
	}
	outcomes := []flow.Outcome{flow.Established, flow.Rejected, flow.Unreachable, flow.Unanswered, flow.Unknown, ""}
	icmpReasons := []string{"admin-prohibited", "port-unreachable", "host-unreachable", "net-unreachable", "ttl-exceeded", ""}
	site := &catalog.Site{Zones: map[string][]netip.Prefix{"support": {netip.MustParsePrefix("198.51.100.0/24")}}}
	prods := []*catalog.Product{product("p",
		req("smtp", catalog.Out, catalog.TCP, port(25)),
		req("dns", catalog.Out, catalog.UDP, port(53)),
		req("ssh", catalog.In, catalog.TCP, port(22), catalog.Peer{Kind: catalog.PeerZone, Value: "support"}),
		req("upd", catalog.Out, catalog.TCP, []catalog.PortRange{{80, 443}}, catalog.Peer{Kind: catalog.PeerHost, Value: "*.example.com"}),
		req("ping", catalog.In, catalog.ICMP, nil),
		req("cl", catalog.Out, catalog.UDP, port(161), catalog.Peer{Kind: catalog.PeerZone, Value: "cluster"}))}
	prods[0].Requirements[5].Condition = &catalog.Condition{Feature: "cluster"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var flows []flow.Flow
		for len(data) >= 8 {
			b := data[:8]
			data = data[8:]
			fl := flow.Flow{Proto: b[0],
				Orig:    netip.AddrPortFrom(addrs[int(b[1])%len(addrs)], uint16(b[3])),
				Resp:    netip.AddrPortFrom(addrs[int(b[2])%len(addrs)], uint16(b[4])<<8|uint16(b[5])),
				Start:   t0.Add(-time.Duration(b[6]%7) * time.Second),
				End:     t0.Add(time.Duration(b[7]%7) * time.Second),
				Outcome: outcomes[int(b[6])%len(outcomes)],
				Node:    string(rune('a' + b[7]%3)),
			}
			if b[7]&8 != 0 {
				fl.ICMP = &flow.ICMPError{Reason: icmpReasons[int(b[7])%len(icmpReasons)], From: addrs[int(b[3])%len(addrs)]}
			}
			if b[7]&16 != 0 {
				fl.RespNames = []string{"a.example.com", ""}
			}
			if b[7]&32 != 0 {
				fl.Process = &flow.Process{PID: uint32(b[5]), Comm: "razor"}
			}
			if b[7]&64 != 0 { // a handshake completed, data sent
				fl.OrigBytes, fl.History = 1, "ShAD"
			}
			if b[7]&128 != 0 { // the responder answered (a SYN-ACK)
				fl.RespPkts = 1
			}
			fl.Open = b[6]&64 != 0
			flows = append(flows, fl)
		}
		for _, opts := range []Options{
			{Products: prods, Site: site},
			{Products: prods, Hosts: []netip.Addr{addrs[0], addrs[3]}, Features: map[string]bool{"cluster": true}},
			{Products: prods, Hosts: []netip.Addr{addrs[0], addrs[3]}, NoiseSources: 1},
		} {
			stats := capture.Stats{End: t0.Add(3 * time.Second)}
			rep, err := Audit(&capture.Result{Flows: flows, Stats: stats}, opts)
			if err != nil {
				t.Fatal(err)
			}
			s := rep.Summary
			if s.Flows != s.Housekeeping+s.Transit+s.Matched+s.UnexpectedFlows+s.Noise {
				t.Fatalf("flows not placed exactly once: %+v", s)
			}
			// Streaming (with the compact copies kept for inference) must
			// give the same report.
			a, err := NewAuditor(opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range flows {
				a.Add(&flows[i])
			}
			want, _ := json.Marshal(rep)
			a.Report(stats) // a report in between changes nothing
			got, _ := json.Marshal(a.Report(stats))
			if !bytes.Equal(want, got) {
				t.Fatalf("streamed report differs:\n%s\n%s", got, want)
			}
		}
	})
}
