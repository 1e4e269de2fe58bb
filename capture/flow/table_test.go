package flow

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/decode"
)

const sec = int64(time.Second)

var (
	cli  = netip.MustParseAddr("192.0.2.10")
	srv  = netip.MustParseAddr("198.51.100.20")
	fw   = netip.MustParseAddr("203.0.113.1")
	cli6 = netip.MustParseAddr("2001:db8::10")
	srv6 = netip.MustParseAddr("2001:db8:1::20")
)

// tcpPkt builds a TCP packet.
func tcpPkt(ts int64, src netip.Addr, sp uint16, dst netip.Addr, dp uint16, flags uint8, seq, ack uint32, n int) decode.Packet {
	return decode.Packet{TS: ts, Src: src, Dst: dst, Proto: ProtoTCP, SrcPort: sp, DstPort: dp,
		TCPFlags: flags, Seq: seq, Ack: ack, PayloadLen: n, WireLen: 54 + n}
}

func udpPkt(ts int64, src netip.Addr, sp uint16, dst netip.Addr, dp uint16, n int) decode.Packet {
	return decode.Packet{TS: ts, Src: src, Dst: dst, Proto: ProtoUDP, SrcPort: sp, DstPort: dp, PayloadLen: n}
}

// icmpErr builds an ICMP(v6) error from router about a packet src->dst.
func icmpErr(ts int64, router, src netip.Addr, sp uint16, dst netip.Addr, dp uint16, proto, typ, code uint8) decode.Packet {
	p := decode.Packet{TS: ts, Src: router, Dst: src, Proto: ProtoICMP, ICMPType: typ, ICMPCode: code, HasInner: true,
		Inner: decode.Inner{Src: src, Dst: dst, Proto: proto, SrcPort: sp, DstPort: dp}}
	if router.Is6() {
		p.Proto = ProtoICMPv6
	}
	return p
}

const (
	S  = decode.SYN
	A  = decode.ACK
	F  = decode.FIN
	R  = decode.RST
	SA = decode.SYN | decode.ACK
	FA = decode.FIN | decode.ACK
	RA = decode.RST | decode.ACK
	PA = decode.ACK | decode.PSH
)

// handshake returns a full client/server exchange with data and FINs.
func handshake(t0 int64, c netip.Addr, s netip.Addr) []decode.Packet {
	return []decode.Packet{
		tcpPkt(t0, c, 40000, s, 443, S, 1000, 0, 0),
		tcpPkt(t0+1e6, s, 443, c, 40000, SA, 5000, 1001, 0),
		tcpPkt(t0+2e6, c, 40000, s, 443, A, 1001, 5001, 0),
		tcpPkt(t0+3e6, c, 40000, s, 443, PA, 1001, 5001, 100),
		tcpPkt(t0+4e6, s, 443, c, 40000, PA, 5001, 1101, 300),
		tcpPkt(t0+5e6, c, 40000, s, 443, A, 1101, 5301, 0),
		tcpPkt(t0+6e6, c, 40000, s, 443, FA, 1101, 5301, 0),
		tcpPkt(t0+7e6, s, 443, c, 40000, FA, 5301, 1102, 0),
		tcpPkt(t0+8e6, c, 40000, s, 443, A, 1102, 5302, 0),
	}
}

func run(t *testing.T, cfg Config, pkts []decode.Packet) []Flow {
	t.Helper()
	tb := NewTable(cfg)
	for i := range pkts {
		tb.Add(&pkts[i])
	}
	tb.Flush()
	return tb.TakeFinished()
}

