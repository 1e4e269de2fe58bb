package naming

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
)

// Errors returned by ObserveDNS. They exist for tests and counters: a caller
// on the packet path can ignore them, nothing was learned from the message.
var (
	ErrUnsolicited = errors.New("dns answer matches no outstanding query")
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
	// maxChain bounds the CNAME hops followed from the question name.
	maxChain = 16

	// dnsPort is where queries go and answers come from.
	dnsPort = 53

	typeA     = 1
	typeCNAME = 5
	typeAAAA  = 28
	typeANY   = 255
	classIN   = 1

	flagQR = 0x8000
	flagTC = 0x0200
	flagRD = 0x0100
)

// span is a name decoded into dnsScratch.buf: lower-case, dot-separated,
// no trailing dot. ok is false when a label holds bytes a report should not
// print, or a dot; such names are parsed but never bound.
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
}

// dnsScratch is reused by every ObserveDNS call so that steady state does
// not allocate.
type dnsScratch struct {
	buf  []byte
	recs []record
}

// question is the question of a message, decoded into dnsScratch.
type question struct {
	name  span
	qtype uint16
	class uint16
	end   int // offset just past it
}

// ObserveDNS reads one DNS message (a UDP payload, or a TCP payload with its
// 2-byte length prefix removed) seen at ts (Unix nanoseconds), sent as tr
// says.
//
// A query (one question, for an A, AAAA or ANY record, sent to port 53) is
// remembered until its answer or Options.QueryTimeout. A response is used
// only when it answers such a query: from the port-53 address the query went
// to, to the address and port that sent it, over the same transport, with
// the same transaction id, question name and type, at most QueryTimeout
// later; anything else returns ErrUnsolicited and binds nothing. One query
// takes one answer.
//
// From an answer, only the records of the answer section that chain from the
// question name count: its CNAME chain, then the A or AAAA records (of the
// type asked) owned by a name on the chain. The authority and additional
// sections never name anything. When the query asked for recursion (RD, a
// stub asking its resolver), every name on the chain is bound to the
// addresses, each valid from ts to ts + TTL + grace, where the TTL of an
// alias is the smallest along its chain. An answer to an iterative query (no
// RD: a recursive resolver on the gateway asking an authoritative server)
// binds only the question name: that server is trusted for the name it was
// asked about, not for the names its CNAME points to.
//
// Responses with a non-zero opcode or rcode bind nothing (their query is
// forgotten), those with the TC bit are ignored. A malformed or cut-short
// message is ignored whole and an error returned; ObserveDNS never panics.
func (r *Cache) ObserveDNS(msg []byte, ts int64, tr Transport) error {
	if len(msg) < 12 {
		return ErrTruncated
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.dns
	s.buf, s.recs = s.buf[:0], s.recs[:0]
	if binary.BigEndian.Uint16(msg[2:])&flagQR == 0 {
		return r.observeQuery(msg, ts, tr)
	}
	return r.observeResponse(msg, ts, tr)
}

// observeQuery remembers a query that can be answered with addresses.
func (r *Cache) observeQuery(msg []byte, ts int64, tr Transport) error {
	flags := binary.BigEndian.Uint16(msg[2:])
	if tr.Dst.Port() != dnsPort || (flags>>11)&0xf != 0 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return nil // not a standard query to a DNS server
	}
	q, err := r.dns.question(msg)
	if err != nil {
		return err
	}
	if !q.name.ok || q.class != classIN || (q.qtype != typeA && q.qtype != typeAAAA && q.qtype != typeANY) {
		return nil // nothing it can be answered with names an address
	}
	k := keyOf(tr.Src, tr.Dst, tr.TCP, binary.BigEndian.Uint16(msg), q.qtype)
	r.queries.add(k, r.hashName(q.name), ts, flags&flagRD != 0)
	return nil
}

