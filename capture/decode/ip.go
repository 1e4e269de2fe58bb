package decode

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers of the IPv6 extension headers walked by ipv6.
const (
	protoHopByHop = 0
	protoRouting  = 43
	protoFragment = 44
	protoAH       = 51
	protoDestOpts = 60
)

// maxExtHeaders bounds the IPv6 extension header chain, so a packet made of
// empty extension headers ends quickly.
const maxExtHeaders = 16

// ipv4 decodes an IPv4 header. The header checksum is not checked: Zeek is
// often run with -C and offloaded checksums are wrong in local captures.
func (d *Decoder) ipv4(data []byte, p *Packet) error {
	if len(data) < 20 {
		return ErrTruncated
	}
	if data[0]>>4 != 4 {
		return ErrMalformed
	}
	hl := int(data[0]&0x0f) * 4
	if hl < 20 {
		return ErrMalformed
	}
	if len(data) < hl {
		return ErrTruncated
	}
	tl := int(binary.BigEndian.Uint16(data[2:4]))
	if tl == 0 {
		// A TSO super-packet captured on the sending host has total
		// length 0; the capture length is the best estimate.
		tl = len(data)
	}
	if tl < hl {
		return ErrMalformed
	}
	if tl < len(data) {
		data = data[:tl] // Ethernet padding or trailer
	}
	p.Src = netip.AddrFrom4([4]byte(data[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	p.IPID, p.IPLen = uint32(binary.BigEndian.Uint16(data[4:6])), uint16(tl)
	proto := data[9]
	p.Proto = proto
	body, n := data[hl:], tl-hl

	fo := binary.BigEndian.Uint16(data[6:8])
	if fo&0x3fff == 0 { // neither more-fragments nor an offset
		return transport(proto, body, n, p)
	}
	p.Fragment = true
	key := fragKey{src: p.Src, dst: p.Dst, id: uint32(binary.BigEndian.Uint16(data[4:6])), proto: proto}
	off := (fo & 0x1fff) * 8
	if off != 0 {
		d.laterFragment(key, off, fo&0x2000 != 0, n, p)
		return nil
	}
	if err := transport(proto, body, n, p); err != nil {
		return err
	}
	d.frags.put(key, p)
	return nil
}

// ipv6 decodes an IPv6 header and its extension header chain (hop-by-hop,
// routing, destination options, fragment, AH). ESP and unknown headers end
// the chain: the packet becomes a protocol-level packet of that number.
func (d *Decoder) ipv6(data []byte, p *Packet) error {
	if len(data) < 40 {
		return ErrTruncated
	}
	if data[0]>>4 != 6 {
		return ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(data[4:6]))
	if n == 0 {
		// Jumbogram or BIG TCP (RFC 2675): the real length is in a
		// hop-by-hop option, or nowhere once the kernel stripped it.
		n = len(data) - 40
	}
	if 40+n < len(data) {
		data = data[:40+n]
	}
	p.Src = netip.AddrFrom16([16]byte(data[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	p.IPID, p.IPLen = binary.BigEndian.Uint32(data[0:4])&0xfffff, uint16(n)
	nh := data[6]
	body := data[40:]

	var first bool
	var key fragKey
	for range maxExtHeaders {
		p.Proto = nh
		var hl int
		switch nh {
		case protoHopByHop, protoRouting, protoDestOpts:
			if len(body) < 2 {
				return ErrTruncated
			}
			hl = (int(body[1]) + 1) * 8
		case protoAH:
			if len(body) < 2 {
				return ErrTruncated
			}
			hl = (int(body[1]) + 2) * 4
		case protoFragment:
			if len(body) < 8 {
				return ErrTruncated
			}
			fo := binary.BigEndian.Uint16(body[2:4])
			off, more := fo&^7, fo&1 != 0
			id := binary.BigEndian.Uint32(body[4:8])
			nh, body, n = body[0], body[8:], n-8
			if n < 0 {
				return ErrMalformed
			}
			if off == 0 && !more {
				continue // atomic fragment (RFC 6946): a whole packet
			}
			p.Fragment = true
			key = fragKey{src: p.Src, dst: p.Dst, id: id, proto: nh}
			if off != 0 {
				p.Proto = nh
				d.laterFragment(key, off, more, n, p)
				return nil
			}
			first = true
			continue
		default:
			if err := transport(nh, body, n, p); err != nil {
				return err
			}
			if first {
				d.frags.put(key, p)
			}
			return nil
		}
		if hl > len(body) {
			return ErrTruncated
		}
		if hl > n {
			return ErrMalformed
		}
		nh, body, n = body[0], body[hl:], n-hl
	}
	return ErrMalformed
}

// laterFragment fills p for a fragment that holds no transport header,
// from the fragment map entry its first fragment left.
func (d *Decoder) laterFragment(key fragKey, off uint16, more bool, n int, p *Packet) {
	p.FragOffset = off
	p.PayloadLen = n
	e := d.frags.get(key, p.TS)
	if e == nil {
		return
	}
	p.Proto = e.proto
	p.SrcPort, p.DstPort = e.srcPort, e.dstPort
	p.ICMPType, p.ICMPCode, p.ICMPID = e.icmpType, e.icmpCode, e.icmpID
	if !more {
		e.used = false // the last fragment: free the slot early
	}
}
