package naming

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// Test helpers that build DNS messages byte by byte (RFC 1035 section 4), so
// the tests do not share code with the parser under test.

// Header flags the parser has no name for (flagQR, flagTC and flagRD are
// the parser's own).
const (
	flagAA = 0x0400
	flagRA = 0x0080
)

// The transports of the tests: the gateway's stub asks its resolver.
var (
	client   = netip.MustParseAddrPort("192.0.2.10:40000")
	resolver = netip.MustParseAddrPort("198.51.100.53:53")
	asked    = Transport{Src: client, Dst: resolver}
	answered = Transport{Src: resolver, Dst: client}
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

// rawOwner builds a response whose question name is the raw bytes owner,
// which start at offset 12, with one A answer owned by a pointer to it.
func rawOwner(owner ...byte) []byte {
	b := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}
	b = append(b, owner...)
	b = append(b, 0, 1, 0, 1) // question type A, class IN
	return append(b, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
}

// queryOf returns the query msg answers: the same header without QR, AA,
// RA and rcode, and no records (the bytes after the question are left in
// place: a parser reads only what the counts announce).
func queryOf(msg []byte) []byte {
	q := append([]byte(nil), msg...)
	if len(q) >= 12 {
		q[2] &^= 0x84 // QR, AA
		q[3] &^= 0x8f // RA, rcode
		clear(q[6:12])
	}
	return q
}

// withID returns a copy of msg with transaction id id.
func withID(msg []byte, id uint16) []byte {
	m := append([]byte(nil), msg...)
	binary.BigEndian.PutUint16(m, id)
	return m
}

// exchange feeds r the query msg answers (sent at ts) and then msg (at ts):
// the ordinary case of an answer to a query seen on the wire.
func exchange(r *Cache, msg []byte, ts int64) error {
	_ = r.ObserveDNS(queryOf(msg), ts, asked)
	return r.ObserveDNS(msg, ts, answered)
}

// appendNormalized is the reference the tests hold names to: every name
// the Cache hands out, and every server name, must come out of it unchanged.
// It appends name lower-cased and without a trailing dot to dst, and reports
// false for names that are empty, longer than 253 bytes, have an empty label,
// or contain bytes outside printable ASCII.
func appendNormalized[T string | []byte](dst []byte, name T) ([]byte, bool) {
	n := len(name)
	if n > 0 && name[n-1] == '.' {
		n--
	}
	if n == 0 || n > 253 {
		return dst, false
	}
	prevDot := true
	for i := 0; i < n; i++ {
		c := name[i]
		switch {
		case c == '.':
			if prevDot {
				return dst, false
			}
			prevDot = true
		case c < 0x21 || c > 0x7e:
			return dst, false
		default:
			prevDot = false
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
		}
		dst = append(dst, c)
	}
	return dst, true
}