func TestTableOutcomes(t *testing.T) {
	t0 := int64(1_700_000_000) * sec
	tests := []struct {
		name    string
		pkts    []decode.Packet
		flows   int
		state   ConnState
		history string
		outcome Outcome
		check   func(t *testing.T, f Flow)
	}{
		{name: "established and closed", pkts: handshake(t0, cli, srv), flows: 1, state: StateSF,
			history: "ShADdFf", outcome: Established, check: func(t *testing.T, f Flow) {
				if f.OrigBytes != 100 || f.RespBytes != 300 {
					t.Errorf("bytes = %d/%d, want 100/300", f.OrigBytes, f.RespBytes)
				}
				if f.OrigPkts != 6 || f.RespPkts != 3 {
					t.Errorf("pkts = %d/%d, want 6/3", f.OrigPkts, f.RespPkts)
				}
				if f.Orig != netip.AddrPortFrom(cli, 40000) || f.Resp != netip.AddrPortFrom(srv, 443) {
					t.Errorf("endpoints %v -> %v", f.Orig, f.Resp)
				}
				if f.Open || f.MissedBytes != 0 || f.Attempts != 1 {
					t.Errorf("open=%v missed=%d attempts=%d", f.Open, f.MissedBytes, f.Attempts)
				}
			}},
		{name: "ipv6 established", pkts: handshake(t0, cli6, srv6), flows: 1, state: StateSF,
			history: "ShADdFf", outcome: Established},
		{name: "refused by RST", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40001, srv, 25, S, 1, 0, 0),
			tcpPkt(t0+1e6, srv, 25, cli, 40001, RA, 0, 2, 0),
		}, flows: 1, state: StateREJ, history: "Sr", outcome: Rejected},
		{name: "dropped SYN retransmitted", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40002, srv, 25, S, 7, 0, 0),
			tcpPkt(t0+1*sec, cli, 40002, srv, 25, S, 7, 0, 0),
			tcpPkt(t0+3*sec, cli, 40002, srv, 25, S, 7, 0, 0),
			tcpPkt(t0+7*sec, cli, 40002, srv, 25, S, 7, 0, 0),
		}, flows: 1, state: StateS0, history: "S", outcome: Unanswered, check: func(t *testing.T, f Flow) {
			if f.Attempts != 4 || f.OrigPkts != 4 {
				t.Errorf("attempts=%d pkts=%d, want 4", f.Attempts, f.OrigPkts)
			}
			if !f.Open {
				t.Error("flow not marked open at flush")
			}
		}},
		{name: "tcp admin-prohibited", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40003, srv, 587, S, 7, 0, 0),
			icmpErr(t0+1e6, fw, cli, 40003, srv, 587, ProtoTCP, 3, 13),
		}, flows: 1, state: StateS0, history: "S", outcome: Unreachable, check: func(t *testing.T, f Flow) {
			if f.ICMP == nil || f.ICMP.Reason != "admin-prohibited" || f.ICMP.From != fw || f.ICMP.Version != 4 {
				t.Errorf("icmp = %+v", f.ICMP)
			}
		}},
		{name: "udp admin-prohibited v6", pkts: []decode.Packet{
			udpPkt(t0, cli6, 50000, srv6, 53, 40),
			icmpErr(t0+1e6, netip.MustParseAddr("2001:db8:ff::1"), cli6, 50000, srv6, 53, ProtoUDP, 1, 1),
		}, flows: 1, state: StateS0, history: "D", outcome: Unreachable, check: func(t *testing.T, f Flow) {
			if f.ICMP == nil || f.ICMP.Reason != "admin-prohibited" || f.ICMP.Version != 6 {
				t.Errorf("icmp = %+v", f.ICMP)
			}
		}},
		{name: "udp answered", pkts: []decode.Packet{
			udpPkt(t0, cli, 50001, srv, 53, 40),
			udpPkt(t0+1e6, srv, 53, cli, 50001, 120),
		}, flows: 1, state: StateSF, history: "Dd", outcome: Established, check: func(t *testing.T, f Flow) {
			if f.OrigBytes != 40 || f.RespBytes != 120 {
				t.Errorf("bytes %d/%d", f.OrigBytes, f.RespBytes)
			}
		}},
		{name: "udp unanswered, retried", pkts: []decode.Packet{
			udpPkt(t0, cli, 50002, srv, 123, 48),
			udpPkt(t0+sec, cli, 50002, srv, 123, 48),
		}, flows: 1, state: StateS0, history: "D", outcome: Unanswered, check: func(t *testing.T, f Flow) {
			if f.Attempts != 2 {
				t.Errorf("attempts = %d", f.Attempts)
			}
		}},
		{name: "udp reply seen first is flipped", pkts: []decode.Packet{
			udpPkt(t0, srv, 53, cli, 50003, 100),
		}, flows: 1, state: StateSHR, history: "^d", outcome: Established}, // a reply proves its request
		{name: "synack first is flipped", pkts: []decode.Packet{
			tcpPkt(t0, srv, 22, cli, 40004, SA, 9, 100, 0),
			tcpPkt(t0+1e6, srv, 22, cli, 40004, FA, 10, 100, 0),
		}, flows: 1, state: StateSHR, history: "^hf", outcome: Established}, // the server closed: it had accepted
		{name: "icmp echo paired", pkts: []decode.Packet{
			{TS: t0, Src: cli, Dst: srv, Proto: ProtoICMP, ICMPType: 8, ICMPID: 77, PayloadLen: 56},
			{TS: t0 + 1e6, Src: srv, Dst: cli, Proto: ProtoICMP, ICMPType: 0, ICMPID: 77, PayloadLen: 56},
		}, flows: 1, state: StateOTH, outcome: Established, check: func(t *testing.T, f Flow) {
			if f.Orig.Port() != 8 || f.Resp.Port() != 0 || f.RespPkts != 1 {
				t.Errorf("echo flow %v -> %v resp_pkts=%d", f.Orig, f.Resp, f.RespPkts)
			}
		}},
		{name: "other protocol", pkts: []decode.Packet{
			{TS: t0, Src: cli, Dst: srv, Proto: 132, PayloadLen: 20},
			{TS: t0 + 1e6, Src: srv, Dst: cli, Proto: 132, PayloadLen: 20},
		}, flows: 1, state: StateOTH, outcome: Established},
		{name: "orig reset after established", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40005, srv, 443, S, 1, 0, 0),
			tcpPkt(t0+1e6, srv, 443, cli, 40005, SA, 50, 2, 0),
			tcpPkt(t0+2e6, cli, 40005, srv, 443, A, 2, 51, 0),
			tcpPkt(t0+3e6, cli, 40005, srv, 443, R, 2, 0, 0),
		}, flows: 1, state: StateRSTO, history: "ShAR", outcome: Established},
		{name: "orig close only", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40010, srv, 443, S, 1, 0, 0),
			tcpPkt(t0+1e6, srv, 443, cli, 40010, SA, 50, 2, 0),
			tcpPkt(t0+2e6, cli, 40010, srv, 443, A, 2, 51, 0),
			tcpPkt(t0+3e6, cli, 40010, srv, 443, FA, 2, 51, 0),
		}, flows: 1, state: StateS2, history: "ShAF", outcome: Established},
		{name: "resp close only", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40011, srv, 443, S, 1, 0, 0),
			tcpPkt(t0+1e6, srv, 443, cli, 40011, SA, 50, 2, 0),
			tcpPkt(t0+2e6, cli, 40011, srv, 443, A, 2, 51, 0),
			tcpPkt(t0+3e6, srv, 443, cli, 40011, FA, 51, 2, 0),
		}, flows: 1, state: StateS3, history: "ShAf", outcome: Established},
		{name: "resp reset after established", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40012, srv, 443, S, 1, 0, 0),
			tcpPkt(t0+1e6, srv, 443, cli, 40012, SA, 50, 2, 0),
			tcpPkt(t0+2e6, cli, 40012, srv, 443, PA, 2, 51, 10),
			tcpPkt(t0+3e6, srv, 443, cli, 40012, R, 51, 0, 0),
		}, flows: 1, state: StateRSTR, history: "ShDr", outcome: Established},
		{name: "synack then rst, syn missed", pkts: []decode.Packet{
			tcpPkt(t0, srv, 443, cli, 40013, SA, 50, 2, 0),
			tcpPkt(t0+1e6, srv, 443, cli, 40013, R, 51, 0, 0),
		}, flows: 1, state: StateRSTRH, history: "^hr", outcome: Unknown},
		{name: "icmp redirect is not a refusal", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40018, srv, 2703, S, 1, 0, 0),
			icmpErr(t0+1e6, fw, cli, 40018, srv, 2703, ProtoTCP, 5, 1),
		}, flows: 1, state: StateS0, history: "S", outcome: Unanswered},
		{name: "a redirect after admin-prohibited keeps the refusal", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40019, srv, 2703, S, 1, 0, 0),
			icmpErr(t0+1e6, fw, cli, 40019, srv, 2703, ProtoTCP, 3, 13),
			icmpErr(t0+2e6, fw, cli, 40019, srv, 2703, ProtoTCP, 5, 1),
		}, flows: 1, state: StateS0, history: "S", outcome: Unreachable, check: func(t *testing.T, f Flow) {
			if f.ICMP == nil || f.ICMP.Type != 3 || f.ICMP.Code != 13 {
				t.Errorf("icmp %+v, want the admin-prohibited error kept", f.ICMP)
			}
		}},
		{name: "midstream razor, server packet first", pkts: []decode.Packet{
			tcpPkt(t0, srv, 2703, cli, 45000, PA, 900, 110, 20),
			tcpPkt(t0+1e6, cli, 45000, srv, 2703, PA, 110, 920, 10),
		}, flows: 1, state: StateOTH, history: "^dD", outcome: Established, check: func(t *testing.T, f Flow) {
			if f.Orig.Port() != 45000 || f.Resp.Port() != 2703 {
				t.Errorf("orig %v resp %v: the Razor client should be the originator", f.Orig, f.Resp)
			}
		}},
		{name: "syn-ack never acknowledged", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40020, srv, 25, S, 1, 0, 0),
			tcpPkt(t0+1e6, srv, 25, cli, 40020, SA, 500, 2, 0),
			tcpPkt(t0+1e9, cli, 40020, srv, 25, S, 1, 0, 0),
			tcpPkt(t0+1e9+1e6, srv, 25, cli, 40020, SA, 500, 2, 0),
		}, flows: 1, state: StateS1, history: "Sh", outcome: Unanswered},
		{name: "syn then fin", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40014, srv, 443, S, 1, 0, 0),
			tcpPkt(t0+1e6, cli, 40014, srv, 443, FA, 2, 0, 0),
		}, flows: 1, state: StateSH, history: "SF", outcome: Established}, // an ACK after the SYN: the SYN-ACK reached it
		{name: "only the client side captured", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40015, srv, 25, S, 1, 0, 0),
			tcpPkt(t0+1e6, cli, 40015, srv, 25, A, 2, 501, 0),
			tcpPkt(t0+2e6, cli, 40015, srv, 25, PA, 2, 530, 12),
			tcpPkt(t0+3e6, cli, 40015, srv, 25, FA, 14, 560, 0),
		}, flows: 1, state: StateSH, history: "SADF", outcome: Established},
		{name: "midstream exchange then the server resets", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40016, srv, 25, PA, 100, 900, 10),
			tcpPkt(t0+1e6, srv, 25, cli, 40016, PA, 900, 110, 20),
			tcpPkt(t0+2e6, cli, 40016, srv, 25, PA, 110, 920, 10),
			tcpPkt(t0+3e6, srv, 25, cli, 40016, R|A, 920, 120, 0),
		}, flows: 1, state: StateRSTRH, history: "Ddr", outcome: Established},
		{name: "stale connection reset without an exchange", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40017, srv, 25, PA, 100, 900, 10),
			tcpPkt(t0+1e6, srv, 25, cli, 40017, R, 900, 0, 0),
		}, flows: 1, state: StateRSTRH, history: "Dr", outcome: Rejected},
		{name: "syn then rst", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40006, srv, 443, S, 1, 0, 0),
			tcpPkt(t0+1e6, cli, 40006, srv, 443, R, 2, 0, 0),
		}, flows: 1, state: StateRSTOS0, history: "SR", outcome: Unanswered},
		{name: "midstream both sides", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40007, srv, 443, PA, 100, 900, 10),
			tcpPkt(t0+1e6, srv, 443, cli, 40007, PA, 900, 110, 20),
		}, flows: 1, state: StateOTH, history: "Dd", outcome: Established},
		{name: "missed bytes", pkts: []decode.Packet{
			tcpPkt(t0, cli, 40008, srv, 443, S, 1000, 0, 0),
			tcpPkt(t0+1e6, srv, 443, cli, 40008, SA, 5000, 1001, 0),
			tcpPkt(t0+2e6, cli, 40008, srv, 443, A, 1001, 5001, 0),
			// The server acks 500 bytes the capture never saw.
			tcpPkt(t0+3e6, srv, 443, cli, 40008, A, 5001, 1501, 0),
		}, flows: 1, state: StateS1, history: "ShAa", outcome: Established, check: func(t *testing.T, f Flow) {
			if f.MissedBytes != 500 || f.OrigBytes != 500 {
				t.Errorf("missed=%d orig_bytes=%d, want 500", f.MissedBytes, f.OrigBytes)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flows := run(t, Config{}, tt.pkts)
			if len(flows) != tt.flows {
				t.Fatalf("got %d flows, want %d: %+v", len(flows), tt.flows, flows)
			}
			f := flows[0]
			if f.State != tt.state || f.History != tt.history || f.Outcome != tt.outcome {
				t.Errorf("state/history/outcome = %s/%q/%s, want %s/%q/%s",
					f.State, f.History, f.Outcome, tt.state, tt.history, tt.outcome)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestTableICMPErrorWithoutFlow(t *testing.T) {
	check := func(t *testing.T, flows []Flow, proto uint8, orig, resp netip.AddrPort, reason string) {
		t.Helper()
		if len(flows) != 1 {
			t.Fatalf("flows = %+v, want one", flows)
		}
		f := flows[0]
		if f.Proto != proto || f.Orig != orig || f.Resp != resp || f.Outcome != Unreachable ||
			f.ICMP == nil || f.ICMP.Reason != reason || f.OrigPkts != 0 || f.RespPkts != 0 {
			t.Errorf("flow %s %v -> %v outcome %s icmp %+v pkts %d/%d, want proto %d %v -> %v unreachable (%s), no packets",
				f.UID, f.Orig, f.Resp, f.Outcome, f.ICMP, f.OrigPkts, f.RespPkts, proto, orig, resp, reason)
		}
	}
	ap := netip.AddrPortFrom
	t.Run("udp admin-prohibited, the request not captured", func(t *testing.T) {
		check(t, run(t, Config{}, []decode.Packet{icmpErr(sec, fw, cli, 40001, srv, 6277, ProtoUDP, 3, 13)}),
			ProtoUDP, ap(cli, 40001), ap(srv, 6277), "admin-prohibited")
	})
	t.Run("tcp v6 admin-prohibited, the syn not captured", func(t *testing.T) {
		fw6 := netip.MustParseAddr("2001:db8::1")
		check(t, run(t, Config{}, []decode.Packet{icmpErr(sec, fw6, cli6, 40002, srv6, 443, ProtoTCP, 1, 1)}),
			ProtoTCP, ap(cli6, 40002), ap(srv6, 443), "admin-prohibited")
	})
	t.Run("a quoted reply names its destination the originator", func(t *testing.T) {
		// The gateway's port unreachable for a late DNS answer.
		check(t, run(t, Config{}, []decode.Packet{icmpErr(sec, cli, srv, 53, cli, 40003, ProtoUDP, 3, 3)}),
			ProtoUDP, ap(cli, 40003), ap(srv, 53), "port-unreachable")
	})
	t.Run("later errors and packets join the quoted flow", func(t *testing.T) {
		flows := run(t, Config{}, []decode.Packet{
			icmpErr(sec, fw, cli, 40004, srv, 2703, ProtoTCP, 3, 13),
			icmpErr(2*sec, fw, cli, 40004, srv, 2703, ProtoTCP, 3, 13),
		})
		check(t, flows, ProtoTCP, ap(cli, 40004), ap(srv, 2703), "admin-prohibited")
	})
	t.Run("an error not sent back to the quoted sender stays an icmp flow", func(t *testing.T) {
		p := icmpErr(sec, fw, cli, 1, srv, 2, ProtoUDP, 3, 3)
		p.Dst = netip.MustParseAddr("192.0.2.99")
		flows := run(t, Config{}, []decode.Packet{p})
		if len(flows) != 1 || flows[0].Proto != ProtoICMP || flows[0].Orig.Port() != 3 || flows[0].Resp.Port() != 3 {
			t.Fatalf("flows = %+v", flows)
		}
	})
	t.Run("a quote without ports stays an icmp flow", func(t *testing.T) {
		flows := run(t, Config{}, []decode.Packet{icmpErr(sec, fw, cli, 0, srv, 0, ProtoUDP, 3, 13)})
		if len(flows) != 1 || flows[0].Proto != ProtoICMP {
			t.Fatalf("flows = %+v", flows)
		}
	})
}

func TestTableRefusalFirstIsFlipped(t *testing.T) {
	// A receive-only capture: the server's RST+ACK refusing a SYN to a
	// port no list names (7) is the first packet. The gateway's
	// connection stays the gateway's; a bare RST keeps its sender.
	for _, tc := range []struct {
		name    string
		flags   uint8
		orig    uint16
		outcome Outcome
	}{
		{"rst+ack", RA, 33858, Rejected},
		{"bare rst", R, 7, Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flows := run(t, Config{}, []decode.Packet{tcpPkt(sec, srv, 7, cli, 33858, tc.flags, 0, 2, 0)})
			if len(flows) != 1 || flows[0].Orig.Port() != tc.orig || flows[0].Outcome != tc.outcome {
				t.Fatalf("flows = %+v, want orig port %d, %s", flows, tc.orig, tc.outcome)
			}
		})
	}
}

func TestTableTimeouts(t *testing.T) {
	t0 := int64(1_700_000_000) * sec
	pkts := []decode.Packet{
		udpPkt(t0, cli, 50000, srv, 53, 40),
		udpPkt(t0+61*sec, cli, 50000, srv, 53, 40), // after udp's 1 min
		tcpPkt(t0+62*sec, cli, 40000, srv, 25, S, 1, 0, 0),
		tcpPkt(t0+62*sec+4*60*sec, cli, 40000, srv, 25, S, 1, 0, 0), // within 5 min
	}
	flows := run(t, Config{}, pkts)
	var udp, tcp int
	for _, f := range flows {
		switch f.Proto {
		case ProtoUDP:
			udp++
		case ProtoTCP:
			tcp++
			if f.Attempts != 2 {
				t.Errorf("tcp attempts = %d, want 2", f.Attempts)
			}
		}
	}
	if udp != 2 || tcp != 1 {
		t.Errorf("udp=%d tcp=%d flows, want 2 and 1", udp, tcp)
	}
	// Closed connections linger CloseDelay, then a new SYN is a new flow.
	pk := handshake(t0, cli, srv)
	pk = append(pk, handshake(t0+10*sec, cli, srv)...)
	if got := run(t, Config{}, pk); len(got) != 2 || got[0].State != StateSF || got[0].Open {
		t.Errorf("reused tuple: %d flows %+v", len(got), got)
	}
}

func TestTableEviction(t *testing.T) {
	tb := NewTable(Config{MaxFlows: 2})
	for i := range 5 {
		p := udpPkt(int64(i)*sec, cli, uint16(1000+i), srv, 53, 10)
		tb.Add(&p)
	}
	st := tb.Stats()
	if st.Evicted != 3 || st.Active != 2 || st.Flows != 5 {
		t.Fatalf("stats = %+v", st)
	}
	fin := tb.TakeFinished()
	if len(fin) != 3 || !fin[0].Evicted || fin[0].Orig.Port() != 1000 {
		t.Fatalf("evicted flows = %+v", fin)
	}
	var n int
	tb.Snapshot(func(f *Flow) { n++ })
	if n != 2 {
		t.Errorf("snapshot saw %d flows", n)
	}
	tb.Flush()
	if fin := tb.TakeFinished(); len(fin) != 2 || !fin[0].Open {
		t.Errorf("flushed = %+v", fin)
	}
}

func TestTableUIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	tb := NewTable(Config{OnFlow: func(f *Flow) {
		if len(f.UID) != 18 || f.UID[0] != 'C' || seen[f.UID] {
			t.Errorf("bad or duplicate uid %q", f.UID)
		}
		seen[f.UID] = true
	}})
	for i := range 10000 {
		p := udpPkt(int64(i), cli, uint16(i), srv, 53, 10)
		tb.Add(&p)
	}
	tb.Flush()
	if len(seen) != 10000 {
		t.Errorf("saw %d uids", len(seen))
	}
}

// TestTableMemoryBound fills a default table past MaxFlows with attempts
// that never end and checks the heap the table holds, and what it
// allocated on the way: the bound on flows bounds memory. docs/flows.md
// quotes the figure logged here.
func TestTableMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 80 MiB")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tb := NewTable(Config{OnFlow: func(*Flow) {}})
	for i := range DefaultMaxFlows + DefaultMaxFlows/2 {
		c := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p := tcpPkt(sec+int64(i), c, 1000, srv, 25, S, 1, 0, 0)
		tb.Add(&p)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := tb.Stats()
	mib := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
	total := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("full table: %d flows active, %d evicted, %.1f MiB of heap, %.1f MiB allocated on the way", st.Active, st.Evicted, mib, total)
	if st.Active != DefaultMaxFlows || st.Evicted != DefaultMaxFlows/2 {
		t.Errorf("stats = %+v", st)
	}
	if mib > 96 {
		t.Errorf("a full table holds %.1f MiB", mib)
	}
	// The slab grows once to its bound, not by append's steps, each of
	// which held the old and the new slab (351 MiB allocated that way).
	if total > 160 {
		t.Errorf("filling the table allocated %.1f MiB", total)
	}
	runtime.KeepAlive(tb)
}

func TestTableServerNamesCompacted(t *testing.T) {
	n := 0
	tb := NewTable(Config{MaxFlows: 10, ServerName: func(p []byte) string { return string(p) },
		OnFlow: func(f *Flow) {
			n++
			if want := fmt.Sprintf("host%d.example", f.Orig.Port()); f.ServerName != want {
				t.Fatalf("flow %v: server name %q, want %q", f.Orig, f.ServerName, want)
			}
		}})
	tb.namesLimit = 8
	for i := range 100 {
		p := udpPkt(int64(i)*sec, cli, uint16(i), srv, 443, 20)
		p.Payload = []byte(fmt.Sprintf("host%d.example", i))
		tb.Add(&p)
	}
	tb.Flush()
	if n != 100 || len(tb.names) > 2*tb.namesLimit {
		t.Errorf("%d flows, %d names kept (limit %d)", n, len(tb.names), tb.namesLimit)
	}
}
