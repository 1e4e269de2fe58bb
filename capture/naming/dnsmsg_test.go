package naming

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// Test helpers that build DNS messages byte by byte (RFC 1035 section 4), so
// the tests do not share code with the parser under test.

const (
	flagQR = 0x8000
	flagAA = 0x0400
	flagTC = 0x0200
	flagRD = 0x0100
	flagRA = 0x0080
)

// rr is one resource record; data is the raw RDATA.
type rr struct {
	name  string
	typ   uint16
	class uint16
	ttl   uint32
	data  []byte
}

// encName encodes name as uncompressed labels.
func encName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func aRR(name string, ttl uint32, addr string) rr {
	a := netip.MustParseAddr(addr)
	if a.Is4() {
		b := a.As4()
		return rr{name: name, typ: 1, class: 1, ttl: ttl, data: b[:]}
	}
	b := a.As16()
	return rr{name: name, typ: 28, class: 1, ttl: ttl, data: b[:]}
}

func cnameRR(name string, ttl uint32, target string) rr {
	return rr{name: name, typ: 5, class: 1, ttl: ttl, data: encName(target)}
}

// dnsMsg builds a message with one question (qname, qtype) and the given
// answers; flags is the whole flags word.
func dnsMsg(flags uint16, qname string, qtype uint16, answers ...rr) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], 0x1234)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], 1)
	binary.BigEndian.PutUint16(b[6:], uint16(len(answers)))
	b = append(b, encName(qname)...)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)
	for _, a := range answers {
		b = append(b, encName(a.name)...)
		b = binary.BigEndian.AppendUint16(b, a.typ)
		b = binary.BigEndian.AppendUint16(b, a.class)
		b = binary.BigEndian.AppendUint32(b, a.ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.data)))
		b = append(b, a.data...)
	}
	return b
}

// response is dnsMsg with the flags of an ordinary recursive answer.
func response(qname string, qtype uint16, answers ...rr) []byte {
	return dnsMsg(flagQR|flagRD|flagRA, qname, qtype, answers...)
}

// compressed builds, by hand, the answer to "WWW.Example.com A?" whose answer
// names are compression pointers: a CNAME from the question name (pointer to
// offset 12) to "web" + pointer to "example.com" inside the question, and an
// A record owned by a pointer to the CNAME target.
func compressed() []byte {
	b := []byte{0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0}
	b = append(b, encName("WWW.Example.com")...) // offset 12; "Example" at 16
	b = append(b, 0, 1, 0, 1)
	// CNAME: owner = pointer to 12; target = "web" + pointer to 16.
	b = append(b, 0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6)
	target := len(b)
	b = append(b, 3, 'w', 'e', 'b', 0xc0, 16)
	// A: owner = pointer to the CNAME target.
	b = append(b, 0xc0, byte(target), 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 80)
	return b
}

// rawOwner builds a response with no question and one A answer whose owner
// name is the raw bytes owner, which start at offset 12.
func rawOwner(owner ...byte) []byte {
	b := []byte{0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0}
	b = append(b, owner...)
	return append(b, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
}
