package naming

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Errors returned by ObserveDNS. They exist for tests and counters: a caller
// on the packet path can ignore them, nothing was learned from the message.
var (
	ErrNotResponse = errors.New("dns message is a query, not a response")
	ErrTruncated   = errors.New("dns message truncated")
	ErrMalformed   = errors.New("dns message malformed")

	errPointerLoop = fmt.Errorf("%w: too many compression pointers", ErrMalformed)
	errLabelType   = fmt.Errorf("%w: reserved label type", ErrMalformed)
	errNameTooLong = fmt.Errorf("%w: name longer than 255 bytes on the wire", ErrMalformed)
	errRDataBounds = fmt.Errorf("%w: name overruns its record data", ErrMalformed)
)

const (
	// maxAnswers bounds the answer records looked at in one message; real
	// answers hold a handful, and the bound keeps the scratch space fixed.
	maxAnswers = 64
	// maxPointers bounds compression pointers followed in one name. A
	// legitimate name has at most 127 labels but needs only a few pointers;
	// the bound turns a pointer loop into an error instead of a hang.
	maxPointers = 16
	// maxChain bounds the CNAME hops followed from an alias to its address.
	maxChain = 16

	typeA     = 1
	typeCNAME = 5
	typeAAAA  = 28
	classIN   = 1
)

// span is a name decoded into dnsScratch.buf: lower-case, dot-separated,
// no trailing dot. ok is false when a label holds bytes a report should not
// print (see appendNormalized); such names are parsed but never bound.
type span struct {
	start, end int32
	ok         bool
}

type record struct {
	owner  span
	target span // CNAME target
	addr   netip.Addr
	ttl    uint32
	cname  bool
	next   int // index of the CNAME record owning target, or -1
}

// dnsScratch is reused by every ObserveDNS call so that steady state does
// not allocate.
type dnsScratch struct {
	buf  []byte
	recs []record
}

