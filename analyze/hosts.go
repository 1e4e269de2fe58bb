package analyze

import (
	"fmt"
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
func (s hostSet) views(f *flow.Flow) []view {
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	port := serverPort(f)
	var vs []view
	if s[o] {
		vs = append(vs, view{dir: catalog.Out, peer: r, names: f.RespNames, port: port})
	}
	if s[r] {
		vs = append(vs, view{dir: catalog.In, peer: o, names: f.OrigNames, port: port})
	}
	return vs
}

// inferHosts guesses the gateway's addresses: per IP family, the unicast
// address taking part in the most flows (ties: more distinct peers, then
// the lower address), kept when it takes part in at least half of that
// family's flows. Housekeeping flows are left out. It returns the
// addresses and a sentence saying how they were chosen.
func inferHosts(flows []flow.Flow) ([]netip.Addr, string) {
	type tally struct {
		flows int
		peers map[netip.Addr]bool
	}
	counts := map[netip.Addr]*tally{}
	familyFlows := [2]int{} // [0] IPv4, [1] IPv6
	add := func(a, peer netip.Addr) {
		if !candidate(a) {
			return
		}
		t := counts[a]
		if t == nil {
			t = &tally{peers: map[netip.Addr]bool{}}
			counts[a] = t
		}
		t.flows++
		t.peers[peer] = true
	}
	for i := range flows {
		f := &flows[i]
		if housekeepingKind(f) != "" {
			continue
		}
		o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
		familyFlows[family(o)]++
		add(o, r)
		add(r, o)
	}
	var best [2]netip.Addr
	for a, t := range counts {
		fam := family(a)
		b := best[fam]
		if !b.IsValid() {
			best[fam] = a
			continue
		}
		bt := counts[b]
		switch {
		case t.flows != bt.flows:
			if t.flows > bt.flows {
				best[fam] = a
			}
		case len(t.peers) != len(bt.peers):
			if len(t.peers) > len(bt.peers) {
				best[fam] = a
			}
		case a.Less(b):
			best[fam] = a
		}
	}
	var addrs []netip.Addr
	var parts []string
	names := [2]string{"IPv4", "IPv6"}
	for fam, a := range best {
		if !a.IsValid() || counts[a].flows*2 < familyFlows[fam] {
			continue
		}
		addrs = append(addrs, a)
		parts = append(parts, fmt.Sprintf("%s in %d of %d %s flows", a, counts[a].flows, familyFlows[fam], names[fam]))
	}
	if len(addrs) == 0 {
		// No address dominates either family: take the busiest overall.
		var top netip.Addr
		for _, a := range best {
			if a.IsValid() && (!top.IsValid() || counts[a].flows > counts[top].flows) {
				top = a
			}
		}
		if !top.IsValid() {
			return nil, "inferred from the traffic: no candidate address"
		}
		addrs = append(addrs, top)
		parts = append(parts, fmt.Sprintf("%s in %d flows (no address takes part in half the flows)", top, counts[top].flows))
	}
	return addrs, "inferred from the traffic (the address taking part in most flows): " + strings.Join(parts, "; ")
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
