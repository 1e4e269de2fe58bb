package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// steadyPackets is a mix of short TCP connections and UDP exchanges over
// many ports, so flows are created, closed and expired continually.
func steadyPackets(n int) []decode.Packet {
	var pk []decode.Packet
	t0 := int64(1_700_000_000) * sec
	for i := 0; len(pk) < n; i++ {
		ts := t0 + int64(i)*int64(10*time.Millisecond)
		c := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		for _, p := range handshake(ts, c, srv) {
			p.SrcPort += uint16(i % 7)
			if p.Src == srv {
				p.SrcPort, p.DstPort = 443, 40000+uint16(i%7)
			}
			pk = append(pk, p)
		}
		pk = append(pk, udpPkt(ts, c, 5000, srv, 53, 30), udpPkt(ts+1, srv, 53, c, 5000, 90))
	}
	return pk
}

func TestTableAddAllocs(t *testing.T) {
	pk := steadyPackets(200000)
	tb := NewTable(Config{OnFlow: func(*Flow) {}})
	// Warm up: the map, slab and free list reach their steady size.
	for i := range pk {
		tb.Add(&pk[i])
	}
	i := 0
	base := pk[len(pk)-1].TS
	allocs := testing.AllocsPerRun(len(pk), func() {
		p := pk[i%len(pk)]
		p.TS += base - pk[0].TS + int64(10*time.Millisecond)
		tb.Add(&p)
		i++
	})
	// UIDs come from 64 KiB chunks: one allocation per ~3600 flows.
	if allocs > 0.01 {
		t.Errorf("Add allocates %.4f times per packet in steady state", allocs)
	}
}

func BenchmarkTableAdd(b *testing.B) {
	pk := steadyPackets(1 << 16)
	tb := NewTable(Config{OnFlow: func(*Flow) {}})
	span := pk[len(pk)-1].TS - pk[0].TS + int64(time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pk[i%len(pk)]
		p.TS += int64(i/len(pk)) * span
		tb.Add(&p)
	}
}

// interleaved returns n packets of TCP connections, concurrent at a time,
// picked at random the way a busy gateway interleaves them: each
// connection is a handshake, data and ACKs, and a close.
func interleaved(n, concurrent int) []decode.Packet {
	type conn struct {
		c          netip.Addr
		cp         uint16
		cseq, sseq uint32
		step       int
	}
	rng := uint64(1)
	rnd := func(k int) int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(k))
	}
	next := 0
	newConn := func() *conn {
		next++
		return &conn{c: netip.AddrFrom4([4]byte{10, byte(next >> 16), byte(next >> 8), byte(next)}),
			cp: uint16(1024 + next%60000), cseq: uint32(next) * 7919, sseq: uint32(next) * 104729}
	}
	active := make([]*conn, concurrent)
	for i := range active {
		active[i] = newConn()
	}
	ts := int64(1_700_000_000) * sec
	out := make([]decode.Packet, 0, n)
	for len(out) < n {
		ts += int64(60 * time.Microsecond)
		i := rnd(len(active))
		c := active[i]
		c.step++
		var p decode.Packet
		switch {
		case c.step == 1:
			p = tcpPkt(ts, c.c, c.cp, srv, 443, S, c.cseq, 0, 0)
			c.cseq++
		case c.step == 2:
			p = tcpPkt(ts, srv, 443, c.c, c.cp, SA, c.sseq, c.cseq, 0)
			c.sseq++
		case c.step < 30 && c.step%3 == 0:
			p = tcpPkt(ts, c.c, c.cp, srv, 443, A, c.cseq, c.sseq, 0)
		case c.step < 30:
			p = tcpPkt(ts, srv, 443, c.c, c.cp, PA, c.sseq, c.cseq, 1000)
			c.sseq += 1000
		case c.step == 30:
			p = tcpPkt(ts, c.c, c.cp, srv, 443, FA, c.cseq, c.sseq, 0)
			c.cseq++
		case c.step == 31:
			p = tcpPkt(ts, srv, 443, c.c, c.cp, FA, c.sseq, c.cseq, 0)
			c.sseq++
		default:
			p = tcpPkt(ts, c.c, c.cp, srv, 443, A, c.cseq, c.sseq, 0)
			active[i] = newConn()
		}
		out = append(out, p)
	}
	return out
}

// BenchmarkTableInterleaved measures AddBatch over 10k concurrent
// connections, a working set larger than the CPU's fast caches.
func BenchmarkTableInterleaved(b *testing.B) {
	pk := interleaved(1<<20, benchConcurrent)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		tb := NewTable(Config{OnFlow: func(*Flow) {}})
		for j := 0; j < len(pk) && i < b.N; j += 256 {
			end := min(j+256, len(pk))
			tb.AddBatch(pk[j:end])
			i += end - j
		}
	}
}

var benchConcurrent = 10000
