package analyze

import (
	"cmp"
	"iter"
	"net/netip"
	"slices"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// InferHosts guesses the gateway's addresses from flows, without auditing
// them. Where the capture's link layer tells (Flow.Link), it gives every
// address of the gateway: those the capturing host sent from (SLL), or
// those behind the gateway's MAC (Ethernet; see linkCounts.decide), each
// with its flow counts. Otherwise, per IP family, the unicast address taking part in the most flows
// (ties: more distinct peers, then the lower address), kept when it takes
// part in at least half of that family's flows. When neither family has
// such an address, the busier of the two families' top addresses is kept
// alone (IPv4 on a tie): a best guess (Inference.Guess) rather than no
// gateway at all (every flow transit, nothing audited). Housekeeping flows
// are left out. The result's Origin is capture.OriginInferred; it has no
// address when no flow has a candidate (a unicast address other than
// loopback or link-local).
//
// It reads flows once, counting every address exactly while they are
// fewer than maxExact; past that (a gateway scanned from a huge number of
// sources) it reads them a second time to count its candidates, and a
// third time on a tie: flows must then be iterable again. Its memory is
// bounded by maxExact whatever the input.
func InferHosts(flows iter.Seq[*flow.Flow]) capture.HostsDecision {
	s := newHostCounts()
	for f := range flows {
		s.add(f)
	}
	cands := s.candidates()
	counts := s.exactFor(cands)
	if counts == nil {
		counts = countFlows(flows, cands)
	}
	best := bestPerFamily(flows, counts)
	if addrs, by, mac := s.link.decide(best); len(addrs) > 0 {
		return s.linkHosts(flows, addrs, by, mac)
	}
	return chooseHosts(best, counts, s.familyFlows)
}

// linkHosts is the decision for the addresses the link layer gave, with
// their flow counts.
func (s *hostCounts) linkHosts(flows iter.Seq[*flow.Flow], addrs []netip.Addr, by capture.HostsBy, mac flow.MAC) capture.HostsDecision {
	slices.SortFunc(addrs, netip.Addr.Compare)
	counts := s.exactFor(addrs)
	if counts == nil {
		counts = countFlows(flows, addrs)
	}
	d := capture.HostsDecision{Origin: capture.OriginInferred, Addrs: addrs, Inference: &capture.HostsInference{}}
	for _, a := range addrs {
		d.Inference.Chosen = append(d.Inference.Chosen, capture.HostCount{Addr: a, Flows: counts[a],
			FamilyFlows: s.familyFlows[family(a)], By: by, MAC: mac})
	}
	return d
}

// maxExact bounds the addresses InferHosts counts exactly in its first
// pass (about 3 MB of map).
const maxExact = 1 << 16

// hostCounts is InferHosts' first pass: per family, a Misra-Gries summary
// finds the few addresses that can take part in a large share of flows,
// and a map counts every address's flows exactly while there are few
// enough of them. It also counts each family's flows ([0] IPv4, [1]
// IPv6). Housekeeping flows are left out.
type hostCounts struct {
	summaries   [2]heavyHitters
	familyFlows [2]int
	exact       map[netip.Addr]int // nil past maxExact addresses
	link        linkCounts
}

func newHostCounts() *hostCounts { return &hostCounts{exact: map[netip.Addr]int{}} }

func (s *hostCounts) add(f *flow.Flow) {
	if housekeepingKind(f) != "" {
		return
	}
	s.link.add(f)
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	s.familyFlows[family(o)]++
	if candidate(o) {
		s.summaries[family(o)].add(o)
		s.count(o)
	}
	if candidate(r) && r != o {
		s.summaries[family(r)].add(r)
		s.count(r)
	}
}

func (s *hostCounts) count(a netip.Addr) {
	if s.exact == nil {
		return
	}
	s.exact[a]++
	if len(s.exact) > maxExact {
		s.exact = nil
	}
}

// candidates are the addresses the summaries kept: the only ones that
// can take part in more than a ninth of their family's flows.
func (s *hostCounts) candidates() []netip.Addr {
	var cands []netip.Addr
	for _, h := range s.summaries {
		for i, a := range h.addr {
			if h.n[i] > 0 {
				cands = append(cands, a)
			}
		}
	}
	return cands
}

// exactFor returns the exact counts of cands, or nil when the first pass
// stopped counting exactly.
func (s *hostCounts) exactFor(cands []netip.Addr) map[netip.Addr]int {
	if s.exact == nil {
		return nil
	}
	counts := make(map[netip.Addr]int, len(cands))
	for _, a := range cands {
		counts[a] = s.exact[a]
	}
	return counts
}

// countFlows is InferHosts' second pass when the first could not count
// exactly: the number of flows each candidate takes part in (housekeeping
// left out).
func countFlows(flows iter.Seq[*flow.Flow], cands []netip.Addr) map[netip.Addr]int {
	exact := make([]int, len(cands)) // a linear scan of a few beats a map
	for f := range flows {
		o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
		io, ir := slices.Index(cands, o), slices.Index(cands, r)
		if (io >= 0 || ir >= 0) && housekeepingKind(f) == "" {
			if io >= 0 {
				exact[io]++
			}
			if ir >= 0 && ir != io {
				exact[ir]++
			}
		}
	}
	counts := make(map[netip.Addr]int, len(cands))
	for i, a := range cands {
		counts[a] = exact[i]
	}
	return counts
}

// bestPerFamily returns, per family, the address with the most flows;
// ties are rare, so distinct peers are counted in another pass only for
// them (then the lower address wins). An invalid address: none.
func bestPerFamily(flows iter.Seq[*flow.Flow], counts map[netip.Addr]int) [2]netip.Addr {
	var tied [2][]netip.Addr
	var top [2]int
	for a, n := range counts {
		fam := family(a)
		switch {
		case n > top[fam]:
			top[fam] = n
			tied[fam] = append(tied[fam][:0], a)
		case n == top[fam]:
			tied[fam] = append(tied[fam], a)
		}
	}
	var best [2]netip.Addr
	for fam, cands := range tied {
		if len(cands) == 0 {
			continue
		}
		peers := distinctPeers(flows, cands)
		slices.SortFunc(cands, func(a, b netip.Addr) int {
			return cmp.Or(cmp.Compare(peers[b], peers[a]), a.Compare(b))
		})
		best[fam] = cands[0]
	}
	return best
}

// chooseHosts keeps each family's best address that takes part in at least
// half of its family's flows, or else the busier of the two alone.
func chooseHosts(best [2]netip.Addr, counts map[netip.Addr]int, familyFlows [2]int) capture.HostsDecision {
	d := capture.HostsDecision{Origin: capture.OriginInferred, Inference: &capture.HostsInference{}}
	keep := func(a netip.Addr) {
		d.Addrs = append(d.Addrs, a)
		d.Inference.Chosen = append(d.Inference.Chosen, capture.HostCount{Addr: a, Flows: counts[a], FamilyFlows: familyFlows[family(a)]})
	}
	for fam, a := range best {
		if a.IsValid() && counts[a]*2 >= familyFlows[fam] {
			keep(a)
		}
	}
	if len(d.Addrs) > 0 {
		return d
	}
	// No address dominates either family: take the busiest overall.
	var top netip.Addr
	for _, a := range best {
		if a.IsValid() && (!top.IsValid() || counts[a] > counts[top]) {
			top = a
		}
	}
	if top.IsValid() {
		keep(top)
		d.Inference.Guess = true
	}
	return d
}

// heavyHitters is a Misra-Gries summary with heavyCounters counters: every
// address making up more than 1/(heavyCounters+1) of the stream keeps one.
// A small array scanned linearly: far cheaper than a map here.
type heavyHitters struct {
	addr [heavyCounters]netip.Addr
	n    [heavyCounters]int
}

const heavyCounters = 8

func (h *heavyHitters) add(a netip.Addr) {
	free := -1
	for i := range h.addr {
		if h.n[i] > 0 && h.addr[i] == a {
			h.n[i]++
			return
		}
		if h.n[i] == 0 && free < 0 {
			free = i
		}
	}
	if free >= 0 {
		h.addr[free], h.n[free] = a, 1
		return
	}
	for i := range h.n {
		h.n[i]--
	}
}

// distinctPeers counts, for each address in cands, the distinct addresses
// it exchanged flows with.
func distinctPeers(flows iter.Seq[*flow.Flow], cands []netip.Addr) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	if len(cands) == 1 {
		return out
	}
	seen := map[[2]netip.Addr]bool{}
	for f := range flows {
		o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
		for _, pair := range [][2]netip.Addr{{o, r}, {r, o}} {
			if slices.Contains(cands, pair[0]) && !seen[pair] && housekeepingKind(f) == "" {
				seen[pair] = true
				out[pair[0]]++
			}
		}
	}
	return out
}
