package flow

import (
	"fmt"
	"net/netip"
	"time"
)

// emitter turns table entries into Flow records without allocating per
// flow in steady state: UIDs are carved from shared chunks and history
// strings are interned.
type emitter struct {
	uids    UIDs
	hist    map[histKey]string
	reasons map[uint32]string
}

type histKey struct {
	n uint8
	b [histCap]byte
}

func (m *emitter) init() {
	m.hist = make(map[histKey]string)
	m.reasons = make(map[uint32]string)
}

func (m *emitter) history(e *entry) string {
	if e.histLen == 0 {
		return ""
	}
	k := histKey{n: e.histLen, b: e.hist}
	if s, ok := m.hist[k]; ok {
		return s
	}
	s := string(e.hist[:e.histLen])
	m.hist[k] = s
	return s
}

// reason names an ICMP error as flow.go documents.
func (m *emitter) reason(v6 bool, typ, code uint8) string {
	k := uint32(typ)<<8 | uint32(code)
	if v6 {
		k |= 1 << 16
	}
	if s, ok := m.reasons[k]; ok {
		return s
	}
	s := icmpReason(v6, typ, code)
	m.reasons[k] = s
	return s
}

// icmpReason maps an ICMP/ICMPv6 error type and code to a stable name.
func icmpReason(v6 bool, typ, code uint8) string {
	if !v6 {
		switch typ {
		case 3:
			switch code {
			case 0, 6, 11:
				return "net-unreachable"
			case 1, 7, 12:
				return "host-unreachable"
			case 2:
				return "proto-unreachable"
			case 3:
				return "port-unreachable"
			case 4:
				return "frag-needed"
			case 9, 10, 13:
				return "admin-prohibited"
			}
		case 11:
			return "ttl-exceeded"
		}
	} else {
		switch typ {
		case 1:
			switch code {
			case 0:
				return "net-unreachable"
			case 1, 5, 6:
				return "admin-prohibited"
			case 3:
				return "host-unreachable"
			case 4:
				return "port-unreachable"
			}
		case 2:
			return "frag-needed"
		case 3:
			return "ttl-exceeded"
		case 4:
			if code == 1 {
				return "proto-unreachable"
			}
		}
	}
	return fmt.Sprintf("icmp-%d-%d", typ, code)
}

// build fills t.scratch with the record of the flow at slab position pos.
func (t *Table) build(pos int32, open, evicted bool) {
	e := &t.slab[pos]
	f := &t.scratch
	*f = Flow{}
	k := &e.key
	a := e.origIsA
	f.UID = t.emitter.uids.Make(e.id)
	f.Proto = k.Proto
	op, rp := k.port(a), k.port(!a)
	if k.Proto == ProtoICMP || k.Proto == ProtoICMPv6 {
		op, rp = uint16(e.icmpType), uint16(e.icmpCode)
	}
	f.Orig = netip.AddrPortFrom(k.addr(a), op)
	f.Resp = netip.AddrPortFrom(k.addr(!a), rp)
	f.Start = time.Unix(0, e.start).UTC()
	f.End = time.Unix(0, e.last).UTC()
	o, r := &e.ep[0], &e.ep[1]
	f.OrigPkts, f.RespPkts = o.pkts, r.pkts
	if k.Proto == ProtoTCP {
		f.OrigBytes, f.RespBytes = o.tcpSize(r), r.tcpSize(o)
		f.MissedBytes = o.missed(f.OrigBytes) + r.missed(f.RespBytes)
		f.State = tcpConnState(o.state, r.state, f.OrigBytes == 0 && f.RespBytes == 0, rstos0History(e))
	} else {
		f.OrigBytes, f.RespBytes = uint64(o.covered), uint64(r.covered)
		if k.Proto == ProtoUDP {
			f.State = udpConnState(o.pkts > 0, r.pkts > 0)
		} else {
			f.State = StateOTH
		}
	}
	f.History = t.emitter.history(e)
	f.Attempts = int(e.attempts)
	if e.hasICMP {
		ic := t.icmpErrs[pos]
		from := netip.AddrFrom16(ic.from)
		if ic.from4 {
			from = from.Unmap()
		}
		var ver uint8 = 4
		if ic.v6 {
			ver = 6
		}
		t.icmp = ICMPError{Type: ic.typ, Code: ic.code, Version: ver, From: from,
			Time: time.Unix(0, ic.ts).UTC(), Reason: t.emitter.reason(ic.v6, ic.typ, ic.code)}
		f.ICMP = &t.icmp
	}
	f.ServerName = t.names[e.serverName]
	f.Link = Link{OrigMAC: t.macs[e.mac[0]], RespMAC: t.macs[e.mac[1]],
		OrigOut: o.bits&epOut != 0, RespOut: r.bits&epOut != 0}
	f.Open = open
	f.Evicted = evicted
	sum := e.summary()
	if e.hasICMP {
		ic := t.icmpErrs[pos]
		sum.ICMPError = ICMPFails(ic.v6, ic.typ, ic.code)
	}
	f.Outcome = sum.Outcome()
}

// summary aggregates an entry the way the eBPF map does, so Outcome has a
// single definition.
func (e *entry) summary() Summary {
	return Summary{Proto: e.key.Proto, OrigFlags: e.ep[0].flags, RespFlags: e.ep[1].flags,
		OrigPkts: e.ep[0].pkts, RespPkts: e.ep[1].pkts, OrigBytes: uint64(e.ep[0].covered), RespBytes: uint64(e.ep[1].covered),
		Attempts: e.attempts, ICMPError: e.hasICMP}
}

// rstos0History reports whether the history matches Zeek's RSTOS0 pattern
// /^?S[^HAFGIQ]*R/: a SYN, then an originator RST, with no SYN-ACK, ACK,
// FIN, gap, FIN+RST or multi-flag packet in between.
func rstos0History(e *entry) bool {
	h := e.hist[:e.histLen]
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, c := range h[1:] {
		switch c {
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		case 'R':
			return true
		}
	}
	return false
}
