// Command synflood writes a synthetic capture of a mail gateway under a
// SYN flood from random sources, for the memory benchmark of issue 10
// (testdata/bench/flood.sh): every flood flow is one SYN from a new random
// IPv6 address in 2001:db8::/32 to the gateway's port 25 (2001:db8:a::10),
// answered as -answer says (a SYN-ACK nobody acknowledges, as a listening
// MTA answers spoofed SYNs; an RST; or nothing). Every -every flood flows,
// one real SMTP session from 203.0.113.0/24 to 192.0.2.10 (handshake,
// banner, a few data segments, close) is mixed in, so the audit has
// something real to judge.
//
//	go run ./testdata/bench/synflood -o testdata/bench/out/synflood.pcap
//
// The defaults give 5,000,000 flood flows (10 million packets, about
// 900 MB). The output is deterministic for a given -seed.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	out := flag.String("o", "testdata/bench/out/synflood.pcap", "output pcap `FILE`")
	flows := flag.Int("flows", 5_000_000, "number of flood flows (one random source each)")
	every := flag.Int("every", 10_000, "one real SMTP session per this many flood flows (0: none)")
	answer := flag.String("answer", "synack", "how the gateway answers flood SYNs: synack, rst or none")
	seed := flag.Uint64("seed", 1, "random seed")
	gap := flag.Duration("gap", 10*time.Microsecond, "time between packets")
	flag.Parse()
	if *answer != "synack" && *answer != "rst" && *answer != "none" {
		fmt.Fprintln(os.Stderr, "synflood: -answer must be synack, rst or none")
		os.Exit(2)
	}
	if err := run(*out, *flows, *every, *answer, *seed, *gap); err != nil {
		fmt.Fprintln(os.Stderr, "synflood:", err)
		os.Exit(1)
	}
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

var (
	gw4 = [4]byte{192, 0, 2, 10}
	gw6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0a, 15: 0x10}
)

type gen struct {
	rng   *rand.Rand
	w     *pcapgo.Writer
	ts    time.Time
	gap   time.Duration
	buf   []byte
	pkts  int
	bytes int
	err   error
}

func run(out string, nflows, every int, answer string, seed uint64, gap time.Duration) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	bw := bufio.NewWriterSize(f, 4<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0xf100d)), w: w, gap: gap,
		ts: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), buf: make([]byte, 1600)}
	sessions := 0
	for i := range nflows {
		g.flood(uint16(1024+i%60000), answer)
		if every > 0 && i%every == every/2 {
			g.session(uint16(20000 + sessions%40000))
			sessions++
		}
		if g.err != nil {
			return fmt.Errorf("write %s: %w", out, g.err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Printf("%s: %d packets, %d flood flows (answer %s), %d real SMTP sessions, %d bytes of frames\n",
		out, g.pkts, nflows, answer, sessions, g.bytes)
	return nil
}

// flood writes one spoofed SYN from a random 2001:db8::/32 address and the
// gateway's answer.
func (g *gen) flood(sport uint16, answer string) {
	var src [16]byte
	copy(src[:4], gw6[:4])
	binary.BigEndian.PutUint32(src[4:], g.rng.Uint32())
	binary.BigEndian.PutUint64(src[8:], g.rng.Uint64())
	seq, sseq := g.rng.Uint32(), g.rng.Uint32()
	g.tcp6(src, gw6, sport, 25, seq, 0, fSYN)
	switch answer {
	case "synack":
		g.tcp6(gw6, src, 25, sport, sseq, seq+1, fSYN|fACK)
	case "rst":
		g.tcp6(gw6, src, 25, sport, 0, seq+1, fRST|fACK)
	}
}

// session writes one complete inbound SMTP session over IPv4.
func (g *gen) session(cport uint16) {
	cli := [4]byte{203, 0, 113, byte(16 + g.rng.IntN(200))}
	c, s := g.rng.Uint32(), g.rng.Uint32()
	g.tcp4(cli, gw4, cport, 25, c, 0, fSYN, 0)
	c++
	g.tcp4(gw4, cli, 25, cport, s, c, fSYN|fACK, 0)
	s++
	g.tcp4(cli, gw4, cport, 25, c, s, fACK, 0)
	for i := range 6 {
		n := 40 + g.rng.IntN(400)
		if i%2 == 0 {
			g.tcp4(gw4, cli, 25, cport, s, c, fPSH|fACK, n)
			s += uint32(n)
		} else {
			g.tcp4(cli, gw4, cport, 25, c, s, fPSH|fACK, n)
			c += uint32(n)
		}
	}
	g.tcp4(cli, gw4, cport, 25, c, s, fFIN|fACK, 0)
	c++
	g.tcp4(gw4, cli, 25, cport, s, c, fFIN|fACK, 0)
	s++
	g.tcp4(cli, gw4, cport, 25, c, s, fACK, 0)
}

func (g *gen) tcp4(src, dst [4]byte, sp, dp uint16, seq, ack uint32, flags uint8, n int) {
	b := g.buf[:54+n]
	eth(b, 0x0800)
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(40+n))
	binary.BigEndian.PutUint16(ip[4:], uint16(g.pkts))
	ip[6], ip[7], ip[8], ip[9], ip[10], ip[11] = 0x40, 0, 64, 6, 0, 0
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	tcpHeader(b[34:54], sp, dp, seq, ack, flags)
	clear(b[54:])
	g.write(b)
}

func (g *gen) tcp6(src, dst [16]byte, sp, dp uint16, seq, ack uint32, flags uint8) {
	b := g.buf[:74]
	eth(b, 0x86dd)
	ip := b[14:54]
	ip[0], ip[1], ip[2], ip[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(ip[4:], 20)
	ip[6], ip[7] = 6, 64
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])
	tcpHeader(b[54:74], sp, dp, seq, ack, flags)
	g.write(b)
}

// tcpHeader writes a 20-byte TCP header (checksum left zero, as with
// checksum offload); ack is left zero without the ACK flag.
func tcpHeader(t []byte, sp, dp uint16, seq, ack uint32, flags uint8) {
	if flags&fACK == 0 {
		ack = 0
	}
	binary.BigEndian.PutUint16(t[0:], sp)
	binary.BigEndian.PutUint16(t[2:], dp)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12], t[13] = 5<<4, flags
	binary.BigEndian.PutUint16(t[14:], 64240)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
}

func eth(b []byte, etherType uint16) {
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	binary.BigEndian.PutUint16(b[12:], etherType)
}

func (g *gen) write(b []byte) {
	if g.err != nil {
		return
	}
	g.ts = g.ts.Add(g.gap)
	g.pkts++
	g.bytes += len(b)
	g.err = g.w.WritePacket(gopacket.CaptureInfo{Timestamp: g.ts, CaptureLength: len(b), Length: len(b)}, b)
}
