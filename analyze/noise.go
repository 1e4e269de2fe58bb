package analyze

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/axiomhq/hyperloglog"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// A gateway on the internet is scanned all day and answers spoofed SYNs.
// Such traffic says nothing about the firewall, so inbound TCP flows of
// two kinds are set aside as noise: counted in Report.Noise, never judged
// and never listed as unexpected (docs/report.md "Internet noise"):
//
//   - backscatter: an inbound SYN the gateway answered with a SYN-ACK that
//     was never acknowledged (the source was spoofed);
//   - scanners: a source that tries ScanPorts or more distinct ports
//     without completing a handshake with the gateway in between.
//
// Sources in a site zone, or named by a catalog's IP peer, are always
// judged. A source is known to scan only after its third port, so the
// flows of sources not yet decided are held (in a table of fixed size,
// Options.NoiseSources) until the source completes a handshake (they are
// judged), tries a third port (noise), or the report is made (judged).

// ScanPorts is how many distinct ports a source must try, without
// completing a handshake in between, to count as a scanner. A source that
// tried only one or two ports is always judged: twenty mail servers
// retrying a closed port 25 still make the SMTP requirement blocked.
const ScanPorts = 3

// DefaultNoiseSources is how many undecided or scanning sources the
// scanner test follows at once (Options.NoiseSources); it holds up to
// twice as many flows.
const DefaultNoiseSources = 1 << 15

// noiseTopPorts is how many ports the noise line names.
const noiseTopPorts = 5

// noiseSum is what the report says about noise. It is cloned with the
// tally; the source table is not (settle only reads it).
type noiseSum struct {
	flows     int
	backFlows int
	backSrc   *hyperloglog.Sketch // distinct backscatter sources, estimated
	scanSrc   int
	scanFlows int
	ports     map[uint16]int // TCP port -> noise flows
	overflow  int
	// Per rule: noise flows the rule would have counted, and how many of
	// them were backscatter.
	rules, rulesBack []int
}

func (n *noiseSum) clone() noiseSum {
	c := *n
	if n.backSrc != nil {
		c.backSrc = n.backSrc.Clone()
	}
	c.ports = maps.Clone(n.ports)
	c.rules, c.rulesBack = slices.Clone(n.rules), slices.Clone(n.rulesBack)
	return c
}

// noiseKind says why a flow is noise.
type noiseKind uint8

const (
	backscatter noiseKind = iota + 1
	scanning
)

// screened returns the source of f when the noise rules apply to it:
// an inbound TCP flow (one side a gateway address, the other not) from a
// source no zone or catalog IP peer names.
func (a *Auditor) screened(f *flow.Flow) (netip.Addr, bool) {
	if f.Proto != flow.ProtoTCP {
		return netip.Addr{}, false
	}
	src, dst := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	if !a.hs[dst] || a.hs[src] || housekeepingKind(f) != "" {
		return netip.Addr{}, false
	}
	for _, p := range a.exempt {
		if p.Contains(src) {
			return netip.Addr{}, false
		}
	}
	return src, true
}

// exemptPrefixes lists the prefixes whose sources are always judged: every
// zone of the site and every IP peer of the requirements.
func exemptPrefixes(rules []rule, site *catalog.Site) []netip.Prefix {
	var out []netip.Prefix
	if site != nil {
		for _, z := range sortedKeys(site.Zones) {
			out = append(out, site.Zones[z]...)
		}
	}
	for _, r := range rules {
		for _, m := range r.peers {
			if m.kind == catalog.PeerIP {
				out = append(out, m.prefixes...)
			}
		}
	}
	return out
}

// isBackscatter reports whether f (screened) is a SYN the gateway answered
// with a SYN-ACK that was never acknowledged.
func isBackscatter(f *flow.Flow) bool {
	return f.Outcome == flow.Unanswered && f.RespPkts > 0
}

// engages reports whether f (screened) shows its source completing a
// handshake with the gateway: established, and the originator
// acknowledged the SYN-ACK (history A, D or F) or data went either way.
// A SYN scan reset after the SYN-ACK is established by outcome, but does
// neither.
func engages(f *flow.Flow) bool {
	return f.Outcome == flow.Established &&
		(f.OrigBytes > 0 || f.RespBytes > 0 || strings.ContainsAny(f.History, "ADF"))
}

// setAside counts f, from src, as noise of kind k.
func (t *tally) setAside(a *Auditor, f *flow.Flow, src netip.Addr, k noiseKind) {
	t.flows++
	t.noteNode(f)
	t.hostSeen[f.Resp.Addr().Unmap()] = true
	n := &t.noise
	n.flows++
	if n.ports == nil {
		n.ports = map[uint16]int{}
	}
	n.ports[f.Resp.Port()]++
	switch k {
	case backscatter:
		n.backFlows++
		if n.backSrc == nil {
			n.backSrc, _ = hyperloglog.NewSketch(foldPrecision, false) // the precision is valid
		}
		key := src.As16()
		n.backSrc.Insert(key[:])
	case scanning:
		n.scanFlows++
	}
	v := view{dir: catalog.In, peer: src, names: f.OrigNames, port: f.Resp.Port()}
	for _, hit := range a.idx.lookup(f, v) {
		if r := &a.rules[hit.rule]; hit.counts && r.applies && r.peerOK(v.peer, v.names) {
			n.rules[hit.rule]++
			if k == backscatter {
				n.rulesBack[hit.rule]++
			}
		}
	}
}

// report fills the report's noise line and warnings.
func (n *noiseSum) report(rep *Report) {
	if n.flows == 0 && n.overflow == 0 {
		return
	}
	out := &Noise{Flows: n.flows, Overflow: n.overflow, Ports: []NoisePort{},
		Scanners:    NoiseKind{Sources: n.scanSrc, Flows: n.scanFlows},
		Backscatter: NoiseKind{Flows: n.backFlows}}
	if n.backSrc != nil {
		out.Backscatter.Sources = max(1, int(n.backSrc.Estimate()))
	}
	for p, c := range n.ports {
		out.Ports = append(out.Ports, NoisePort{Protocol: string(catalog.TCP), Port: p, Flows: c})
	}
	slices.SortFunc(out.Ports, func(a, b NoisePort) int { return cmp.Or(cmp.Compare(b.Flows, a.Flows), cmp.Compare(a.Port, b.Port)) })
	out.Ports = out.Ports[:min(len(out.Ports), noiseTopPorts)]
	rep.Noise = out
	rep.Summary.Noise = n.flows
	for i := range rep.Requirements {
		rep.Requirements[i].NoiseFlows = n.rules[i]
		if r := &rep.Requirements[i]; r.Status == NeverSeen && n.rulesBack[i] > 0 {
			rep.Warnings = append(rep.Warnings, noiseNeverSeenWarning(r.ID, n.rulesBack[i]))
		}
	}
	if n.overflow > 0 {
		rep.Warnings = append(rep.Warnings, overflowWarning(n.overflow))
	}
}
