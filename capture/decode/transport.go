package decode

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers with a transport decoder.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// transport decodes the transport header of protocol proto in b, the
// captured bytes of an IP payload of n bytes (n >= len(b)). Protocols
// without a decoder become protocol-level packets: no ports, the whole IP
// payload counted.
func transport(proto uint8, b []byte, n int, p *Packet) error {
	p.Proto = proto
	switch proto {
	case protoTCP:
		return tcp(b, n, p)
	case protoUDP:
		return udp(b, n, p)
	case protoICMP:
		return icmp4(b, n, p)
	case protoICMPv6:
		return icmp6(b, n, p)
	}
	p.PayloadLen = n
	p.Payload = b
	return nil
}

func tcp(b []byte, n int, p *Packet) error {
	if len(b) < 20 {
		return ErrTruncated
	}
	p.SrcPort = binary.BigEndian.Uint16(b[0:2])
	p.DstPort = binary.BigEndian.Uint16(b[2:4])
	p.Seq = binary.BigEndian.Uint32(b[4:8])
	p.Ack = binary.BigEndian.Uint32(b[8:12])
	p.TCPFlags = b[13]
	p.L4Sum = binary.BigEndian.Uint16(b[16:18])
	off := int(b[12]>>4) * 4
	if off < 20 || off > n {
		return ErrMalformed
	}
	p.PayloadLen = n - off
	if off < len(b) { // options cut by the snap length leave no payload
		p.Payload = b[off:]
	}
	return nil
}

func udp(b []byte, n int, p *Packet) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	p.SrcPort = binary.BigEndian.Uint16(b[0:2])
	p.DstPort = binary.BigEndian.Uint16(b[2:4])
	p.L4Sum = binary.BigEndian.Uint16(b[6:8])
	if n < 8 {
		return ErrMalformed
	}
	p.PayloadLen = n - 8
	p.Payload = b[8:]
	return nil
}

// icmp4 decodes ICMP: echo-style messages give the identifier, errors give
// the quoted header of the packet that provoked them (RFC 792).
func icmp4(b []byte, n int, p *Packet) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	p.ICMPType, p.ICMPCode = b[0], b[1]
	p.PayloadLen = n - 8
	p.Payload = b[8:]
	switch p.ICMPType {
	case 0, 8, 13, 14, 15, 16, 17, 18: // echo, timestamp, info, mask
		p.ICMPID = binary.BigEndian.Uint16(b[4:6])
	case 3, 4, 5, 11, 12: // unreachable, quench, redirect, time exceeded, parameter problem
		inner4(b[8:], p)
	}
	return nil
}

// icmp6 decodes ICMPv6 (RFC 4443) the same way.
func icmp6(b []byte, n int, p *Packet) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	p.ICMPType, p.ICMPCode = b[0], b[1]
	p.PayloadLen = n - 8
	p.Payload = b[8:]
	switch p.ICMPType {
	case 128, 129: // echo request, reply
		p.ICMPID = binary.BigEndian.Uint16(b[4:6])
	case 1, 2, 3, 4: // unreachable, packet too big, time exceeded, parameter problem
		inner6(b[8:], p)
	}
	return nil
}

// inner4 parses the IPv4 header quoted in an ICMP error. HasInner is set
// once the addresses are known; ports stay zero when the quote is too
// short or quotes a later fragment.
func inner4(b []byte, p *Packet) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 || len(b) < hl {
		return
	}
	in := &p.Inner
	in.Src = netip.AddrFrom4([4]byte(b[12:16]))
	in.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	in.Proto = b[9]
	p.HasInner = true
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		return
	}
	innerTransport(b[hl:], in)
}

// inner6 parses the IPv6 header quoted in an ICMPv6 error, walking its
// extension headers as far as the quote goes.
func inner6(b []byte, p *Packet) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return
	}
	in := &p.Inner
	in.Src = netip.AddrFrom16([16]byte(b[8:24]))
	in.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	nh := b[6]
	in.Proto = nh
	p.HasInner = true
	b = b[40:]
	for range maxExtHeaders {
		in.Proto = nh
		var hl int
		switch nh {
		case protoHopByHop, protoRouting, protoDestOpts:
			if len(b) < 2 {
				return
			}
			hl = (int(b[1]) + 1) * 8
		case protoAH:
			if len(b) < 2 {
				return
			}
			hl = (int(b[1]) + 2) * 4
		case protoFragment:
			if len(b) < 8 {
				return
			}
			if binary.BigEndian.Uint16(b[2:4])&^7 != 0 {
				in.Proto = b[0]
				return // a later fragment: no transport header
			}
			hl = 8
		default:
			innerTransport(b, in)
			return
		}
		if hl > len(b) {
			return
		}
		nh, b = b[0], b[hl:]
	}
}

// innerTransport reads the first 8 bytes of the quoted transport header.
func innerTransport(b []byte, in *Inner) {
	switch in.Proto {
	case protoTCP, protoUDP:
		if len(b) >= 4 {
			in.SrcPort = binary.BigEndian.Uint16(b[0:2])
			in.DstPort = binary.BigEndian.Uint16(b[2:4])
		}
	case protoICMP:
		if len(b) >= 6 && (b[0] == 8 || b[0] == 0) {
			in.ICMPID = binary.BigEndian.Uint16(b[4:6])
		}
	case protoICMPv6:
		if len(b) >= 6 && (b[0] == 128 || b[0] == 129) {
			in.ICMPID = binary.BigEndian.Uint16(b[4:6])
		}
	}
}
