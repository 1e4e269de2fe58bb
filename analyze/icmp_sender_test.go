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

// TestHandshakeIncomplete: a SYN answered with a SYN-ACK that never got
// acknowledged is a failure with its own reason, not "dropped silently"
// and not ok: outbound, and inbound from a source a site zone names.
// Inbound from anyone else it is backscatter (a spoofed SYN): noise, not
// judged, and the never-seen requirement gets a warning saying so.
func TestHandshakeIncomplete(t *testing.T) {
	site := &catalog.Site{Hosts: []netip.Addr{netip.MustParseAddr(gw4)},
		Zones: map[string][]netip.Prefix{"partners": {netip.MustParsePrefix("198.51.100.0/24")}}}
	prod := product("p", req("smtp-in", catalog.In, catalog.TCP, port(25)), req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	for _, tc := range []struct {
		name, orig, resp, id string
		status               Status
		noise                int
	}{
		{"outbound", gw4 + ":50000", "203.0.113.77:25", "smtp-out", Blocked, 0},
		{"inbound from a zone", "198.51.100.77:50000", gw4 + ":25", "smtp-in", Blocked, 0},
		{"inbound from anyone: backscatter", "203.0.113.77:50000", gw4 + ":25", "smtp-in", NeverSeen, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fl(tcp, tc.orig, tc.resp, flow.Unanswered, func(f *flow.Flow) { f.RespPkts = 3 })
			rep, err := Audit(&capture.Result{Flows: []flow.Flow{f}, Stats: capture.Stats{End: tEnd}},
				Options{Products: []*catalog.Product{prod}, Site: site})
			if err != nil {
				t.Fatal(err)
			}
			r := findReq(t, rep, tc.id)
			if r.Status != tc.status || r.NoiseFlows != tc.noise || rep.Summary.Noise != tc.noise {
				t.Errorf("status %s, %d noise flows (report %d); want %s, %d", r.Status, r.NoiseFlows, rep.Summary.Noise, tc.status, tc.noise)
			}
			if tc.status == Blocked && r.Reason != ReasonHandshakeIncomplete {
				t.Errorf("reason %s, want %s", r.Reason, ReasonHandshakeIncomplete)
			}
			if tc.noise > 0 && (rep.Noise == nil || rep.Noise.Backscatter != (NoiseKind{Sources: 1, Flows: 1}) ||
				!hasWarning(rep, "smtp-in is never-seen, but the gateway answered 1 inbound SYN(s)")) {
				t.Errorf("noise %+v warnings %q; want 1 backscatter flow from 1 source and a warning", rep.Noise, rep.Warnings)
			}
		})
	}
}