// observeResponse binds the names of a response that answers an
// outstanding query.
func (r *Cache) observeResponse(msg []byte, ts int64, tr Transport) error {
	flags := binary.BigEndian.Uint16(msg[2:])
	if flags&flagTC != 0 {
		return ErrTruncated // the client asks again over TCP
	}
	if (flags>>11)&0xf != 0 {
		return nil // not an answer to a standard query
	}
	if tr.Src.Port() != dnsPort || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return ErrUnsolicited
	}
	s := &r.dns
	q, err := s.question(msg)
	if err != nil {
		return err
	}
	if !q.name.ok || q.class != classIN {
		return ErrUnsolicited
	}
	k := keyOf(tr.Dst, tr.Src, tr.TCP, binary.BigEndian.Uint16(msg), q.qtype)
	query, ok := r.queries.take(k, r.hashName(q.name), ts)
	if !ok {
		return ErrUnsolicited
	}
	an := int(binary.BigEndian.Uint16(msg[6:]))
	if flags&0xf != 0 || an == 0 {
		return nil // an error or an empty answer: nothing to name
	}
	if err := s.answers(msg, q.end, an, q.qtype); err != nil {
		return err
	}
	r.bindChain(q.name, ts, query.recursive)
	return nil
}

// hashName is the key under which a question name is remembered: a keyed
// hash, so that a name cannot be chosen to collide with another.
func (r *Cache) hashName(n span) uint64 {
	return maphash.Bytes(r.queries.seed, r.dns.buf[n.start:n.end])
}

// question decodes the single question at offset 12.
func (s *dnsScratch) question(msg []byte) (question, error) {
	next, name, err := s.readName(msg, 12)
	if err != nil {
		return question{}, err
	}
	if next+4 > len(msg) {
		return question{}, ErrTruncated
	}
	return question{name: name, qtype: binary.BigEndian.Uint16(msg[next:]),
		class: binary.BigEndian.Uint16(msg[next+2:]), end: next + 4}, nil
}

// answers decodes the first an (at most maxAnswers) answer records from
// off into s.recs, keeping CNAMEs and the address records of the type asked
// for (both for ANY) whose owner is printable.
func (s *dnsScratch) answers(msg []byte, off, an int, qtype uint16) error {
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
		case typ == typeA && rdlen == 4 && qtype != typeAAAA:
			rec.addr = netip.AddrFrom4([4]byte(msg[rd : rd+4]))
		case typ == typeAAAA && rdlen == 16 && qtype != typeA:
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
		s.recs = append(s.recs, rec)
	}
	return nil
}

// bindChain follows the CNAME chain from the question name q through the
// answers in r.dns and binds the names on it to the addresses owned by a
// name on it. Names further from the address are bound later, so that Names
// lists the question name first. A non-recursive answer binds only q.
func (r *Cache) bindChain(q span, ts int64, recursive bool) {
	s := &r.dns
	var chain [maxChain + 1]span
	var link [maxChain]uint32 // link[d]: TTL of the CNAME from chain[d] to chain[d+1]
	chain[0] = q
	n := 1
	for n <= maxChain {
		c := s.cnameOf(chain[n-1])
		if c < 0 || !s.recs[c].target.ok || s.onChain(chain[:n], s.recs[c].target) {
			break // the end of the chain, a name that cannot be printed, or a loop
		}
		link[n-1] = s.recs[c].ttl
		chain[n] = s.recs[c].target
		n++
	}
	for _, a := range s.recs {
		if a.cname {
			continue
		}
		d := s.chainIndex(chain[:n], a.owner)
		if d < 0 {
			continue // an address of a name nobody asked about
		}
		ttl := a.ttl
		for j := d; j >= 0; j-- {
			if j < d {
				ttl = min(ttl, link[j])
			}
			if j > 0 && !recursive {
				continue
			}
			name := r.intern(s.buf[chain[j].start:chain[j].end])
			r.bind(a.addr, name, ts, ts+int64(ttl)*1e9+r.grace)
		}
	}
}

// cnameOf returns the index of the CNAME record owned by name, or -1.
func (s *dnsScratch) cnameOf(name span) int {
	for i, rec := range s.recs {
		if rec.cname && s.equal(rec.owner, name) {
			return i
		}
	}
	return -1
}

// chainIndex returns the position of name on chain, or -1.
func (s *dnsScratch) chainIndex(chain []span, name span) int {
	for i, c := range chain {
		if s.equal(c, name) {
			return i
		}
	}
	return -1
}

func (s *dnsScratch) onChain(chain []span, name span) bool { return s.chainIndex(chain, name) >= 0 }

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
