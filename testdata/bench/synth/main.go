// Command synth writes a synthetic capture of a busy mail gateway
// (192.0.2.10) for benchmarking flow reconstruction: about 10,000
// concurrent TCP connections at any time (established with data, refused
// by RST, unanswered SYNs with retransmissions; a quarter of the
// established ones inbound SMTP) and UDP DNS exchanges (answered and not),
// interleaved at random.
//
//	go run ./testdata/bench/synth -o testdata/bench/out/synth.pcap
//
// The defaults give about 5.1 million packets in 200,000 flows. The output is
// deterministic for a given -seed.
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
	out := flag.String("o", "testdata/bench/out/synth.pcap", "output pcap `FILE`")
	flows := flag.Int("flows", 200000, "number of flows")
	concurrent := flag.Int("concurrent", 10000, "flows open at the same time")
	seed := flag.Uint64("seed", 1, "random seed")
	gap := flag.Duration("gap", 60*time.Microsecond, "time between packets")
	flag.Parse()
	if err := run(*out, *flows, *concurrent, *seed, *gap); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

type kind uint8

const (
	tcpEstablished kind = iota
	tcpRefused
	tcpUnanswered
	udpAnswered
	udpUnanswered
)

// conn is one flow being generated.
type conn struct {
	kind       kind
	cli, srv   [4]byte
	cport      uint16
	sport      uint16
	cseq, sseq uint32
	step       int
	data       int // data/ack packets left (established)
	closing    int // close steps done (established)
}

type gen struct {
	rng    *rand.Rand
	w      *pcapgo.Writer
	ts     time.Time
	gap    time.Duration
	buf    []byte
	next   int
	pkts   int
	bytes  int
	counts [5]int
}

