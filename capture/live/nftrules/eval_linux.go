package nftrules

import (
	"bytes"
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
)

// The nftables lookup runs a rule's expressions over what is known of a
// dropped packet, as the kernel would, with a third truth value for what
// cannot be known from a drop record (connection state, interfaces,
// marks...). Registers are modelled byte by byte, each byte tagged with
// the packet field it came from, so that a rule can be said to match "on
// the port" or "on the protocol".

// tri is a three-valued truth.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tUnknown
)

// field tags a known register byte with where it came from (fUnknown: the
// byte is not known).
type field uint8

const (
	fUnknown field = iota
	fConst         // a constant, padding, or a packet field of no interest
	fProto         // the transport protocol (meta l4proto, IPv4 protocol, IPv6 next header)
	fPort          // a transport port, or ICMP type/code
	fAddr          // an IP address
)

// regFile is nftables' register space: NFT_REG_1..4 (16 bytes each) and
// NFT_REG32_00..15 (4 bytes each) alias the same 64 bytes.
type regFile struct {
	b   [64]byte
	tag [64]field
}

// regOffset maps a register number to its byte offset.
func regOffset(r uint32) (int, bool) {
	switch {
	case r >= unix.NFT_REG_1 && r <= unix.NFT_REG_4:
		return int(r-unix.NFT_REG_1) * 16, true
	case r >= unix.NFT_REG32_00 && r <= unix.NFT_REG32_15:
		return int(r-unix.NFT_REG32_00) * 4, true
	}
	return 0, false
}

// set stores data with tags at register r, zero-padding to 32 bits as
// the kernel does (concatenations rely on it).
func (rf *regFile) set(r uint32, data []byte, tags []field) {
	o, ok := regOffset(r)
	if !ok {
		return
	}
	end := min(o+(len(data)+3)/4*4, len(rf.b))
	for i := o; i < end; i++ {
		rf.b[i], rf.tag[i] = 0, fConst
		if j := i - o; j < len(data) {
			rf.b[i], rf.tag[i] = data[j], tags[j]
		}
	}
}

// forget marks n bytes at register r unknown.
func (rf *regFile) forget(r uint32, n int) {
	if o, ok := regOffset(r); ok {
		for i := o; i < min(o+n, len(rf.b)); i++ {
			rf.tag[i] = fUnknown
		}
	}
}

// get returns n bytes at register r, whether all are known, and the set of
// fields they came from.
func (rf *regFile) get(r uint32, n int) ([]byte, bool, [5]bool) {
	var fields [5]bool
	o, ok := regOffset(r)
	if !ok || o+n > len(rf.b) {
		return nil, false, fields
	}
	for i := o; i < o+n; i++ {
		if rf.tag[i] == fUnknown {
			return nil, false, fields
		}
		fields[rf.tag[i]] = true
	}
	return rf.b[o : o+n], true, fields
}

// packet is what a drop record tells of the packet: a network header and
// the start of a transport header, with tags saying which bytes are known.
type packet struct {
	nfproto byte
	l4proto byte
	nh, th  []byte
	nhTag   []field
	thTag   []field
}

// newPacket builds the packet of q.
func newPacket(q capture.RuleQuery) packet {
	p := packet{l4proto: q.Proto, th: make([]byte, 4), thTag: make([]field, 4)}
	if q.Dst.Addr().Is4() {
		p.nfproto = unix.NFPROTO_IPV4
		p.nh, p.nhTag = make([]byte, 20), make([]field, 20)
		p.nh[0], p.nhTag[0] = 0x45, fUnknown // version 4; IHL not known
		p.nh[9], p.nhTag[9] = q.Proto, fProto
		s, d := q.Src.Addr().As4(), q.Dst.Addr().As4()
		copy(p.nh[12:], s[:])
		copy(p.nh[16:], d[:])
		fill(p.nhTag[12:20], fAddr)
	} else {
		p.nfproto = unix.NFPROTO_IPV6
		p.nh, p.nhTag = make([]byte, 40), make([]field, 40)
		p.nh[6], p.nhTag[6] = q.Proto, fProto
		s, d := q.Src.Addr().As16(), q.Dst.Addr().As16()
		copy(p.nh[8:], s[:])
		copy(p.nh[24:], d[:])
		fill(p.nhTag[8:40], fAddr)
	}
	switch q.Proto {
	case unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE, unix.IPPROTO_SCTP, unix.IPPROTO_DCCP:
		binary.BigEndian.PutUint16(p.th[0:], q.Src.Port())
		binary.BigEndian.PutUint16(p.th[2:], q.Dst.Port())
		fill(p.thTag, fPort)
	case unix.IPPROTO_ICMP, unix.IPPROTO_ICMPV6:
		p.th[0], p.th[1] = byte(q.Src.Port()), byte(q.Dst.Port())
		fill(p.thTag[:2], fPort)
	}
	return p
}

