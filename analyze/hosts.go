package analyze

import (
	"cmp"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// hostSet is the gateway's addresses.
type hostSet map[netip.Addr]bool

func newHostSet(addrs []netip.Addr) hostSet {
	s := hostSet{}
	for _, a := range addrs {
		s[a.Unmap()] = true
	}
	return s
}

// sorted returns the addresses in order (IPv4 first).
func (s hostSet) sorted() []netip.Addr {
	out := make([]netip.Addr, 0, len(s))
	for a := range s {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// views returns the flow as seen from the gateway: one view when one side
// is a gateway address, two (out, then in) when both are (traffic between
// cluster nodes given as hosts), none for transit.
//
// The peer's names are its DNS names, and for an out view also the flow's
// ServerName: the name the gateway itself asked for (TLS SNI, HTTP Host)
// names the server it connected to. A name a peer asks for when it
// connects to the gateway names the gateway, never the peer, so an in view
// does not get it (docs/naming.md). buf is scratch for the out view's
// names, valid until the next call: no allocation, this runs once per flow.
func (s hostSet) views(f *flow.Flow, buf *[]string) (vs [2]view, n int) {
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	port := serverPort(f)
	if s[o] {
		vs[n] = view{dir: catalog.Out, peer: r, names: outNames(f, buf), port: port}
		n++
	}
	if s[r] {
		vs[n] = view{dir: catalog.In, peer: o, names: f.OrigNames, port: port}
		n++
	}
	return vs, n
}

// outNames is what names the responder of a flow the gateway opened: its
// DNS names and, when they lack it, the server name the gateway asked for.
func outNames(f *flow.Flow, buf *[]string) []string {
	if f.ServerName == "" {
		return f.RespNames
	}
	for _, n := range f.RespNames {
		if strings.EqualFold(n, f.ServerName) {
			return f.RespNames
		}
	}
	*buf = append(append((*buf)[:0], f.RespNames...), f.ServerName)
	return *buf
}

// inferHosts guesses the gateway's addresses: per IP family, the unicast
// address taking part in the most flows (ties: more distinct peers, then
// the lower address), kept when it takes part in at least half of that
// family's flows. When neither family has such an address, the busier of
// the two families' top addresses is kept alone (IPv4 on a tie): a best
// guess, which the sentence says, rather than no gateway at all (every
// flow transit, nothing audited). Housekeeping flows are left out. It
// returns the addresses and a sentence saying how they were chosen.
func inferHosts(flows iter.Seq[*flow.Flow]) ([]netip.Addr, string) {
	cands, familyFlows := hostCandidates(flows)
	counts := countFlows(flows, cands)
	return chooseHosts(bestPerFamily(flows, counts), counts, familyFlows)
}

// hostCandidates is inferHosts' first pass: per family, a Misra-Gries
// summary finds the few addresses that can take part in a large share of
// flows without a map entry for every address seen. It also counts each
// family's flows ([0] IPv4, [1] IPv6). Housekeeping flows are left out.
func hostCandidates(flows iter.Seq[*flow.Flow]) (cands []netip.Addr, familyFlows [2]int) {
	var summaries [2]heavyHitters
	for f := range flows {
		if housekeepingKind(f) != "" {
			continue
		}
		o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
		familyFlows[family(o)]++
		if candidate(o) {
			summaries[family(o)].add(o)
		}
		if candidate(r) && r != o {
			summaries[family(r)].add(r)
		}
	}
	for _, h := range summaries {
		for i, a := range h.addr {
			if h.n[i] > 0 {
				cands = append(cands, a)
			}
		}
	}
	return cands, familyFlows
}

// countFlows is inferHosts' second pass: the exact number of flows each
// candidate takes part in (housekeeping left out).
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
// ties are rare, so distinct peers are counted in a third pass only for
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
// half of its family's flows, or else the busier of the two alone, and
// says so in a sentence.
func chooseHosts(best [2]netip.Addr, counts map[netip.Addr]int, familyFlows [2]int) ([]netip.Addr, string) {
	var addrs []netip.Addr
	var parts []string
	names := [2]string{"IPv4", "IPv6"}
	for fam, a := range best {
		if !a.IsValid() || counts[a]*2 < familyFlows[fam] {
			continue
		}
		addrs = append(addrs, a)
		parts = append(parts, fmt.Sprintf("%s in %d of %d %s flows", a, counts[a], familyFlows[fam], names[fam]))
	}
	if len(addrs) == 0 {
		// No address dominates either family: take the busiest overall.
		var top netip.Addr
		for _, a := range best {
			if a.IsValid() && (!top.IsValid() || counts[a] > counts[top]) {
				top = a
			}
		}
		if !top.IsValid() {
			return nil, "inferred from the traffic: no candidate address"
		}
		addrs = append(addrs, top)
		fam := family(top)
		parts = append(parts, fmt.Sprintf("%s in %d of %d %s flows (a guess: no address takes part in half of its family's flows)",
			top, counts[top], familyFlows[fam], names[fam]))
	}
	return addrs, "inferred from the traffic (the address taking part in most flows): " + strings.Join(parts, "; ")
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

// flowsOf iterates over a slice of flows.
func flowsOf(flows []flow.Flow) iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		for i := range flows {
			if !yield(&flows[i]) {
				return
			}
		}
	}
}

// candidate reports whether an address can be a gateway's own address.
func candidate(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast() &&
		!a.IsLoopback() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}
