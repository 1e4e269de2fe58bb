package analyze

import (
	"net/netip"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestOneWayRequirement: for a UDP requirement that expects no reply (SNMP
// traps, a broadcast), a datagram sent without one is the exchange working;
// an ICMP error still blocks it, and an ordinary UDP requirement still
// calls the same flow "no reply".
func TestOneWayRequirement(t *testing.T) {
	const mgr = "198.51.100.50:162"
	trap := req("traps-out", catalog.Out, catalog.UDP, port(162))
	trap.OneWay = true
	plain := req("traps-out", catalog.Out, catalog.UDP, port(162))
	for _, tc := range []struct {
		name   string
		r      catalog.Requirement
		flows  []flow.Flow
		status Status
		reason Reason
	}{
		{"one-way, sent", trap, []flow.Flow{fl(udp, gw4+":40000", mgr, flow.Unanswered), fl(udp, gw4+":40001", mgr, flow.Unanswered)}, OK, ""},
		{"one-way, port unreachable", trap, []flow.Flow{fl(udp, gw4+":40000", mgr, flow.Unreachable, icmpErr("port-unreachable", "198.51.100.50"))}, Blocked, ReasonPortUnreachable},
		{"one-way, admin-prohibited once", trap, []flow.Flow{fl(udp, gw4+":40000", mgr, flow.Unanswered),
			fl(udp, gw4+":40001", mgr, flow.Unreachable, icmpErr("admin-prohibited", "192.0.2.1"))}, Partial, ReasonAdminProhibited},
		{"ordinary UDP, no reply", plain, []flow.Flow{fl(udp, gw4+":40000", mgr, flow.Unanswered)}, Blocked, ReasonNoReply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Audit(&capture.Result{Flows: tc.flows, Stats: capture.Stats{End: tEnd}},
				Options{Products: []*catalog.Product{product("p", tc.r)}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
			if err != nil {
				t.Fatal(err)
			}
			r := findReq(t, rep, "traps-out")
			if r.Status != tc.status || r.Reason != tc.reason || r.OneWay != tc.r.OneWay {
				t.Errorf("status %s reason %q oneway %v; want %s %q %v", r.Status, r.Reason, r.OneWay, tc.status, tc.reason, tc.r.OneWay)
			}
		})
	}
}