func fill(t []field, f field) {
	for i := range t {
		t[i] = f
	}
}

// load returns len bytes at off of a header, or unknown tags past its end.
func load(h []byte, tags []field, off, n uint32) ([]byte, []field) {
	data, t := make([]byte, n), make([]field, n)
	for i := uint32(0); i < n; i++ {
		if off+i < uint32(len(h)) {
			data[i], t[i] = h[off+i], tags[off+i]
		}
	}
	return data, t
}

// ruleEval is the result of running one rule over a packet.
type ruleEval struct {
	match   tri                // all matches true, one false, or none false but one unknown
	verdict *expr.Verdict      // terminal verdict, nil when the rule has none
	reject  bool               // verdict is a reject (expr.Reject or xt REJECT)
	on      [5]bool            // fields tested by matches that held
	sets    map[string]*nftSet // the rule's table's sets
}

// test records the outcome of one match.
func (e *ruleEval) test(r tri, fields [5]bool) {
	switch r {
	case tFalse:
		e.match = tFalse
	case tUnknown:
		e.match = tUnknown
	case tTrue:
		for i, f := range fields {
			e.on[i] = e.on[i] || f
		}
	}
}

// evalRule runs a rule's expressions in order, as the kernel does: the
// first match that fails ends it.
func evalRule(r *nftables.Rule, p *packet, sets map[string]*nftSet) ruleEval {
	e := ruleEval{match: tTrue, sets: sets}
	var rf regFile
	for _, x := range r.Exprs {
		e.step(x, p, &rf)
		if e.match == tFalse || e.verdict != nil {
			break
		}
	}
	return e
}

// step runs one expression.
func (e *ruleEval) step(x expr.Any, p *packet, rf *regFile) {
	switch x := x.(type) {
	case *expr.Meta:
		e.meta(x, p, rf)
	case *expr.Payload:
		payload(x, p, rf)
	case *expr.Immediate:
		rf.set(x.Register, x.Data, constTags(len(x.Data)))
	case *expr.Bitwise:
		bitwise(x, rf)
	case *expr.Cmp:
		v, ok, f := rf.get(x.Register, len(x.Data))
		e.test(cmpTri(ok, x.Op, v, x.Data), f)
	case *expr.Range:
		v, ok, f := rf.get(x.Register, len(x.FromData))
		e.test(rangeTri(ok, x.Op, v, x.FromData, x.ToData), f)
	case *expr.Lookup:
		e.lookup(x, rf)
	case *expr.Verdict:
		e.verdict = x
	case *expr.Reject:
		e.verdict, e.reject = &expr.Verdict{Kind: expr.VerdictDrop}, true
	case *expr.Target:
		if x.Name == "REJECT" {
			e.verdict, e.reject = &expr.Verdict{Kind: expr.VerdictDrop}, true
		}
	case *expr.Match:
		r, f := xtMatch(x, p)
		e.test(r, f)
	case *expr.Counter, *expr.Log:
		// statements: no effect on matching
	case *expr.Ct:
		if !x.SourceRegister {
			rf.forget(x.Register, 16)
		}
	default:
		// Anything else may be a match the lookup cannot evaluate (limit,
		// quota, socket, fib...) and may write any register.
		e.test(tUnknown, [5]bool{})
		*rf = regFile{}
	}
}

