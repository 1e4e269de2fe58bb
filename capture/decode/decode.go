package decode

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket/layers"
)

// Sentinel errors returned by Decode. They are package variables, so
// returning one allocates nothing; compare with errors.Is or ==.
var (
	// ErrUnsupported: the link type is not one this decoder knows.
	ErrUnsupported = errors.New("unsupported link type")
	// ErrNotIP: a valid link-layer frame that carries no IP packet (ARP,
	// LLDP, STP, an MPLS pseudowire...). Callers usually skip these
	// without counting them as damage.
	ErrNotIP = errors.New("frame carries no IP packet")
	// ErrTruncated: the frame ends inside a header that is needed.
	ErrTruncated = errors.New("truncated header")
	// ErrMalformed: a header is present but its fields are inconsistent
	// (wrong IP version, header length shorter than the minimum...).
	ErrMalformed = errors.New("malformed header")
)

// Link types without a constant in gopacket/layers, or spelled differently.
const (
	linkNull      = 0
	linkEthernet  = 1
	linkPPP       = 9
	linkRawBSD12  = 12 // DLT_RAW on OpenBSD-era systems, written as 12 by some tools
	linkRawBSD14  = 14 // DLT_RAW on BSD/OS
	linkPPPHDLC   = 50
	linkPPPEther  = 51 // PPPoE session header then PPP
	linkRaw       = 101
	linkCHDLC     = 104
	linkIEEE80211 = 105
	linkPFLog     = 117
	linkRadiotap  = 127
	linkUser2     = 149 // LINKTYPE_USER2: what macOS writes for PKTAP
	linkLoop      = 108
	linkLinuxSLL  = 113
	linkPPPDir    = 204 // PPP with a one-byte direction prefix
	linkIPv4      = 228
	linkIPv6      = 229
	linkNFLog     = 239
	linkPKTAP     = 258
	linkLinuxSLL2 = 276
)

// EtherTypes the link layer dispatches on.
const (
	etherIPv4      = 0x0800
	etherIPv6      = 0x86dd
	etherVLAN      = 0x8100
	etherQinQ      = 0x88a8
	etherQinQOld1  = 0x9100
	etherQinQOld2  = 0x9200
	etherMPLS      = 0x8847
	etherMPLSMulti = 0x8848
	etherPPPoESess = 0x8864
	etherVNTag     = 0x8926 // Cisco VN-Tag: 4 bytes of tag, then the EtherType
	etherFabricPth = 0x8903 // Cisco FabricPath: FTag/TTL, then an inner Ethernet header
)

// maxTags bounds how many VLAN tags and MPLS labels one frame may carry,
// so that a frame made of nothing but tags ends quickly.
const maxTags = 16

// Decoder decodes frames into Packets. It holds the IPv4/IPv6 fragment map
// (bounded size, entries time out), so use one Decoder per packet stream;
// it is not safe for concurrent use.
type Decoder struct {
	frags fragTable
}

// NewDecoder returns a Decoder with an empty fragment map.
func NewDecoder() *Decoder {
	return &Decoder{}
}

// Decode parses one frame of the given link type into p. p.TS and
// p.WireLen belong to the caller and are kept (p.TS must be set before the
// call: fragment entries time out by it); every other field is reset. The
// slices in p alias data. Decode allocates nothing; on error p holds
// whatever was decoded before the failing header and the error is one of
// the package's sentinel errors.
func (d *Decoder) Decode(data []byte, link layers.LinkType, p *Packet) error {
	*p = Packet{TS: p.TS, WireLen: p.WireLen}
	return d.link(data, link, p)
}

// link dispatches on the link type (the headers of the rarer ones are in
// link_more.go).
func (d *Decoder) link(data []byte, link layers.LinkType, p *Packet) error {
	switch link {
	case linkEthernet:
		return d.ethernet(data, p)
	case linkRaw, linkRawBSD12, linkRawBSD14:
		return d.rawIP(data, p)
	case linkIPv4, linkIPv6:
		// The version nibble decides: a packet of the other version
		// under these link types is still a packet worth counting.
		return d.rawIP(data, p)
	case linkLinuxSLL:
		return d.linuxSLL(data, p)
	case linkLinuxSLL2:
		return d.linuxSLL2(data, p)
	case linkNull, linkLoop:
		return d.null(data, p)
	case linkPPP, linkPPPHDLC:
		return d.ppp(data, p)
	case linkPPPDir:
		if len(data) < 1 {
			return ErrTruncated
		}
		return d.ppp(data[1:], p)
	case linkPPPEther:
		return d.pppoe(data, p)
	case linkIEEE80211:
		return d.ieee80211(data, p)
	case linkRadiotap:
		return d.radiotap(data, p)
	case linkNFLog:
		return d.nflog(data, p)
	case linkPFLog:
		return d.pflog(data, p)
	case linkPKTAP, linkUser2:
		return d.pktap(data, p)
	case linkCHDLC:
		if len(data) < 4 {
			return ErrTruncated
		}
		return d.etherType(binary.BigEndian.Uint16(data[2:4]), data[4:], p)
	}
	return ErrUnsupported
}

