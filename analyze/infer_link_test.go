package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

var (
	macGW     = flow.MAC{0x02, 0, 0, 0, 0, 0x10}
	macRouter = flow.MAC{0x02, 0, 0, 0, 0, 0x01}
	macLAN    = flow.MAC{0x02, 0, 0, 0, 0, 0x20}
)

// eth sets the flow's link: the originator's frames from om, the
// responder's from rm.
func eth(om, rm flow.MAC) func(*flow.Flow) {
	return func(f *flow.Flow) { f.Link = flow.Link{OrigMAC: om, RespMAC: rm} }
}

func sllOut(orig, resp bool) func(*flow.Flow) {
	return func(f *flow.Flow) { f.Link = flow.Link{OrigOut: orig, RespOut: resp} }
}

// twoAddrGateway is a gateway sending mail from 192.0.2.10 (busy:
// outbound SMTP to 30 servers, DNS) and receiving it on 192.0.2.11 and
// 2001:db8::11 (quiet: 4 inbound connections), all on one MAC, behind a
// router whose MAC carries every remote address; one LAN host on its own
// MAC. mod sets each flow's link from its local and remote MACs.
func twoAddrGateway(link func(out bool) func(*flow.Flow)) []flow.Flow {
	var fs []flow.Flow
	for i := range 30 {
		fs = append(fs, fl(6, gw4+":40000", fmt.Sprintf("198.51.100.%d:25", i+1), flow.Established, link(true)))
	}
	for i := range 6 {
		fs = append(fs, fl(17, gw4+":5353", "198.51.100.53:53", flow.Established, link(true), at(i)))
	}
	for i := range 3 {
		fs = append(fs, fl(6, fmt.Sprintf("203.0.113.%d:50000", i+1), "192.0.2.11:25", flow.Established, link(false)))
	}
	fs = append(fs, fl(6, "[2001:db8:5::7]:50000", "[2001:db8::11]:443", flow.Established, link(false)))
	// A link-local neighbour exchange is never the gateway's address.
	fs = append(fs, fl(17, "[fe80::10]:546", "[fe80::1]:547", flow.Established, link(true)))
	return fs
}

