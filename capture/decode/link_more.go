package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// Less common link layers: wireless captures and firewall logs.

// ieee80211 decodes an 802.11 data frame carrying LLC/SNAP. Management,
// control, null-data and protected (encrypted) frames carry no readable IP.
func (d *Decoder) ieee80211(data []byte, p *Packet) error {
	if len(data) < 24 {
		return ErrTruncated
	}
	fc0, fc1 := data[0], data[1]
	if (fc0>>2)&3 != 2 || fc0&0x40 != 0 || fc1&0x40 != 0 {
		return ErrNotIP // not data, null data, or protected
	}
	hl := 24
	if fc1&3 == 3 {
		hl += 6 // four-address (WDS) frame
	}
	if fc0&0x80 != 0 { // QoS data
		if len(data) < hl+2 {
			return ErrTruncated
		}
		if data[hl]&0x80 != 0 {
			return ErrNotIP // A-MSDU aggregate
		}
		hl += 2
		if fc1&0x80 != 0 {
			hl += 4 // HT control, present when the Order bit is set
		}
	}
	if len(data) < hl+8 {
		return ErrTruncated
	}
	llc := data[hl:]
	if llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03 {
		return ErrNotIP
	}
	return d.etherType(binary.BigEndian.Uint16(llc[6:8]), llc[8:], p)
}

// nflog decodes Linux NFLOG (iptables/nftables "log group" captures): a
// 4-byte header with the address family, then TLVs whose length and type
// are in the capturing host's byte order (little-endian on every platform
// a gateway runs); the packet is in the NFULA_PAYLOAD (9) TLV.
func (d *Decoder) nflog(data []byte, p *Packet) error {
	if len(data) < 4 {
		return ErrTruncated
	}
	family := data[0]
	for off := 4; ; {
		if len(data)-off < 4 {
			return ErrNotIP // no payload TLV
		}
		n := int(binary.LittleEndian.Uint16(data[off : off+2]))
		typ := binary.LittleEndian.Uint16(data[off+2:off+4]) & 0x7fff
		if n < 4 {
			return ErrMalformed
		}
		if typ == 9 {
			v := data[off+4 : min(off+n, len(data))]
			switch family {
			case 2:
				return d.ipv4(v, p)
			case 10:
				return d.ipv6(v, p)
			}
			return d.rawIP(v, p)
		}
		off += (n + 3) &^ 3
	}
}

// linuxSLL decodes a Linux "cooked" capture header (v1): the packet type
// at bytes 0-1, the protocol at bytes 14-15.
func (d *Decoder) linuxSLL(data []byte, p *Packet) error {
	if len(data) < 16 {
		return ErrTruncated
	}
	if data[0] == 0 {
		p.Link.PktType, p.Link.HasPktType = data[1], true
	}
	return d.etherType(binary.BigEndian.Uint16(data[14:16]), data[16:], p)
}

// linuxSLL2 decodes a Linux "cooked" capture header v2 (tcpdump -i any on
// current libpcap): the protocol comes first, the packet type is byte
// 10, the header is 20 bytes.
func (d *Decoder) linuxSLL2(data []byte, p *Packet) error {
	if len(data) < 20 {
		return ErrTruncated
	}
	p.Link.PktType, p.Link.HasPktType = data[10], true
	return d.etherType(binary.BigEndian.Uint16(data[0:2]), data[20:], p)
}

// radiotap skips a radiotap header (its little-endian length at bytes
// 2-3) before an 802.11 frame.
func (d *Decoder) radiotap(data []byte, p *Packet) error {
	if len(data) < 4 {
		return ErrTruncated
	}
	n := int(binary.LittleEndian.Uint16(data[2:4]))
	if n < 8 || n > len(data) {
		return ErrTruncated
	}
	return d.ieee80211(data[n:], p)
}

// pflog skips a pfloghdr: its length (padded to 4 bytes) first; the
// address family that follows uses OS-specific values, so the IP version
// nibble decides instead.
func (d *Decoder) pflog(data []byte, p *Packet) error {
	if len(data) < 1 {
		return ErrTruncated
	}
	n := (int(data[0]) + 3) &^ 3
	if n < 4 || n > len(data) {
		return ErrTruncated
	}
	return d.rawIP(data[n:], p)
}

// pktap decodes Apple PKTAP: header length and the inner link type, both
// little-endian, then the frame. A PKTAP inside a PKTAP is refused, so
// the recursion ends.
func (d *Decoder) pktap(data []byte, p *Packet) error {
	if len(data) < 8 {
		return ErrTruncated
	}
	n := binary.LittleEndian.Uint32(data[0:4])
	inner := binary.LittleEndian.Uint32(data[4:8])
	if n < 8 || uint64(n) > uint64(len(data)) {
		return ErrTruncated
	}
	if inner == linkPKTAP || inner == linkUser2 || inner > 0xffff {
		return ErrUnsupported
	}
	return d.link(data[n:], layers.LinkType(inner), p)
}
