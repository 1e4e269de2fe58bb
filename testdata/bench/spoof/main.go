// Command spoof sends TCP SYNs from random spoofed sources on a network
// interface, through an AF_PACKET socket, for the live memory benchmark of
// issue 10 (testdata/bench/live.sh): every SYN comes from a new random
// IPv6 address in 2001:db8::/32 and port, to -dst port -port, so each is a
// flow of its own, as in a spoofed SYN flood. Frames are written with
// sendmmsg in batches, paced at -rate frames a second, checksums correct
// (the receiving stack answers them).
//
//	ip netns exec GEN spoof -i gen0 -dst 2001:db8:b::10 -dst-mac 02:..:10 -n 1000000 -rate 100000
//
// It prints "sent N in D" when done. The frames are deterministic for a
// given -seed.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	iface := flag.String("i", "", "send on interface `IF`")
	dst := flag.String("dst", "2001:db8:b::10", "destination IPv6 `ADDR`")
	dstMAC := flag.String("dst-mac", "", "destination `MAC` (the receiver's)")
	port := flag.Uint("port", 25, "destination TCP `PORT`")
	n := flag.Int("n", 1_000_000, "number of SYNs")
	rate := flag.Int("rate", 100_000, "SYNs a second")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*iface, *dst, *dstMAC, uint16(*port), *n, *rate, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "spoof:", err)
		os.Exit(1)
	}
}

const (
	batch    = 256
	frameLen = 14 + 40 + 20
)

func run(iface, dst, dstMAC string, port uint16, n, rate int, seed uint64) error {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
	to, err := netip.ParseAddr(dst)
	if err != nil || !to.Is6() {
		return fmt.Errorf("-dst %q: want an IPv6 address", dst)
	}
	mac, err := net.ParseMAC(dstMAC)
	if err != nil {
		return fmt.Errorf("-dst-mac: %w", err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifc.Index}); err != nil {
		return fmt.Errorf("bind %s: %w", iface, err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	frames := make([][frameLen]byte, batch)
	type mmsghdr struct {
		hdr unix.Msghdr
		len uint32
	}
	iovs := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		iovs[i].Base = &frames[i][0]
		iovs[i].SetLen(frameLen)
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.Iovlen = 1
	}
	start := time.Now()
	sent := 0
	for sent < n {
		k := min(batch, n-sent)
		for i := range k {
			syn(&frames[i], rng, ifc.HardwareAddr, mac, to, port)
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(k), 0, 0, 0)
		if errno != 0 {
			if errno == unix.ENOBUFS || errno == unix.EAGAIN {
				time.Sleep(time.Millisecond)
				continue
			}
			return fmt.Errorf("sendmmsg: %w", errno)
		}
		sent += int(r)
		if ahead := time.Duration(sent)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	fmt.Printf("sent %d in %v\n", sent, time.Since(start).Round(time.Millisecond))
	return nil
}

// syn writes into f a SYN from a random address of 2001:db8::/32 (not
// 2001:db8:b::/48, the benchmark's own) and port to dst:port.
func syn(f *[frameLen]byte, rng *rand.Rand, srcMAC, dstMAC net.HardwareAddr, dst netip.Addr, port uint16) {
	b := f[:0]
	b = append(b, dstMAC...)
	b = append(b, srcMAC...)
	b = append(b, 0x86, 0xdd)
	var src [16]byte
	src[0], src[1], src[2], src[3] = 0x20, 0x01, 0x0d, 0xb8
	binary.BigEndian.PutUint16(src[4:], uint16(0x0c00+rng.IntN(0xf000)))
	binary.BigEndian.PutUint64(src[8:], rng.Uint64())
	d := dst.As16()
	b = append(b, 0x60, 0, 0, 0, 0, 20, 6, 64)
	b = append(b, src[:]...)
	b = append(b, d[:]...)
	tcp := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(1024+rng.IntN(64000)))
	b = binary.BigEndian.AppendUint16(b, port)
	b = binary.BigEndian.AppendUint32(b, rng.Uint32())
	b = append(b, 0, 0, 0, 0, 5<<4, 0x02, 0xfa, 0xf0, 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[tcp+16:], checksum(src, d, b[tcp:]))
}

// checksum is the TCP checksum over the IPv6 pseudo-header and seg.
func checksum(src, dst [16]byte, seg []byte) uint16 {
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(p[i:]))
		}
	}
	add(src[:])
	add(dst[:])
	sum += uint32(len(seg)) + 6
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
