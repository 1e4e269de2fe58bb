package analyze

import (
	"net/netip"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestOneRequirementPerFlow (issue 12): a flow counts for the most
// specific applicable requirement of each product that allows it (a peer
// narrower than any, then the narrower port range, then catalog order),
// and for a not-applicable one only when no applicable one allows it.
func TestOneRequirementPerFlow(t *testing.T) {
	zone := catalog.Peer{Kind: catalog.PeerZone, Value: "support"}
	unconf := catalog.Peer{Kind: catalog.PeerZone, Value: "nowhere"}
	name := catalog.Peer{Kind: catalog.PeerHost, Value: "*.example.net"}
	off := func(r catalog.Requirement) catalog.Requirement {
		r.Condition = &catalog.Condition{Feature: "cluster"}
		return r
	}
	wide := []catalog.PortRange{{1024, 65535}}
	sshIn := fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Established)
	ircOut := fl(tcp, gw4+":40000", "203.0.113.66:6667", flow.Established, respNames("irc.example.net"))
	tests := []struct {
		name  string
		reqs  []catalog.Requirement
		flow  flow.Flow
		flows map[string]int // flows per requirement; the others have none
		unexp int
	}{
		{"zone beats any", []catalog.Requirement{req("any", catalog.In, catalog.TCP, port(22)), req("zone", catalog.In, catalog.TCP, port(22), zone)},
			sshIn, map[string]int{"zone": 1}, 0},
		{"host beats any", []catalog.Requirement{req("any", catalog.Out, catalog.TCP, port(6667)), req("host", catalog.Out, catalog.TCP, port(6667), name)},
			ircOut, map[string]int{"host": 1}, 0},
		{"narrower port range", []catalog.Requirement{req("wide", catalog.Out, catalog.TCP, wide), req("irc", catalog.Out, catalog.TCP, port(6667))},
			ircOut, map[string]int{"irc": 1}, 0},
		{"peer before ports", []catalog.Requirement{req("port", catalog.Out, catalog.TCP, port(6667)), req("wide-host", catalog.Out, catalog.TCP, wide, name)},
			ircOut, map[string]int{"wide-host": 1}, 0},
		{"tie: catalog order", []catalog.Requirement{req("first", catalog.In, catalog.TCP, port(22)), req("second", catalog.In, catalog.TCP, port(22))},
			sshIn, map[string]int{"first": 1}, 0},
		{"unconfigured zone is any", []catalog.Requirement{req("unconf", catalog.In, catalog.TCP, port(22), unconf), req("any", catalog.In, catalog.TCP, port(22))},
			sshIn, map[string]int{"unconf": 1}, 0},
		{"applicable before a more specific not-applicable", []catalog.Requirement{off(req("cluster", catalog.In, catalog.TCP, port(22), zone)), req("ssh", catalog.In, catalog.TCP, port(22))},
			sshIn, map[string]int{"ssh": 1}, 0},
		{"one not-applicable when none applies", []catalog.Requirement{off(req("sync", catalog.In, catalog.TCP, port(22))), off(req("premium", catalog.In, catalog.TCP, port(22), zone))},
			sshIn, map[string]int{"premium": 1}, 1},
		{"peer not allowed", []catalog.Requirement{req("zone", catalog.In, catalog.TCP, port(22), zone)},
			fl(tcp, "203.0.113.9:50000", gw4+":22", flow.Established), map[string]int{}, 1},
	}
	site := &catalog.Site{Hosts: []netip.Addr{netip.MustParseAddr(gw4)},
		Zones: map[string][]netip.Prefix{"support": {netip.MustParsePrefix("198.51.100.0/24")}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := audit(t, []flow.Flow{tc.flow}, Options{Products: []*catalog.Product{product("p", tc.reqs...)}, Site: site})
			for _, r := range rep.Requirements {
				if r.Counts.Flows != tc.flows[r.ID] {
					t.Errorf("%s (%s): %d flows, want %d", r.ID, r.Status, r.Counts.Flows, tc.flows[r.ID])
				}
			}
			if len(rep.Unexpected) != tc.unexp || rep.Summary.Matched != 1-tc.unexp {
				t.Errorf("unexpected %+v, summary %+v", rep.Unexpected, rep.Summary)
			}
		})
	}
}

// TestOneRequirementPerSideAndProduct: each product audited counts the
// flow for its own requirement, and a flow between two gateway addresses
// counts once on each side (the outbound flow of one, the inbound of the
// other).
func TestOneRequirementPerSideAndProduct(t *testing.T) {
	a := product("a", req("a-dns", catalog.Out, catalog.UDP, port(53)), req("a-dns-wide", catalog.Out, catalog.UDP, []catalog.PortRange{{1, 1023}}))
	b := product("b", req("b-dns", catalog.Out, catalog.UDP, port(53)))
	rep := audit(t, []flow.Flow{fl(udp, gw4+":5353", "203.0.113.53:53", flow.Established)}, Options{Products: []*catalog.Product{a, b}})
	for id, want := range map[string]int{"a-dns": 1, "a-dns-wide": 0, "b-dns": 1} {
		if got := findReq(t, rep, id).Counts.Flows; got != want {
			t.Errorf("%s: %d flows, want %d", id, got, want)
		}
	}
	sync := product("c", req("sync-out", catalog.Out, catalog.TCP, port(22)), req("sync-in", catalog.In, catalog.TCP, port(22)))
	gw2 := "192.0.2.11"
	rep = audit(t, []flow.Flow{fl(tcp, gw4+":40000", gw2+":22", flow.Established)},
		Options{Products: []*catalog.Product{sync}, Hosts: []netip.Addr{netip.MustParseAddr(gw4), netip.MustParseAddr(gw2)}})
	for _, id := range []string{"sync-out", "sync-in"} {
		if r := findReq(t, rep, id); r.Status != OK || r.Counts.Flows != 1 {
			t.Errorf("%s: %s, %d flows", id, r.Status, r.Counts.Flows)
		}
	}
}

// TestOtherPeerFlowsOnlyUnexpected: other_peer_flows counts flows listed
// as unexpected, not flows another requirement allowed.
func TestOtherPeerFlowsOnlyUnexpected(t *testing.T) {
	zone := catalog.Peer{Kind: catalog.PeerZone, Value: "support"}
	p := product("p", req("vendor", catalog.In, catalog.TCP, port(22), zone), req("admin", catalog.In, catalog.TCP, port(22), catalog.Peer{Kind: catalog.PeerIP, Value: "203.0.113.0/28"}))
	site := &catalog.Site{Hosts: []netip.Addr{netip.MustParseAddr(gw4)},
		Zones: map[string][]netip.Prefix{"support": {netip.MustParsePrefix("198.51.100.0/24")}}}
	rep := audit(t, []flow.Flow{
		fl(tcp, "203.0.113.5:50000", gw4+":22", flow.Established),  // admin
		fl(tcp, "203.0.113.99:50000", gw4+":22", flow.Established), // neither
	}, Options{Products: []*catalog.Product{p}, Site: site})
	if v, a := findReq(t, rep, "vendor"), findReq(t, rep, "admin"); v.OtherPeerFlows != 1 || a.OtherPeerFlows != 1 || a.Counts.Flows != 1 {
		t.Errorf("vendor other-peer %d, admin other-peer %d flows %d; want 1, 1, 1", v.OtherPeerFlows, a.OtherPeerFlows, a.Counts.Flows)
	}
}
