package analyze

import (
	"net/netip"
	"slices"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Inference from the link layer. A capture taken on the gateway carries
// its MAC in every frame it sends or receives, and a Linux cooked capture
// (SLL, SLL2: tcpdump -i any) marks the packets the host sent as
// outgoing. Either names every address of the gateway, the quiet ones
// too, where counting flows finds only the busiest.

// maxLinkAddrs is how many addresses a MAC may carry and still be taken
// for the gateway's own: a gateway has a handful (its address, a service
// or cluster address, their IPv6 twins), a router's MAC carries every
// remote peer. Past it a MAC is a router's, and a host that sent from
// more addresses (SLL) forwards traffic: the link layer then says nothing
// and counting flows decides.
const maxLinkAddrs = 16

// linkCounts is what InferHosts' first pass learns from the link layer:
// per MAC the flows it is on and the addresses behind it, and the
// addresses the capturing host sent from. Its memory is bounded: MACs are
// at most 255 per capture (the flow table's bound) and each keeps at most
// maxLinkAddrs+1 addresses.
type linkCounts struct {
	macs map[flow.MAC]*macUse
	// flows counts the flows that named any MAC.
	flows int
	// out are the addresses packets marked outgoing came from; nil past
	// maxLinkAddrs (a forwarding host).
	out      []netip.Addr
	outMany  bool
	outFlows int
}

type macUse struct {
	flows int
	addrs []netip.Addr // at most maxLinkAddrs+1: more means many
}

func (l *linkCounts) add(f *flow.Flow) {
	lk := &f.Link
	if lk.IsZero() {
		return
	}
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	if lk.OrigOut || lk.RespOut {
		l.outFlows++
	}
	if lk.OrigOut {
		l.sentFrom(o)
	}
	if lk.RespOut {
		l.sentFrom(r)
	}
	if !lk.OrigMAC.Unicast() && !lk.RespMAC.Unicast() {
		return
	}
	l.flows++
	if l.macs == nil {
		l.macs = map[flow.MAC]*macUse{}
	}
	l.behind(lk.OrigMAC, o, true)
	l.behind(lk.RespMAC, r, lk.RespMAC != lk.OrigMAC) // a flow on one MAC counts once
}

func (l *linkCounts) sentFrom(a netip.Addr) {
	if l.outMany || !candidate(a) || slices.Contains(l.out, a) {
		return
	}
	if len(l.out) == maxLinkAddrs {
		l.out, l.outMany = nil, true
		return
	}
	l.out = append(l.out, a)
}

// behind notes address a behind MAC m, and counts the flow on m when
// countFlow is set.
func (l *linkCounts) behind(m flow.MAC, a netip.Addr, countFlow bool) {
	if !m.Unicast() {
		return
	}
	u := l.macs[m]
	if u == nil {
		u = &macUse{}
		l.macs[m] = u
	}
	if countFlow {
		u.flows++
	}
	if candidate(a) && len(u.addrs) <= maxLinkAddrs && !slices.Contains(u.addrs, a) {
		u.addrs = append(u.addrs, a)
	}
}

// decide returns the gateway's addresses as the link layer gives them,
// and how: the addresses the host sent from (SLL), else every address of
// the local MAC (Ethernet). The local MAC is, among the MACs carrying at
// most maxLinkAddrs addresses, the one on the most flows, if that is at
// least half of the flows that named a MAC (ties: fewer addresses, then
// the MAC of the busiest address by count, then the lower MAC). None
// (ByFlows) when the link layer does not tell.
func (l *linkCounts) decide(busiest [2]netip.Addr) ([]netip.Addr, capture.HostsBy, flow.MAC) {
	if len(l.out) > 0 && !l.outMany {
		return slices.Clone(l.out), capture.ByOutgoing, flow.MAC{}
	}
	var best flow.MAC
	var bu *macUse
	for m, u := range l.macs {
		if len(u.addrs) == 0 || len(u.addrs) > maxLinkAddrs {
			continue
		}
		if bu == nil || betterLocal(m, u, best, bu, busiest) {
			best, bu = m, u
		}
	}
	if bu == nil || bu.flows*2 < l.flows {
		return nil, capture.ByFlows, flow.MAC{}
	}
	return slices.Clone(bu.addrs), capture.ByMAC, best
}

// betterLocal reports whether MAC m (use u) is a likelier local MAC than
// b (use bu).
func betterLocal(m flow.MAC, u *macUse, b flow.MAC, bu *macUse, busiest [2]netip.Addr) bool {
	if u.flows != bu.flows {
		return u.flows > bu.flows
	}
	if len(u.addrs) != len(bu.addrs) {
		return len(u.addrs) < len(bu.addrs)
	}
	carries := func(x *macUse) bool {
		return slices.ContainsFunc(x.addrs, func(a netip.Addr) bool { return a == busiest[0] || a == busiest[1] })
	}
	if cu, cb := carries(u), carries(bu); cu != cb {
		return cu
	}
	return slices.Compare(m[:], b[:]) < 0
}