// payload loads header bytes (payload writes are statements).
func payload(x *expr.Payload, p *packet, rf *regFile) {
	if x.OperationType != expr.PayloadLoad {
		return
	}
	switch x.Base {
	case expr.PayloadBaseNetworkHeader:
		d, t := load(p.nh, p.nhTag, x.Offset, x.Len)
		rf.set(x.DestRegister, d, t)
	case expr.PayloadBaseTransportHeader:
		d, t := load(p.th, p.thTag, x.Offset, x.Len)
		rf.set(x.DestRegister, d, t)
	default:
		rf.forget(x.DestRegister, int(x.Len))
	}
}

// bitwise is (src & mask) ^ xor; the result keeps the source's tags (a
// masked address is still an address).
func bitwise(x *expr.Bitwise, rf *regFile) {
	src, ok, _ := rf.get(x.SourceRegister, int(x.Len))
	if !ok || len(x.Mask) < int(x.Len) || len(x.Xor) < int(x.Len) {
		rf.forget(x.DestRegister, int(x.Len))
		return
	}
	o, _ := regOffset(x.SourceRegister)
	out, tags := make([]byte, x.Len), append([]field(nil), rf.tag[o:o+int(x.Len)]...)
	for i := range out {
		out[i] = src[i]&x.Mask[i] ^ x.Xor[i]
	}
	rf.set(x.DestRegister, out, tags)
}

func constTags(n int) []field {
	t := make([]field, n)
	fill(t, fConst)
	return t
}

// meta loads the meta keys a drop record knows.
func (e *ruleEval) meta(x *expr.Meta, p *packet, rf *regFile) {
	if x.SourceRegister {
		return // meta set: a statement
	}
	switch x.Key {
	case expr.MetaKeyL4PROTO:
		rf.set(x.Register, []byte{p.l4proto}, []field{fProto})
	case expr.MetaKeyNFPROTO:
		rf.set(x.Register, []byte{p.nfproto}, []field{fConst})
	case expr.MetaKeyPROTOCOL:
		eth := []byte{0x08, 0x00}
		if p.nfproto == unix.NFPROTO_IPV6 {
			eth = []byte{0x86, 0xdd}
		}
		rf.set(x.Register, eth, constTags(2))
	default:
		rf.forget(x.Register, 16)
	}
}

// cmpTri compares as the kernel's nft_cmp does (memcmp).
func cmpTri(known bool, op expr.CmpOp, v, data []byte) tri {
	if !known {
		return tUnknown
	}
	c := bytes.Compare(v, data)
	var ok bool
	switch op {
	case expr.CmpOpEq:
		ok = c == 0
	case expr.CmpOpNeq:
		ok = c != 0
	case expr.CmpOpLt:
		ok = c < 0
	case expr.CmpOpLte:
		ok = c <= 0
	case expr.CmpOpGt:
		ok = c > 0
	case expr.CmpOpGte:
		ok = c >= 0
	default:
		return tUnknown
	}
	return triOf(ok)
}

// rangeTri is nft_range: from <= v <= to (eq), or outside it (neq).
func rangeTri(known bool, op expr.CmpOp, v, from, to []byte) tri {
	if !known || len(to) != len(from) {
		return tUnknown
	}
	in := bytes.Compare(v, from) >= 0 && bytes.Compare(v, to) <= 0
	switch op {
	case expr.CmpOpEq:
		return triOf(in)
	case expr.CmpOpNeq:
		return triOf(!in)
	}
	return tUnknown
}

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// lookup tests set membership; a verdict map also gives the verdict.
func (e *ruleEval) lookup(x *expr.Lookup, rf *regFile) {
	s := e.sets[x.SetName]
	if s == nil {
		e.test(tUnknown, [5]bool{})
		return
	}
	v, ok, f := rf.get(x.SourceRegister, s.keyLen())
	if !ok {
		e.test(tUnknown, f)
		return
	}
	el, in := s.find(v)
	if x.Invert {
		in = !in
	}
	e.test(triOf(in), f)
	if in && !x.Invert && x.IsDestRegSet {
		if x.DestRegister == unix.NFT_REG_VERDICT && el != nil && el.VerdictData != nil {
			e.verdict = el.VerdictData
		} else {
			rf.forget(x.DestRegister, 16)
		}
	}
}

// nftSet is a set with its elements.
type nftSet struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// keyLen is the length of the set's keys.
func (s *nftSet) keyLen() int {
	if s.set.KeyType.Bytes > 0 {
		return int(s.set.KeyType.Bytes)
	}
	if len(s.elems) > 0 {
		return len(s.elems[0].Key)
	}
	return 0
}

