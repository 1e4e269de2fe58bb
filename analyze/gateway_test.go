package analyze

import (
	"iter"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestResolveHostsPrecedence: --host, else the site file, else the
// interface, else the sessions, else nothing (the audit infers).
func TestResolveHostsPrecedence(t *testing.T) {
	a := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	site := &catalog.Site{Hosts: a("192.0.2.2")}
	recorded := []SessionInput{{Node: "gw1", Recorded: capture.HostsDecision{Addrs: a("192.0.2.4"), Origin: capture.OriginFlag}}}
	tests := []struct {
		name string
		in   HostsInput
		want capture.HostsDecision
	}{
		{"flag beats all", HostsInput{Flag: a("192.0.2.1"), Site: site, IfaceAddrs: a("192.0.2.3"), Iface: "eth0", Sessions: recorded},
			capture.HostsDecision{Addrs: a("192.0.2.1"), Origin: capture.OriginFlag}},
		{"site beats interface and sessions", HostsInput{Site: site, SiteFile: "s.yaml", IfaceAddrs: a("192.0.2.3"), Sessions: recorded},
			capture.HostsDecision{Addrs: a("192.0.2.2"), Origin: capture.OriginSite, SiteFile: "s.yaml"}},
		{"a site without hosts gives none", HostsInput{Site: &catalog.Site{}, IfaceAddrs: a("192.0.2.3"), Iface: "eth0"},
			capture.HostsDecision{Addrs: a("192.0.2.3"), Origin: capture.OriginInterface, Iface: "eth0"}},
		{"interface beats sessions", HostsInput{IfaceAddrs: a("192.0.2.3"), Iface: "eth0", Sessions: recorded},
			capture.HostsDecision{Addrs: a("192.0.2.3"), Origin: capture.OriginInterface, Iface: "eth0"}},
		{"sessions", HostsInput{Sessions: recorded},
			capture.HostsDecision{Addrs: a("192.0.2.4"), Origin: capture.OriginSessions, Sessions: []capture.SessionHosts{
				{Node: "gw1", Hosts: capture.HostsDecision{Addrs: a("192.0.2.4"), Origin: capture.OriginFlag}}}}},
		{"an interface's link-local and loopback addresses are never the gateway's",
			HostsInput{IfaceAddrs: a("192.0.2.3", "fe80::1", "169.254.1.1", "127.0.0.1", "2001:db8::3"), Iface: "eth0"},
			capture.HostsDecision{Addrs: a("192.0.2.3", "2001:db8::3"), Origin: capture.OriginInterface, Iface: "eth0"}},
		{"an interface with only link-local addresses gives none", HostsInput{IfaceAddrs: a("fe80::1"), Iface: "eth0"},
			capture.HostsDecision{}},
		{"nothing", HostsInput{Iface: "eth0"}, capture.HostsDecision{}},
		{"one session with nothing and no flows", HostsInput{Sessions: []SessionInput{{Node: "gw1"}}}, capture.HostsDecision{}},
	}
	for _, tc := range tests {
		if got := ResolveHosts(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// countingFlows iterates over flows, counting the passes made.
func countingFlows(flows []flow.Flow, passes *int) iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		*passes++
		for i := range flows {
			if !yield(&flows[i]) {
				return
			}
		}
	}
}

// TestResolveHostsSessions: the sessions' union, each session keeping its
// recorded addresses or having its own inferred from its own flows, in
// one read of them; one session that recorded none is the audit's own
// inference.
func TestResolveHostsSessions(t *testing.T) {
	gw1 := gatewayFlows("192.0.2.10", 3)
	gw2 := gatewayFlows("192.0.2.11", 3)
	given := capture.HostsDecision{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}, Origin: capture.OriginFlag}
	var p1, p2 int
	tests := []struct {
		name     string
		sessions []SessionInput
		addrs    string
		how      string
		inferred bool
		warnings []string
	}{
		{"both inferred", []SessionInput{{Node: "gw1", Flows: countingFlows(gw1, &p1)}, {Node: "gw2", Flows: countingFlows(gw2, &p2)}},
			"192.0.2.10, 192.0.2.11",
			"sessions: gw1 192.0.2.10 (inferred from its own flows: 192.0.2.10 in 3 of 3 IPv4 flows); gw2 192.0.2.11 (inferred from its own flows: 192.0.2.11 in 3 of 3 IPv4 flows)",
			true, []string{"gateway addresses of gw1 were inferred from its own flows (192.0.2.10): give --host or a site file to be sure",
				"gateway addresses of gw2 were inferred from its own flows (192.0.2.11): give --host or a site file to be sure"}},
		{"mixed", []SessionInput{{Node: "gw1", Recorded: given}, {Node: "gw2", Flows: countingFlows(gw2, &p2)}},
			"192.0.2.10, 192.0.2.11, 2001:db8::10",
			"sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw2 192.0.2.11 (inferred from its own flows: 192.0.2.11 in 3 of 3 IPv4 flows)",
			true, []string{"gateway addresses of gw2 were inferred from its own flows (192.0.2.11): give --host or a site file to be sure"}},
		{"same node twice", []SessionInput{{Node: "gw1", Recorded: given}, {Node: "gw1", Recorded: given}},
			"192.0.2.10, 2001:db8::10", "sessions: gw1 192.0.2.10, 2001:db8::10 (--host)", false, nil},
		{"nothing to infer from", []SessionInput{{Node: "gw1", Recorded: given}, {Node: "gw3", Flows: countingFlows(nil, &p2)}},
			"192.0.2.10, 2001:db8::10", "sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw3 none (inferred from its own flows: no candidate address)",
			true, []string{"gateway addresses of gw3 were inferred from its own flows (none found): give --host or a site file to be sure"}},
		{"one session", []SessionInput{{Node: "gw1", Recorded: given}}, "192.0.2.10, 2001:db8::10", "session: --host", false, nil},
		{"one session, inferred", []SessionInput{{Node: "gw1", Flows: countingFlows(gw1, &p1)}}, "192.0.2.10",
			"inferred from the traffic (the address taking part in most flows): 192.0.2.10 in 3 of 3 IPv4 flows", true, nil},
		{"recorded without origin", []SessionInput{{Node: "gw1", Recorded: given}, {Node: "gw2",
			Recorded: capture.HostsDecision{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.11")}, Origin: capture.OriginRecorded}}},
			"192.0.2.10, 192.0.2.11, 2001:db8::10", "sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw2 192.0.2.11 (recorded in the session)", false, nil},
	}
	for _, tc := range tests {
		p1, p2 = 0, 0
		d := ResolveHosts(HostsInput{Sessions: tc.sessions})
		var addrs []string
		for _, a := range d.Addrs {
			addrs = append(addrs, a.String())
		}
		if got := strings.Join(addrs, ", "); got != tc.addrs || HostsHow(&d, HowReport) != tc.how || d.Inferred() != tc.inferred {
			t.Errorf("%s: %s %q inferred %v\nwant %s %q %v", tc.name, got, HostsHow(&d, HowReport), d.Inferred(), tc.addrs, tc.how, tc.inferred)
		}
		if ws := sessionWarnings(&d); !reflect.DeepEqual(ws, tc.warnings) {
			t.Errorf("%s: warnings %q, want %q", tc.name, ws, tc.warnings)
		}
		if p1 > 1 || p2 > 1 {
			t.Errorf("%s: flows read %d and %d times, want once", tc.name, p1, p2)
		}
	}
}

func gatewayFlows(gw string, n int) []flow.Flow {
	var out []flow.Flow
	for i := range n {
		out = append(out, fl(tcp, gw+":40000", "203.0.113."+string(rune('1'+i))+":25", flow.Established))
	}
	return out
}

// TestHostsHow: the words of every origin, in both voices, as the JSON
// report's hosts.how has always said them (golden reports hold them).
func TestHostsHow(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8:a::10")
	inf := capture.HostsDecision{Addrs: []netip.Addr{a4, a6}, Origin: capture.OriginInferred, Inference: &capture.HostsInference{
		Chosen: []capture.HostCount{{Addr: a4, Flows: 19, FamilyFlows: 19}, {Addr: a6, Flows: 7, FamilyFlows: 7}}}}
	guess := capture.HostsDecision{Addrs: []netip.Addr{a4}, Origin: capture.OriginInferred, Inference: &capture.HostsInference{
		Guess: true, Chosen: []capture.HostCount{{Addr: a4, Flows: 2, FamilyFlows: 5}}}}
	none := capture.HostsDecision{Origin: capture.OriginInferred, Inference: &capture.HostsInference{}}
	tests := []struct {
		d             capture.HostsDecision
		report, short string
	}{
		{capture.HostsDecision{Origin: capture.OriginFlag}, "given with --host", "--host"},
		{capture.HostsDecision{Origin: capture.OriginSite, SiteFile: "site.yaml"}, "from the site file", "site file site.yaml"},
		{capture.HostsDecision{Origin: capture.OriginSite}, "from the site file", "site file"},
		{capture.HostsDecision{Origin: capture.OriginInterface, Iface: "eth0"}, "interface eth0 addresses", "interface eth0 addresses"},
		{inf, "inferred from the traffic (the address taking part in most flows): 192.0.2.10 in 19 of 19 IPv4 flows; 2001:db8:a::10 in 7 of 7 IPv6 flows",
			"inferred from its own flows: 192.0.2.10 in 19 of 19 IPv4 flows, 2001:db8:a::10 in 7 of 7 IPv6 flows"},
		{guess, "inferred from the traffic (the address taking part in most flows): 192.0.2.10 in 2 of 5 IPv4 flows (a guess: no address takes part in half of its family's flows)",
			"inferred from its own flows: 192.0.2.10 in 2 of 5 IPv4 flows (a guess: no address takes part in half of its family's flows)"},
		{none, "inferred from the traffic: no candidate address", "inferred from its own flows: no candidate address"},
		{capture.HostsDecision{Origin: capture.OriginInferred, Note: "by an old tool"}, "inferred from the traffic: by an old tool", "inferred from its own flows: by an old tool"},
		{capture.HostsDecision{Origin: capture.OriginRecorded, Note: "hand-made"}, "hand-made", "hand-made"},
		{capture.HostsDecision{Origin: capture.OriginRecorded}, "recorded in the session", "recorded in the session"},
		{capture.HostsDecision{}, "", ""},
	}
	for _, tc := range tests {
		if got := HostsHow(&tc.d, HowReport); got != tc.report {
			t.Errorf("%+v: report %q, want %q", tc.d, got, tc.report)
		}
		if got := HostsHow(&tc.d, HowShort); got != tc.short {
			t.Errorf("%+v: short %q, want %q", tc.d, got, tc.short)
		}
	}
}

// TestInferHostsPasses: InferHosts reads the flows once while it can
// count every address, and past maxExact distinct addresses reads them
// again to count its candidates, with the same result.
func TestInferHostsPasses(t *testing.T) {
	var flows []flow.Flow
	for i := range maxExact + 100 { // that many distinct peers
		peer := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		f := fl(tcp, "192.0.2.10:40000", "203.0.113.1:25", flow.Established)
		f.Resp = netip.AddrPortFrom(peer, 25)
		flows = append(flows, f)
	}
	for _, n := range []int{1000, len(flows)} {
		passes := 0
		d := InferHosts(countingFlows(flows[:n], &passes))
		want := 1
		if n > maxExact {
			want = 2
		}
		if passes != want || HostsHow(&d, HowReport) != "inferred from the traffic (the address taking part in most flows): 192.0.2.10 in "+
			strconv.Itoa(n)+" of "+strconv.Itoa(n)+" IPv4 flows" {
			t.Errorf("%d flows: %d passes (want %d), %q", n, passes, want, HostsHow(&d, HowReport))
		}
	}
}
