package analyze

import (
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// packedFlow is a flow the audit keeps for later, reduced to what the
// audit reads: about a third of a flow.Flow. The Auditor keeps flows this
// way while they are held until the gateway addresses are inferred (so an
// audit that must infer the hosts of a 200k-flow capture stays small),
// while they await an answer the end of the capture may cut off
// (awaiting, pending in the report), and while the scanner test holds them
// (heldFlow).
type packedFlow struct {
	orig, resp [16]byte
	icmpFrom   [16]byte // sender of the ICMP error, when hasICMP
	start, end int64    // Unix nanoseconds
	origPkts   uint64
	respPkts   uint64
	attempts   uint32 // a retransmitted SYN proves no answer came (coverage.go)
	uid        string
	process    *flow.Process // eBPF attribution, rarely set
	origPort   uint16
	respPort   uint16
	node       uint16 // index into packTables.strs
	icmpReason uint16 // index into packTables.strs, when hasICMP
	history    uint16 // index into packTables.hists
	names      uint32 // index into packTables.names
	proto      uint8
	outcome    uint8 // index into outcomeCodes
	hasICMP    bool
	open       bool
	// payload and the history say whether a handshake completed (the
	// scanner test, engages): whether payload went either way is all
	// the audit reads of the byte counts.
	payload bool
	origFam uint8 // 0 invalid, 4, 6
	respFam uint8
	// The ICMP error's sender family, type, code and version: reasons
	// depend on them (a firewall's port unreachable, a redirect).
	icmpFromFam, icmpType, icmpCode, icmpVer uint8
}

// heldChunk is how many held flows one allocation holds.
const heldChunk = 4096

var outcomeCodes = []flow.Outcome{"", flow.Established, flow.Rejected, flow.Unreachable, flow.Unanswered, flow.Unknown}

// packTables interns the strings packed flows share (nodes and ICMP
// reasons, histories, name lists).
type packTables struct {
	strs     interned
	hists    interned
	names    []flowNames
	namesIdx map[string]uint32
}

// flowNames are the names of a flow: each side's, and the server name its
// originator asked for.
type flowNames struct {
	orig, resp []string
	server     string
}

func newPackTables() *packTables {
	return &packTables{strs: newInterned(), hists: newInterned(),
		names: []flowNames{{}}, namesIdx: map[string]uint32{"": 0}}
}

// interned is a table of up to 65536 distinct strings, "" first.
type interned struct {
	list []string
	idx  map[string]uint16
}

func newInterned() interned { return interned{list: []string{""}, idx: map[string]uint16{"": 0}} }

// of returns s's index; beyond 65536 distinct strings, that of "" (the
// detail is dropped: absurdly many nodes, reasons or histories).
func (t *interned) of(s string) uint16 {
	if i, ok := t.idx[s]; ok {
		return i
	}
	if len(t.list) == 1<<16 {
		return 0
	}
	s = strings.Clone(s)
	t.idx[s] = uint16(len(t.list))
	t.list = append(t.list, s)
	return uint16(len(t.list) - 1)
}

func (p *packTables) nameLists(f *flow.Flow) uint32 {
	if len(f.OrigNames) == 0 && len(f.RespNames) == 0 && f.ServerName == "" {
		return 0
	}
	key := strings.Join(f.OrigNames, "\x00") + "\x01" + strings.Join(f.RespNames, "\x00") + "\x01" + f.ServerName
	if i, ok := p.namesIdx[key]; ok {
		return i
	}
	p.namesIdx[key] = uint32(len(p.names))
	p.names = append(p.names, flowNames{cloneStrings(f.OrigNames), cloneStrings(f.RespNames), strings.Clone(f.ServerName)})
	return uint32(len(p.names) - 1)
}

func cloneStrings(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

// keep reduces f to a packedFlow, interning its strings.
func (p *packTables) keep(f *flow.Flow) packedFlow {
	pf := packFlow(f)
	// Beyond 65536 distinct histories one is lost (interned.of): a flow
	// without payload then no longer shows the handshake it completed.
	pf.node, pf.names, pf.history = p.strs.of(f.Node), p.nameLists(f), p.hists.of(f.History)
	if f.ICMP != nil {
		pf.icmpReason = p.strs.of(f.ICMP.Reason)
	}
	return pf
}

// restore fills f (reused between calls) from pf.
func (p *packTables) restore(pf *packedFlow, f *flow.Flow, icmp *flow.ICMPError) {
	unpackFlow(pf, f, icmp)
	n := &p.names[pf.names]
	f.Node, f.OrigNames, f.RespNames, f.ServerName = p.strs.list[pf.node], n.orig, n.resp, n.server
	f.History = p.hists.list[pf.history]
	if pf.hasICMP {
		icmp.Reason = p.strs.list[pf.icmpReason]
	}
}

// packFlow reduces f to the numbers a packedFlow holds (and its UID
// and process, copied); the strings it shares with other flows (node,
// ICMP reason, names) are left to the caller.
func packFlow(f *flow.Flow) packedFlow {
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	pf := packedFlow{orig: o.As16(), resp: r.As16(), origFam: famOf(o), respFam: famOf(r),
		start: nanos(f.Start), end: nanos(f.End), origPkts: f.OrigPkts, respPkts: f.RespPkts, attempts: uint32(max(f.Attempts, 0)),
		payload: f.OrigBytes > 0 || f.RespBytes > 0, uid: strings.Clone(f.UID), origPort: f.Orig.Port(), respPort: f.Resp.Port(), proto: f.Proto,
		process: cloneProcess(f.Process), open: f.Open}
	for i, o := range outcomeCodes {
		if o == f.Outcome {
			pf.outcome = uint8(i)
		}
	}
	if f.ICMP != nil {
		pf.hasICMP = true
		from := f.ICMP.From.Unmap()
		pf.icmpFrom, pf.icmpFromFam = from.As16(), famOf(from)
		pf.icmpType, pf.icmpCode, pf.icmpVer = f.ICMP.Type, f.ICMP.Code, f.ICMP.Version
	}
	return pf
}

// unpackFlow fills f (and icmp, which f then points to) from the numbers
// of pf; node, names and the ICMP reason are left empty. Byte counts are
// not kept: OrigBytes is 1 when payload went either way, else 0.
func unpackFlow(pf *packedFlow, f *flow.Flow, icmp *flow.ICMPError) {
	addr := func(b [16]byte, fam uint8) netip.Addr {
		switch fam {
		case 4:
			return netip.AddrFrom16(b).Unmap()
		case 6:
			return netip.AddrFrom16(b)
		}
		return netip.Addr{}
	}
	*f = flow.Flow{UID: pf.uid, Proto: pf.proto,
		Orig:  netip.AddrPortFrom(addr(pf.orig, pf.origFam), pf.origPort),
		Resp:  netip.AddrPortFrom(addr(pf.resp, pf.respFam), pf.respPort),
		Start: fromNanos(pf.start), End: fromNanos(pf.end),
		OrigPkts: pf.origPkts, RespPkts: pf.respPkts, Attempts: int(pf.attempts), Outcome: outcomeCodes[pf.outcome],
		Process: pf.process, Open: pf.open}
	if pf.payload {
		f.OrigBytes = 1
	}
	if pf.hasICMP {
		*icmp = flow.ICMPError{From: addr(pf.icmpFrom, pf.icmpFromFam),
			Type: pf.icmpType, Code: pf.icmpCode, Version: pf.icmpVer}
		f.ICMP = icmp
	}
}

// noTime stands for the zero time.Time, which Unix nanoseconds cannot hold.
const noTime = math.MinInt64

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func famOf(a netip.Addr) uint8 {
	switch {
	case a.Is4():
		return 4
	case a.Is6():
		return 6
	}
	return 0
}