func TestInferHostsFromLinkLayer(t *testing.T) {
	ethLink := func(out bool) func(*flow.Flow) {
		if out {
			return eth(macGW, macRouter)
		}
		return eth(macRouter, macGW)
	}
	sllLink := func(out bool) func(*flow.Flow) { return sllOut(out, !out) }
	raw := func(bool) func(*flow.Flow) { return func(*flow.Flow) {} }
	all := []string{"192.0.2.10", "192.0.2.11", "2001:db8::11"}
	cases := []struct {
		name  string
		flows []flow.Flow
		want  []string
		by    capture.HostsBy
		how   string
	}{
		{"ethernet: every address of the gateway's MAC", twoAddrGateway(ethLink), all, capture.ByMAC,
			"inferred from the traffic (link layer: source MAC 02:00:00:00:00:10): 192.0.2.10 in 36 of 39 IPv4 flows; " +
				"192.0.2.11 in 3 of 39 IPv4 flows; 2001:db8::11 in 1 of 1 IPv6 flows"},
		{"sll: every address the host sent from", twoAddrGateway(sllLink), all, capture.ByOutgoing,
			"inferred from the traffic (link layer: outgoing (SLL)): 192.0.2.10 in 36 of 39 IPv4 flows; " +
				"192.0.2.11 in 3 of 39 IPv4 flows; 2001:db8::11 in 1 of 1 IPv6 flows"},
		{"raw ip: the busiest address per family", twoAddrGateway(raw), []string{"192.0.2.10", "2001:db8::11"}, capture.ByFlows,
			"inferred from the traffic (the address taking part in most flows): 192.0.2.10 in 36 of 39 IPv4 flows; 2001:db8::11 in 1 of 1 IPv6 flows"},
		{"a LAN host on its own MAC does not count", append(twoAddrGateway(ethLink),
			fl(17, gw4+":123", "192.0.2.1:123", flow.Established, eth(macGW, macLAN))), all, capture.ByMAC, ""},
		{"the router's MAC is not the gateway's even when it is on as many flows", routerTie(), []string{"192.0.2.10"}, capture.ByMAC, ""},
		{"a forwarding host (outgoing from many addresses) falls back", forwarding(), []string{"192.0.2.10"}, capture.ByFlows, ""},
		{"no MAC on half the flows falls back", splitMACs(), []string{"192.0.2.10"}, capture.ByFlows, ""},
	}
	for _, c := range cases {
		d := InferHosts(flowsOf(c.flows))
		var got []string
		for _, a := range d.Addrs {
			got = append(got, a.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v (%s)", c.name, got, c.want, HostsHow(&d, HowReport))
			continue
		}
		for _, ch := range d.Inference.Chosen {
			if ch.By != c.by || (ch.By == capture.ByMAC) != (ch.MAC == macGW) {
				t.Errorf("%s: %s found by %v (MAC %v), want %v", c.name, ch.Addr, ch.By, ch.MAC, c.by)
			}
		}
		if c.how != "" && HostsHow(&d, HowReport) != c.how {
			t.Errorf("%s: how\n%s\nwant\n%s", c.name, HostsHow(&d, HowReport), c.how)
		}
		if found := HostsFound(&d); len(found) != len(got) || found[0].How != foundHow(d.Inference.Chosen[0]) {
			t.Errorf("%s: found %v", c.name, found)
		}
	}
	// Addresses found in different ways each say their own.
	d := capture.HostsDecision{Origin: capture.OriginInferred, Inference: &capture.HostsInference{Chosen: []capture.HostCount{
		{Addr: netip.MustParseAddr("192.0.2.10"), Flows: 3, FamilyFlows: 4, By: capture.ByMAC, MAC: macGW},
		{Addr: netip.MustParseAddr("2001:db8::10"), Flows: 1, FamilyFlows: 1}}}}
	want := "inferred from the traffic: 192.0.2.10 (link layer: source MAC 02:00:00:00:00:10) in 3 of 4 IPv4 flows; " +
		"2001:db8::10 (most flows) in 1 of 1 IPv6 flows"
	if got := HostsHow(&d, HowReport); got != want {
		t.Errorf("mixed ways: %s\nwant %s", got, want)
	}
}

// routerTie: every flow is between the gateway's MAC and the router's,
// and the router carries only two remote addresses: as few as the
// gateway's one. The MAC of the busiest address wins.
func routerTie() []flow.Flow {
	var fs []flow.Flow
	for i := range 5 {
		fs = append(fs, fl(6, gw4+":40000", "198.51.100.1:25", flow.Established, eth(macGW, macRouter), at(i)))
	}
	fs = append(fs, fl(6, gw4+":40000", "198.51.100.2:25", flow.Established, eth(macGW, macRouter)))
	return fs
}

// forwarding: an SLL capture on a host that routes: packets "outgoing"
// from twenty addresses.
func forwarding() []flow.Flow {
	var fs []flow.Flow
	for i := range 20 {
		fs = append(fs, fl(6, fmt.Sprintf("203.0.113.%d:50000", i+1), fmt.Sprintf("198.51.100.%d:25", i+1), flow.Established, sllOut(true, false)))
	}
	for i := range 30 {
		fs = append(fs, fl(6, gw4+":40000", fmt.Sprintf("198.51.100.%d:25", i+100), flow.Established, sllOut(true, false)))
	}
	return fs
}

// splitMACs: no MAC is on half the flows that name one (a capture on a
// mirror port of a segment where three pairs of hosts talk).
func splitMACs() []flow.Flow {
	var fs []flow.Flow
	for i := range 10 {
		fs = append(fs, fl(6, gw4+":40000", fmt.Sprintf("198.51.100.%d:25", i+1), flow.Established, eth(macGW, macRouter)))
	}
	for pair := range 2 {
		a, b := flow.MAC{0x02, 1, 0, 0, 0, byte(pair)}, flow.MAC{0x02, 2, 0, 0, 0, byte(pair)}
		for i := range 9 {
			fs = append(fs, fl(6, fmt.Sprintf("203.0.113.%d:50000", pair+1), fmt.Sprintf("203.0.113.%d:80", 10*pair+i+100), flow.Established, eth(a, b)))
		}
	}
	return fs
}
