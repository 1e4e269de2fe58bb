package flow

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// FuzzTable feeds the table arbitrary packet sequences (each 16 bytes of
// input is one packet: addresses, ports, protocol, flags, sequence numbers,
// time step, ICMP quote) with a tiny MaxFlows, so eviction, expiry, flips,
// reuse and ICMP attachment all get exercised. The table must not panic and
// its books must balance: every flow created is finished exactly once.
func FuzzTable(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x06\x02\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x01\x00\x03\x02\x06\x12\x00\x00\x00\x20\x00\x00\x00\x02\x00\x00"))
	f.Add([]byte("\x00\x01\x00\x35\x11\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x03\x0d\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		finished := 0
		tb := NewTable(Config{MaxFlows: 4, OnFlow: func(fl *Flow) {
			finished++
			if fl.State == "" || fl.Outcome == "" || fl.UID == "" {
				t.Fatalf("incomplete flow %+v", fl)
			}
		}})
		addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
			netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("224.0.0.251")}
		protos := []uint8{ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6, 132}
		ts := int64(1_700_000_000) * sec
		for len(data) >= 16 {
			b := data[:16]
			data = data[16:]
			p := decode.Packet{
				Src: addrs[int(b[0])%len(addrs)], Dst: addrs[int(b[1])%len(addrs)],
				SrcPort: uint16(b[2]) % 8 * 10, DstPort: uint16(b[3]) % 8 * 10,
				Proto: protos[int(b[4])%len(protos)], TCPFlags: b[5],
				Seq: binary.BigEndian.Uint32(b[6:10]), Ack: binary.BigEndian.Uint32(b[10:14]) ^ uint32(b[6])<<24,
				PayloadLen: int(b[14]), ICMPType: b[2], ICMPCode: b[3], ICMPID: uint16(b[5]),
			}
			ts += int64(b[15]) * int64(b[15]) * 1e7 // up to ~11 minutes
			p.TS = ts
			if b[15]&1 == 1 {
				p.HasInner = true
				p.Inner = decode.Inner{Src: p.Dst, Dst: p.Src, Proto: protos[int(b[14])%len(protos)],
					SrcPort: p.DstPort, DstPort: p.SrcPort, ICMPID: p.ICMPID}
			}
			if b[14]&0x80 != 0 {
				p.FragOffset = 8
			}
			tb.Add(&p)
		}
		tb.Flush()
		st := tb.Stats()
		if st.Active != 0 || uint64(finished) != st.Flows {
			t.Fatalf("created %d flows, finished %d, %d still active", st.Flows, finished, st.Active)
		}
	})
}

// FuzzMACText: any text is refused with an error or read as a MAC that
// writes back the same text (lower case).
func FuzzMACText(f *testing.F) {
	for _, s := range []string{"02:00:00:00:00:10", "FF:ff:ff:ff:ff:ff", "02:00:00:00:00", "zz:00:00:00:00:00", "02-00-00-00-00-10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m MAC
		if err := m.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if got := m.String(); !strings.EqualFold(got, s) {
			t.Fatalf("%q read as %s", s, got)
		}
	})
}