func run(out string, nflows, concurrent int, seed uint64, gap time.Duration) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	bw := bufio.NewWriterSize(f, 4<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), w: w, gap: gap,
		ts: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), buf: make([]byte, 1600)}
	active := make([]*conn, 0, concurrent)
	for len(active) < concurrent && g.next < nflows {
		active = append(active, g.newConn())
	}
	for len(active) > 0 {
		i := g.rng.IntN(len(active))
		c := active[i]
		done, err := g.step(c)
		if err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		if done {
			if g.next < nflows {
				active[i] = g.newConn()
			} else {
				active[i] = active[len(active)-1]
				active = active[:len(active)-1]
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Printf("%s: %d packets, %d flows (established %d, refused %d, unanswered %d, udp answered %d, udp unanswered %d), %d bytes of frames\n",
		out, g.pkts, nflows, g.counts[0], g.counts[1], g.counts[2], g.counts[3], g.counts[4], g.bytes)
	return nil
}

var serverPorts = []uint16{25, 443, 587, 993, 465, 80}

// gateway is the mail gateway every flow involves, as in a capture taken
// on it: it connects out (SMTP delivery, HTTPS updates, DNS) and receives
// SMTP from outside.
var gateway = [4]byte{192, 0, 2, 10}

func (g *gen) newConn() *conn {
	i := g.next
	g.next++
	c := &conn{
		cli:   gateway,
		srv:   [4]byte{198, 51, 100, byte(g.rng.IntN(254) + 1)},
		cport: uint16(1024 + i%60000),
		cseq:  g.rng.Uint32(),
		sseq:  g.rng.Uint32(),
	}
	switch r := g.rng.IntN(100); {
	case r < 70:
		c.kind = tcpEstablished
		c.data = 16 + g.rng.IntN(29)
	case r < 78:
		c.kind = tcpRefused
	case r < 85:
		c.kind = tcpUnanswered
	case r < 97:
		c.kind = udpAnswered
	default:
		c.kind = udpUnanswered
	}
	switch {
	case c.kind >= udpAnswered:
		c.srv = [4]byte{203, 0, 113, byte(g.rng.IntN(8) + 1)}
		c.sport = 53
	case c.kind == tcpEstablished && g.rng.IntN(4) == 0:
		// Inbound SMTP: an outside sender connects to the gateway.
		c.cli = [4]byte{203, 0, 113, byte(16 + g.rng.IntN(200))}
		c.srv, c.sport = gateway, 25
	default:
		c.sport = serverPorts[g.rng.IntN(len(serverPorts))]
	}
	g.counts[c.kind]++
	return c
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// step writes c's next packet and reports whether c is finished.
func (g *gen) step(c *conn) (bool, error) {
	c.step++
	switch c.kind {
	case tcpRefused:
		if c.step == 1 {
			return false, g.tcp(c, true, fSYN, 0)
		}
		c.cseq++
		return true, g.tcp(c, false, fRST|fACK, 0)
	case tcpUnanswered:
		return c.step == 3, g.tcp(c, true, fSYN, 0)
	case udpAnswered:
		if c.step == 1 {
			return false, g.udp(c, true, 30+g.rng.IntN(30))
		}
		return true, g.udp(c, false, 60+g.rng.IntN(200))
	case udpUnanswered:
		return c.step == 2, g.udp(c, true, 40)
	}
	// Established: handshake, data, close.
	switch c.step {
	case 1:
		return false, g.tcp(c, true, fSYN, 0)
	case 2:
		c.cseq++
		return false, g.tcp(c, false, fSYN|fACK, 0)
	case 3:
		c.sseq++
		return false, g.tcp(c, true, fACK, 0)
	}
	if c.data > 0 {
		c.data--
		fromCli := g.rng.IntN(10) < 3
		n := 0
		if g.rng.IntN(2) == 0 {
			n = 1 + g.rng.IntN(1200)
		}
		flags := uint8(fACK)
		if n > 0 {
			flags |= fPSH
		}
		return false, g.tcp(c, fromCli, flags, n)
	}
	c.closing++
	switch c.closing {
	case 1:
		return false, g.tcp(c, true, fFIN|fACK, 0)
	case 2:
		c.cseq++
		return false, g.tcp(c, false, fFIN|fACK, 0)
	}
	c.sseq++
	return true, g.tcp(c, true, fACK, 0)
}

// tcp writes one TCP segment of c from the client (or server) and advances
// that side's sequence number by the payload.
func (g *gen) tcp(c *conn, fromCli bool, flags uint8, n int) error {
	b := g.buf[:54+n]
	src, dst, sp, dp, seq, ack := c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq
	if !fromCli {
		src, dst, sp, dp, seq, ack = c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq
	}
	if flags&fACK == 0 {
		ack = 0
	}
	g.ipv4(b, src, dst, 6, 20+n)
	t := b[34:54]
	binary.BigEndian.PutUint16(t[0:], sp)
	binary.BigEndian.PutUint16(t[2:], dp)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = 5 << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 64240)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	clear(b[54:])
	if fromCli {
		c.cseq += uint32(n)
	} else {
		c.sseq += uint32(n)
	}
	return g.write(b)
}

func (g *gen) udp(c *conn, fromCli bool, n int) error {
	b := g.buf[:42+n]
	src, dst, sp, dp := c.cli, c.srv, c.cport, c.sport
	if !fromCli {
		src, dst, sp, dp = c.srv, c.cli, c.sport, c.cport
	}
	g.ipv4(b, src, dst, 17, 8+n)
	u := b[34:42]
	binary.BigEndian.PutUint16(u[0:], sp)
	binary.BigEndian.PutUint16(u[2:], dp)
	binary.BigEndian.PutUint16(u[4:], uint16(8+n))
	u[6], u[7] = 0, 0
	clear(b[42:])
	return g.write(b)
}

// ipv4 writes the Ethernet and IPv4 headers (checksum left zero, as with
// checksum offload).
func (g *gen) ipv4(b []byte, src, dst [4]byte, proto uint8, l4 int) {
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(20+l4))
	binary.BigEndian.PutUint16(ip[4:], uint16(g.pkts))
	ip[6], ip[7] = 0x40, 0
	ip[8], ip[9] = 64, proto
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
}

func (g *gen) write(b []byte) error {
	g.ts = g.ts.Add(g.gap)
	g.pkts++
	g.bytes += len(b)
	return g.w.WritePacket(gopacket.CaptureInfo{Timestamp: g.ts, CaptureLength: len(b), Length: len(b)}, b)
}
