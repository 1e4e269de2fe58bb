package flow

import (
	"encoding/json"
	"testing"

	"github.com/flowaudit/flowaudit/capture/decode"
)

var (
	macGW     = MAC{0x02, 0, 0, 0, 0, 0x10}
	macRouter = MAC{0x02, 0, 0, 0, 0, 0x01}
)

// ethTo puts p in an Ethernet frame from src to dst.
func ethTo(p decode.Packet, src, dst MAC) decode.Packet {
	p.Link = decode.Link{Src: src, Dst: dst, HasMAC: true}
	return p
}

func flowsOf(t *testing.T, pkts []decode.Packet) []Flow {
	t.Helper()
	var out []Flow
	tb := NewTable(Config{OnFlow: func(f *Flow) { out = append(out, *f.Clone()) }})
	for i := range pkts {
		tb.Add(&pkts[i])
	}
	tb.Flush()
	return out
}

// TestTableRecordsLink: each side's MAC is the source of its own frames,
// or the destination of those sent to it when it sent none; an SLL
// outgoing packet marks its sender; a flow whose roles flip keeps each
// side's link with it; raw IP says nothing.
func TestTableRecordsLink(t *testing.T) {
	syn := tcpPkt(sec, cli, 40000, srv, 25, S, 1000, 0, 0)
	synack := tcpPkt(sec+1e6, srv, 25, cli, 40000, SA, 5000, 1001, 0)
	out := func(p decode.Packet, typ uint8) decode.Packet {
		p.Link = decode.Link{HasPktType: true, PktType: typ}
		return p
	}
	bcast := MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	cases := []struct {
		name string
		pkts []decode.Packet
		want Link
	}{
		{"both sides", []decode.Packet{ethTo(syn, macGW, macRouter), ethTo(synack, macRouter, macGW)},
			Link{OrigMAC: macGW, RespMAC: macRouter}},
		{"responder silent", []decode.Packet{ethTo(syn, macGW, macRouter)}, Link{OrigMAC: macGW, RespMAC: macRouter}},
		{"broadcast is nobody's", []decode.Packet{ethTo(syn, macGW, bcast)}, Link{OrigMAC: macGW}},
		{"reply seen first flips", []decode.Packet{ethTo(synack, macRouter, macGW)}, Link{OrigMAC: macGW, RespMAC: macRouter}},
		{"sll outgoing", []decode.Packet{out(syn, decode.PktOutgoing), out(synack, decode.PktHost)}, Link{OrigOut: true}},
		{"sll reply outgoing", []decode.Packet{out(syn, decode.PktHost), out(synack, decode.PktOutgoing)}, Link{RespOut: true}},
		{"raw ip", []decode.Packet{syn, synack}, Link{}},
	}
	for _, c := range cases {
		fs := flowsOf(t, c.pkts)
		if len(fs) != 1 {
			t.Fatalf("%s: %d flows, want 1", c.name, len(fs))
		}
		if fs[0].Link != c.want {
			t.Errorf("%s: link %+v, want %+v", c.name, fs[0].Link, c.want)
		}
	}
}

func TestMACText(t *testing.T) {
	b, err := json.Marshal(Link{OrigMAC: MAC{0x02, 0xab, 0, 0, 0, 0xff}, RespOut: true})
	if err != nil || string(b) != `{"orig_mac":"02:ab:00:00:00:ff","resp_out":true}` {
		t.Fatalf("json %s %v", b, err)
	}
	var l Link
	if err := json.Unmarshal(b, &l); err != nil || l.OrigMAC != (MAC{0x02, 0xab, 0, 0, 0, 0xff}) || !l.RespOut {
		t.Fatalf("round trip %+v %v", l, err)
	}
	for _, bad := range []string{"02:ab:00:00:00", "02-ab-00-00-00-ff", "zz:ab:00:00:00:ff"} {
		var m MAC
		if m.UnmarshalText([]byte(bad)) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