// find returns the element holding v. In an interval set (without
// KeyEnd) an element starts a range that runs up to, not including, the
// next element's key, and elements flagged IntervalEnd start gaps.
func (s *nftSet) find(v []byte) (*nftables.SetElement, bool) {
	for i := range s.elems {
		el := &s.elems[i]
		if el.KeyEnd != nil {
			if bytes.Compare(v, el.Key) >= 0 && bytes.Compare(v, el.KeyEnd) <= 0 {
				return el, true
			}
			continue
		}
		if !s.set.Interval && bytes.Equal(el.Key, v) {
			return el, true
		}
	}
	if !s.set.Interval {
		return nil, false
	}
	var best *nftables.SetElement // the element with the largest key <= v
	for i := range s.elems {
		el := &s.elems[i]
		if el.KeyEnd == nil && bytes.Compare(el.Key, v) <= 0 && (best == nil || bytes.Compare(el.Key, best.Key) > 0) {
			best = el
		}
	}
	return best, best != nil && !best.IntervalEnd
}

// xtMatch evaluates an xtables match (iptables-nft rules): tcp, udp and
// multiport on ports, comment always; any other is unknown.
func xtMatch(m *expr.Match, p *packet) (tri, [5]bool) {
	var on [5]bool
	on[fPort], on[fProto] = true, true
	sport, dport := binary.BigEndian.Uint16(p.th[0:]), binary.BigEndian.Uint16(p.th[2:])
	in := func(v uint16, r [2]uint16, inv bool) bool { return (v >= r[0] && v <= r[1]) != inv }
	switch info := m.Info.(type) {
	case *xt.Tcp:
		return triOf(p.l4proto == unix.IPPROTO_TCP &&
			in(sport, info.SrcPorts, info.InvFlags&xt.TcpInvSrcPorts != 0) &&
			in(dport, info.DstPorts, info.InvFlags&xt.TcpInvDestPorts != 0)), on
	case *xt.Udp:
		return triOf(p.l4proto == unix.IPPROTO_UDP &&
			in(sport, info.SrcPorts, info.InvFlags&xt.UdpInvSrcPorts != 0) &&
			in(dport, info.DstPorts, info.InvFlags&xt.UdpInvDestPorts != 0)), on
	case *xt.Comment:
		return tTrue, [5]bool{}
	case *xt.Unknown:
		if m.Name == "multiport" && p.thTag[0] == fPort {
			if r, ok := multiport(*info, m.Rev, sport, dport); ok {
				return r, on
			}
		}
	}
	return tUnknown, [5]bool{}
}

// multiport decodes struct xt_multiport (rev 0) or xt_multiport_v1
// (rev 1: ranges and invert) and tests the ports. Fields are in host
// byte order.
func multiport(b []byte, rev uint32, sport, dport uint16) (tri, bool) {
	const maxPorts = 15
	if len(b) < 2+2*maxPorts {
		return tUnknown, false
	}
	flags, count := b[0], int(b[1])
	if count > maxPorts {
		return tUnknown, false
	}
	ports := make([]uint16, maxPorts)
	for i := range ports {
		ports[i] = binary.NativeEndian.Uint16(b[2+2*i:])
	}
	var pflags []byte
	invert := false
	if rev >= 1 {
		if len(b) < 2+3*maxPorts+1 {
			return tUnknown, false
		}
		pflags = b[2+2*maxPorts : 2+3*maxPorts]
		invert = b[2+3*maxPorts] != 0
	}
	hit := func(v uint16) bool {
		for i := 0; i < count; i++ {
			if pflags != nil && pflags[i] != 0 && i+1 < count {
				if v >= ports[i] && v <= ports[i+1] {
					return true
				}
				i++
				continue
			}
			if v == ports[i] {
				return true
			}
		}
		return false
	}
	var m bool
	switch flags {
	case 0: // XT_MULTIPORT_SOURCE
		m = hit(sport)
	case 1: // XT_MULTIPORT_DESTINATION
		m = hit(dport)
	case 2: // XT_MULTIPORT_EITHER
		m = hit(sport) || hit(dport)
	default:
		return tUnknown, false
	}
	return triOf(m != invert), true
}
