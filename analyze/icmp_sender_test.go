package analyze

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestPortUnreachableSender: an ICMP port unreachable sent by a host other
// than the server (a firewall's plain reject) says so in the reason's
// detail; one sent by the server itself (a closed port) does not.
func TestPortUnreachableSender(t *testing.T) {
	const dcc = "198.51.100.62:6277"
	for _, tc := range []struct {
		name, from string
		detail     []string
	}{
		{"from the server", "198.51.100.62", nil},
		{"from a firewall", "192.0.2.1", []string{"sent by 192.0.2.1, not the server: a firewall rejects it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flows := []flow.Flow{fl(udp, gw4+":40000", dcc, flow.Unreachable, icmpErr("port-unreachable", tc.from))}
			rep, err := Audit(&capture.Result{Flows: flows, Stats: capture.Stats{End: tEnd}},
				Options{Products: []*catalog.Product{product("p", req("dcc-out", catalog.Out, catalog.UDP, port(6277)))},
					Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
			if err != nil {
				t.Fatal(err)
			}
			r := findReq(t, rep, "dcc-out")
			if r.Status != Blocked || r.Reason != ReasonPortUnreachable || len(r.Reasons) != 1 || !slices.Equal(r.Reasons[0].Detail, tc.detail) {
				t.Errorf("status %s reason %s reasons %+v; want blocked, port-unreachable, detail %v", r.Status, r.Reason, r.Reasons, tc.detail)
			}
		})
	}
}

// TestHandshakeIncomplete: an inbound SYN the gateway answered with a
// SYN-ACK that never got acknowledged is a failure with its own reason,
// not "dropped silently" and not ok.
func TestHandshakeIncomplete(t *testing.T) {
	f := fl(tcp, "203.0.113.77:50000", gw4+":25", flow.Unanswered, func(f *flow.Flow) { f.RespPkts = 3 })
	rep, err := Audit(&capture.Result{Flows: []flow.Flow{f}, Stats: capture.Stats{End: tEnd}},
		Options{Products: []*catalog.Product{product("p", req("smtp-in", catalog.In, catalog.TCP, port(25)))},
			Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
	if err != nil {
		t.Fatal(err)
	}
	if r := findReq(t, rep, "smtp-in"); r.Status != Blocked || r.Reason != ReasonHandshakeIncomplete {
		t.Errorf("status %s reason %s, want blocked %s", r.Status, r.Reason, ReasonHandshakeIncomplete)
	}
}