// ethernet decodes an Ethernet II frame (802.3/LLC frames carry no IP here).
func (d *Decoder) ethernet(data []byte, p *Packet) error {
	if len(data) < 14 {
		return ErrTruncated
	}
	p.Link.Dst, p.Link.Src, p.Link.HasMAC = [6]byte(data[0:6]), [6]byte(data[6:12]), true
	return d.etherType(binary.BigEndian.Uint16(data[12:14]), data[14:], p)
}

// etherType dispatches on an EtherType, peeling VLAN tags (802.1Q, 802.1ad
// and the pre-standard QinQ types, any depth up to maxTags), VN-Tags,
// FabricPath, MPLS label stacks and PPPoE session headers.
func (d *Decoder) etherType(et uint16, data []byte, p *Packet) error {
	for range maxTags {
		switch et {
		case etherIPv4:
			return d.ipv4(data, p)
		case etherIPv6:
			return d.ipv6(data, p)
		case etherVLAN, etherQinQ, etherQinQOld1, etherQinQOld2:
			if len(data) < 4 {
				return ErrTruncated
			}
			et = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		case etherVNTag:
			if len(data) < 6 {
				return ErrTruncated
			}
			et = binary.BigEndian.Uint16(data[4:6])
			data = data[6:]
		case etherFabricPth:
			if len(data) < 16 {
				return ErrTruncated
			}
			et = binary.BigEndian.Uint16(data[14:16])
			data = data[16:]
		case etherMPLS, etherMPLSMulti:
			return d.mpls(data, p)
		case etherPPPoESess:
			return d.pppoe(data, p)
		default:
			return ErrNotIP
		}
	}
	return ErrMalformed
}

// mpls skips an MPLS label stack. The payload type is not in the label, so
// it is guessed from the IP version nibble, as tcpdump and Zeek do; a
// pseudowire (Ethernet over MPLS, starting with a control word 0) is not IP.
func (d *Decoder) mpls(data []byte, p *Packet) error {
	for range maxTags {
		if len(data) < 4 {
			return ErrTruncated
		}
		bottom := data[2]&1 != 0
		data = data[4:]
		if bottom {
			return d.rawIP(data, p)
		}
	}
	return ErrMalformed
}

// rawIP decodes an IP packet whose version is given by its first nibble.
func (d *Decoder) rawIP(data []byte, p *Packet) error {
	if len(data) < 1 {
		return ErrTruncated
	}
	switch data[0] >> 4 {
	case 4:
		return d.ipv4(data, p)
	case 6:
		return d.ipv6(data, p)
	}
	return ErrNotIP
}

// null decodes BSD loopback/NULL (address family in the capturing host's
// byte order) and LOOP (network byte order); both orders are accepted for
// both, since the value tells which one was used.
func (d *Decoder) null(data []byte, p *Packet) error {
	if len(data) < 4 {
		return ErrTruncated
	}
	af := binary.LittleEndian.Uint32(data[0:4])
	if af > 0xffff {
		af = binary.BigEndian.Uint32(data[0:4])
	}
	switch af {
	case 2: // AF_INET everywhere
		return d.ipv4(data[4:], p)
	case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		return d.ipv6(data[4:], p)
	}
	return ErrNotIP
}

// ppp decodes a PPP frame, with or without the HDLC address/control bytes
// and with a one- or two-byte protocol field.
func (d *Decoder) ppp(data []byte, p *Packet) error {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		data = data[2:]
	}
	if len(data) < 1 {
		return ErrTruncated
	}
	var proto uint16
	if data[0]&1 != 0 { // protocol-field compression: one odd byte
		proto = uint16(data[0])
		data = data[1:]
	} else {
		if len(data) < 2 {
			return ErrTruncated
		}
		proto = binary.BigEndian.Uint16(data[0:2])
		data = data[2:]
	}
	switch proto {
	case 0x0021:
		return d.ipv4(data, p)
	case 0x0057:
		return d.ipv6(data, p)
	case 0x0281, 0x0283: // MPLS unicast, multicast
		return d.mpls(data, p)
	}
	return ErrNotIP
}

// pppoe decodes a PPPoE session header (RFC 2516) followed by PPP.
func (d *Decoder) pppoe(data []byte, p *Packet) error {
	if len(data) < 6 {
		return ErrTruncated
	}
	if data[1] != 0 { // code 0 = session data; discovery packets carry no IP
		return ErrNotIP
	}
	n := int(binary.BigEndian.Uint16(data[4:6]))
	data = data[6:]
	if n < len(data) {
		data = data[:n]
	}
	return d.ppp(data, p)
}
