package analyze

import (
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// pendingFlow is a flow kept while the gateway addresses are not known
// yet, reduced to what the audit reads: about a third of a flow.Flow, so
// an audit that must infer the hosts of a 200k-flow capture stays small.
type pendingFlow struct {
	orig, resp [16]byte
	icmpFrom   [16]byte // sender of the ICMP error, when hasICMP
	start, end int64    // Unix nanoseconds
	origPkts   uint64
	respPkts   uint64
	uid        string
	process    *flow.Process // eBPF attribution, rarely set
	origPort   uint16
	respPort   uint16
	node       uint16 // index into pendingTables.strs
	icmpReason uint16 // index into pendingTables.strs, when hasICMP
	names      uint32 // index into pendingTables.names
	proto      uint8
	outcome    uint8 // index into outcomeCodes
	hasICMP    bool
	open       bool
	origFam    uint8 // 0 invalid, 4, 6
	respFam    uint8
	// The ICMP error's sender family, type, code and version: reasons
	// depend on them (a firewall's port unreachable, a redirect).
	icmpFromFam, icmpType, icmpCode, icmpVer uint8
}

// pendingChunk is how many pending flows one allocation holds.
const pendingChunk = 4096

var outcomeCodes = []flow.Outcome{"", flow.Established, flow.Rejected, flow.Unreachable, flow.Unanswered, flow.Unknown}

// pendingTables interns the strings pending flows share (nodes, ICMP
// reasons, name lists).
type pendingTables struct {
	strs     []string
	strIdx   map[string]uint16
	names    []flowNames
	namesIdx map[string]uint32
}

// flowNames are the names of a flow: each side's, and the server name its
// originator asked for.
type flowNames struct {
	orig, resp []string
	server     string
}

func newPendingTables() *pendingTables {
	return &pendingTables{strs: []string{""}, strIdx: map[string]uint16{"": 0},
		names: []flowNames{{}}, namesIdx: map[string]uint32{"": 0}}
}

func (p *pendingTables) str(s string) uint16 {
	if i, ok := p.strIdx[s]; ok {
		return i
	}
	if len(p.strs) == 1<<16 {
		return 0 // absurdly many distinct nodes or reasons: drop the detail
	}
	s = strings.Clone(s)
	p.strIdx[s] = uint16(len(p.strs))
	p.strs = append(p.strs, s)
	return uint16(len(p.strs) - 1)
}

func (p *pendingTables) nameLists(f *flow.Flow) uint32 {
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

// keep reduces f to a pendingFlow.
func (p *pendingTables) keep(f *flow.Flow) pendingFlow {
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	pf := pendingFlow{orig: o.As16(), resp: r.As16(), origFam: famOf(o), respFam: famOf(r),
		start: nanos(f.Start), end: nanos(f.End), origPkts: f.OrigPkts, respPkts: f.RespPkts,
		uid: strings.Clone(f.UID), origPort: f.Orig.Port(), respPort: f.Resp.Port(), proto: f.Proto,
		node: p.str(f.Node), names: p.nameLists(f), process: cloneProcess(f.Process), open: f.Open}
	for i, o := range outcomeCodes {
		if o == f.Outcome {
			pf.outcome = uint8(i)
		}
	}
	if f.ICMP != nil {
		pf.hasICMP, pf.icmpReason = true, p.str(f.ICMP.Reason)
		from := f.ICMP.From.Unmap()
		pf.icmpFrom, pf.icmpFromFam = from.As16(), famOf(from)
		pf.icmpType, pf.icmpCode, pf.icmpVer = f.ICMP.Type, f.ICMP.Code, f.ICMP.Version
	}
	return pf
}

// restore fills f (reused between calls) from pf.
func (p *pendingTables) restore(pf *pendingFlow, f *flow.Flow, icmp *flow.ICMPError) {
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
		OrigPkts: pf.origPkts, RespPkts: pf.respPkts, Outcome: outcomeCodes[pf.outcome], Node: p.strs[pf.node],
		OrigNames: p.names[pf.names].orig, RespNames: p.names[pf.names].resp, ServerName: p.names[pf.names].server,
		Process: pf.process, Open: pf.open}
	if pf.hasICMP {
		*icmp = flow.ICMPError{Reason: p.strs[pf.icmpReason], From: addr(pf.icmpFrom, pf.icmpFromFam),
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