// ObserveDNS records the answers of one DNS response message (a UDP payload,
// or a TCP payload with its 2-byte length prefix removed) seen at ts (Unix
// nanoseconds). Every A and AAAA record binds its owner name to its address,
// and CNAME chains are followed back so the queried name and every alias map
// to the address too. Each name is valid from ts to ts + TTL + grace, where
// the TTL of an alias is the smallest TTL along its chain (the client must
// ask again when any link expires). Authority and additional sections are
// not used: glue there names name servers, not what the client asked for.
//
// Queries, responses with a non-zero opcode or rcode, and messages with the
// TC bit are ignored. A malformed or cut-short message is ignored whole and
// an error is returned; ObserveDNS never panics.
func (r *Resolver) ObserveDNS(msg []byte, ts int64) error {
	if len(msg) < 12 {
		return ErrTruncated
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	if flags&0x8000 == 0 {
		return ErrNotResponse
	}
	if flags&0x0200 != 0 {
		return ErrTruncated
	}
	if (flags>>11)&0xf != 0 || flags&0xf != 0 {
		return nil // not a standard query answer, or an error answer
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	if an == 0 {
		return nil
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.dns
	s.buf, s.recs = s.buf[:0], s.recs[:0]

	off := 12
	for range qd {
		mark := len(s.buf)
		next, _, err := s.readName(msg, off)
		if err != nil {
			return err
		}
		s.buf = s.buf[:mark]
		if next+4 > len(msg) {
			return ErrTruncated
		}
		off = next + 4
	}
	for range min(an, maxAnswers) {
		mark := len(s.buf)
		next, owner, err := s.readName(msg, off)
		if err != nil {
			return err
		}
		if next+10 > len(msg) {
			return ErrTruncated
		}
		typ := binary.BigEndian.Uint16(msg[next:])
		class := binary.BigEndian.Uint16(msg[next+2:]) & 0x7fff // mDNS cache-flush bit
		ttl := binary.BigEndian.Uint32(msg[next+4:])
		rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
		rd := next + 10
		if rd+rdlen > len(msg) {
			return ErrTruncated
		}
		off = rd + rdlen
		if ttl > 1<<31-1 { // RFC 2181 section 8: treat as zero
			ttl = 0
		}
		rec := record{owner: owner, ttl: ttl}
		switch {
		case class != classIN || !owner.ok:
			s.buf = s.buf[:mark]
			continue
		case typ == typeA && rdlen == 4:
			rec.addr = netip.AddrFrom4([4]byte(msg[rd : rd+4]))
		case typ == typeAAAA && rdlen == 16:
			rec.addr = netip.AddrFrom16([16]byte(msg[rd : rd+16])).Unmap()
		case typ == typeCNAME:
			end, target, err := s.readName(msg, rd)
			if err != nil {
				return err
			}
			if end > off {
				return errRDataBounds
			}
			rec.target, rec.cname = target, true
		default:
			s.buf = s.buf[:mark]
			continue
		}
		s.recs = append(s.recs, rec) // only records with a printable owner
	}
	s.link()
	r.bindAnswers(ts)
	return nil
}

// bindAnswers binds every address record in r.dns to its owner and to every
// alias whose CNAME chain leads to that owner. Aliases further from the
// address are bound later so that Names lists the queried name first.
func (r *Resolver) bindAnswers(ts int64) {
	s := &r.dns
	type alias struct {
		name  span
		ttl   uint32
		depth int
	}
	var chain [maxAnswers]alias
	for _, a := range s.recs {
		if a.cname {
			continue
		}
		n := 0
		chain[n] = alias{a.owner, a.ttl, 0}
		n++
		for _, c := range s.recs {
			if !c.cname {
				continue
			}
			if ttl, depth, ok := s.follow(c, a); ok {
				chain[n] = alias{c.owner, ttl, depth}
				n++
			}
		}
		// Insertion sort by depth: n is small.
		for i := 1; i < n; i++ {
			for j := i; j > 0 && chain[j-1].depth > chain[j].depth; j-- {
				chain[j-1], chain[j] = chain[j], chain[j-1]
			}
		}
		for _, al := range chain[:n] {
			name := r.intern(s.buf[al.name.start:al.name.end])
			r.bind(a.addr, name, ts, ts+int64(al.ttl)*1e9+r.grace)
		}
	}
}

// link sets next on every CNAME record, so following a chain costs one step
// per hop instead of a scan of the answers.
func (s *dnsScratch) link() {
	for i := range s.recs {
		c := &s.recs[i]
		c.next = -1
		if !c.cname {
			continue
		}
		for j, n := range s.recs {
			if n.cname && s.equal(n.owner, c.target) {
				c.next = j
				break
			}
		}
	}
}

// follow walks the CNAME chain starting at c and reports whether it reaches
// the owner of address record a, with the smallest TTL on the way and the
// number of hops.
func (s *dnsScratch) follow(c, a record) (ttl uint32, depth int, ok bool) {
	ttl = min(c.ttl, a.ttl)
	cur := c
	for depth = 1; depth <= maxChain; depth++ {
		if s.equal(cur.target, a.owner) {
			return ttl, depth, true
		}
		if cur.next < 0 {
			return 0, 0, false
		}
		cur = s.recs[cur.next]
		ttl = min(ttl, cur.ttl)
	}
	return 0, 0, false
}

func (s *dnsScratch) equal(x, y span) bool {
	return bytes.Equal(s.buf[x.start:x.end], s.buf[y.start:y.end])
}

// readName decodes the (possibly compressed) name at off into s.buf and
// returns the offset just past it in the original position.
func (s *dnsScratch) readName(msg []byte, off int) (next int, nm span, err error) {
	nm = span{start: int32(len(s.buf)), ok: true}
	next = -1
	pointers := 0
	for {
		if off >= len(msg) {
			return 0, nm, ErrTruncated
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			off++
			if c == 0 {
				if next < 0 {
					next = off
				}
				nm.end = int32(len(s.buf))
				if nm.end == nm.start {
					nm.ok = false // the root: nothing to name
				}
				return next, nm, nil
			}
			if off+c > len(msg) {
				return 0, nm, ErrTruncated
			}
			// 253 text bytes is the 255-byte wire limit less the
			// first length byte and the root label.
			dot := 0
			if len(s.buf) > int(nm.start) {
				dot = 1
			}
			if len(s.buf)-int(nm.start)+dot+c > 253 {
				return 0, nm, errNameTooLong
			}
			if dot == 1 {
				s.buf = append(s.buf, '.')
			}
			label := len(s.buf)
			s.buf = append(s.buf, msg[off:off+c]...)
			for i, b := range s.buf[label:] {
				switch {
				case 'A' <= b && b <= 'Z':
					s.buf[label+i] = b + 'a' - 'A'
				case b < 0x21 || b > 0x7e || b == '.':
					nm.ok = false
				}
			}
			off += c
		case 0xc0:
			if off+1 >= len(msg) {
				return 0, nm, ErrTruncated
			}
			if next < 0 {
				next = off + 2
			}
			if pointers++; pointers > maxPointers {
				return 0, nm, errPointerLoop
			}
			off = (c&0x3f)<<8 | int(msg[off+1])
		default:
			return 0, nm, errLabelType
		}
	}
}
