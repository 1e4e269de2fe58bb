package analyze

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/text"
)

const (
	tcp  = flow.ProtoTCP
	udp  = flow.ProtoUDP
	icmp = flow.ProtoICMP
)

func TestStatusAndReason(t *testing.T) {
	smtpOut := req("smtp-out", catalog.Out, catalog.TCP, port(25))
	smtpIn := req("smtp-in", catalog.In, catalog.TCP, port(25))
	dnsUDP := req("dns-udp", catalog.Out, catalog.UDP, port(53))
	snmpIn := req("snmp-in", catalog.In, catalog.UDP, port(161))
	ping := req("icmp-out", catalog.Out, catalog.ICMP, nil)
	tests := []struct {
		name       string
		req        catalog.Requirement
		flows      []flow.Flow
		status     Status
		reason     Reason
		attempts   int
		detailWant string
	}{
		{"no flows", smtpOut, nil, NeverSeen, "", 0, ""},
		{"established", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established)}, OK, "", 1, ""},
		{"unanswered tcp", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Unanswered)}, Blocked, ReasonUnanswered, 1, ""},
		{"rst outbound", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Rejected)}, Blocked, ReasonRejected, 1, ""},
		{"rst inbound is the gateway", smtpIn, []flow.Flow{fl(tcp, "203.0.113.5:40000", gw4+":25", flow.Rejected)}, Blocked, ReasonRefusedByGateway, 1, ""},
		{"admin prohibited", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Unreachable, icmpErr("admin-prohibited", "198.51.100.1"))}, Blocked, ReasonAdminProhibited, 1, ""},
		{"host unreachable", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Unreachable, icmpErr("host-unreachable", "198.51.100.1"))}, Blocked, ReasonHostUnreachable, 1, ""},
		{"net unreachable", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Unreachable, icmpErr("net-unreachable", "198.51.100.1"))}, Blocked, ReasonNetUnreachable, 1, ""},
		{"other icmp error keeps detail", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Unreachable, icmpErr("ttl-exceeded", "198.51.100.1"))}, Blocked, ReasonUnreachable, 1, "ttl-exceeded"},
		{"udp without reply", dnsUDP, []flow.Flow{fl(udp, gw4+":5353", "203.0.113.53:53", flow.Unanswered)}, Blocked, ReasonNoReply, 1, ""},
		{"udp port unreachable from peer", dnsUDP, []flow.Flow{fl(udp, gw4+":5353", "203.0.113.53:53", flow.Unreachable, icmpErr("port-unreachable", "203.0.113.53"))}, Blocked, ReasonPortUnreachable, 1, ""},
		{"udp inbound port unreachable from gateway", snmpIn, []flow.Flow{fl(udp, "203.0.113.9:5000", gw4+":161", flow.Unreachable, icmpErr("port-unreachable", gw4))}, Blocked, ReasonPortUnreachable, 1, ""},
		{"partial", smtpOut, []flow.Flow{
			fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established),
			fl(tcp, gw4+":40001", "203.0.113.6:25", flow.Unanswered),
		}, Partial, ReasonUnanswered, 2, ""},
		{"most frequent reason wins", smtpOut, []flow.Flow{
			fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Rejected),
			fl(tcp, gw4+":40001", "203.0.113.6:25", flow.Unanswered),
			fl(tcp, gw4+":40002", "203.0.113.7:25", flow.Unanswered),
		}, Blocked, ReasonUnanswered, 3, ""},
		{"tie goes to the more specific reason", smtpOut, []flow.Flow{
			fl(tcp, gw4+":40001", "203.0.113.6:25", flow.Unanswered),
			fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Rejected),
		}, Blocked, ReasonRejected, 2, ""},
		{"responder-only flow is no attempt", smtpOut, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Unknown)}, NeverSeen, "", 0, ""},
		{"wrong direction does not count", smtpOut, []flow.Flow{fl(tcp, "203.0.113.5:40000", gw4+":25", flow.Established)}, NeverSeen, "", 0, ""},
		{"wrong protocol does not count", smtpOut, []flow.Flow{fl(udp, gw4+":40000", "203.0.113.5:25", flow.Established)}, NeverSeen, "", 0, ""},
		{"client port does not count", smtpOut, []flow.Flow{fl(tcp, gw4+":25", "203.0.113.5:40000", flow.Established)}, NeverSeen, "", 0, ""},
		{"icmp echo", ping, []flow.Flow{fl(icmp, gw4+":8", "203.0.113.5:0", flow.Established)}, OK, "", 1, ""},
		{"icmp echo unanswered", ping, []flow.Flow{fl(icmp, gw4+":8", "203.0.113.5:0", flow.Unanswered)}, Blocked, ReasonUnanswered, 1, ""},
		{"icmp non-echo is no evidence", ping, []flow.Flow{fl(icmp, gw4+":11", "203.0.113.5:0", flow.Unanswered)}, NeverSeen, "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := audit(t, tc.flows, Options{Products: []*catalog.Product{product("p", tc.req)}})
			r := findReq(t, rep, tc.req.ID)
			if r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("status %s reason %q, want %s %q (counts %+v)", r.Status, r.Reason, tc.status, tc.reason, r.Counts)
			}
			if r.Counts.Attempts != tc.attempts {
				t.Errorf("attempts %d, want %d", r.Counts.Attempts, tc.attempts)
			}
			if tc.reason != "" && r.ReasonText != tc.reason.Text() {
				t.Errorf("reason text %q", r.ReasonText)
			}
			if tc.detailWant != "" && (len(r.Reasons) == 0 || !slices.Contains(r.Reasons[0].Detail, tc.detailWant)) {
				t.Errorf("reasons %+v lack detail %q", r.Reasons, tc.detailWant)
			}
			if tc.status == OK && len(rep.Unexpected) != 0 {
				t.Errorf("unexpected %+v", rep.Unexpected)
			}
		})
	}
}

func TestPeerMatching(t *testing.T) {
	site := &catalog.Site{
		Hosts: []netip.Addr{netip.MustParseAddr(gw4)},
		Zones: map[string][]netip.Prefix{"support": {netip.MustParsePrefix("198.51.100.0/24")}},
	}
	out := gw4 + ":40000"
	tests := []struct {
		name  string
		peer  catalog.Peer
		flow  flow.Flow
		match bool
	}{
		{"any", catalog.Peer{Kind: catalog.PeerAny}, fl(tcp, out, "203.0.113.5:22", flow.Established), true},
		{"zone in", catalog.Peer{Kind: catalog.PeerZone, Value: "support"}, fl(tcp, out, "198.51.100.7:22", flow.Established), true},
		{"zone out", catalog.Peer{Kind: catalog.PeerZone, Value: "support"}, fl(tcp, out, "203.0.113.5:22", flow.Established), false},
		{"unconfigured zone matches anyone", catalog.Peer{Kind: catalog.PeerZone, Value: "cluster"}, fl(tcp, out, "203.0.113.5:22", flow.Established), true},
		{"ip", catalog.Peer{Kind: catalog.PeerIP, Value: "203.0.113.5"}, fl(tcp, out, "203.0.113.5:22", flow.Established), true},
		{"ip other", catalog.Peer{Kind: catalog.PeerIP, Value: "203.0.113.5"}, fl(tcp, out, "203.0.113.6:22", flow.Established), false},
		{"cidr", catalog.Peer{Kind: catalog.PeerIP, Value: "203.0.113.0/28"}, fl(tcp, out, "203.0.113.6:22", flow.Established), true},
		{"host exact", catalog.Peer{Kind: catalog.PeerHost, Value: "update.example.com"}, fl(tcp, out, "203.0.113.6:22", flow.Established, respNames("Update.Example.com.")), true},
		{"host wildcard", catalog.Peer{Kind: catalog.PeerHost, Value: "*.example.com"}, fl(tcp, out, "203.0.113.6:22", flow.Established, respNames("a.b.example.com")), true},
		{"wildcard excludes apex", catalog.Peer{Kind: catalog.PeerHost, Value: "*.example.com"}, fl(tcp, out, "203.0.113.6:22", flow.Established, respNames("example.com")), false},
		{"wildcard is a label boundary", catalog.Peer{Kind: catalog.PeerHost, Value: "*.example.com"}, fl(tcp, out, "203.0.113.6:22", flow.Established, respNames("badexample.com")), false},
		{"host without names", catalog.Peer{Kind: catalog.PeerHost, Value: "update.example.com"}, fl(tcp, out, "203.0.113.6:22", flow.Established), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := req("ssh", catalog.Out, catalog.TCP, port(22), tc.peer)
			rep := audit(t, []flow.Flow{tc.flow}, Options{Products: []*catalog.Product{product("p", r)}, Site: site})
			got := findReq(t, rep, "ssh")
			if (got.Status == OK) != tc.match {
				t.Fatalf("status %s, want match=%v", got.Status, tc.match)
			}
			if !tc.match {
				if len(rep.Unexpected) != 1 || !slices.Equal(rep.Unexpected[0].PeerNotAllowed, []string{"ssh"}) || got.OtherPeerFlows != 1 {
					t.Errorf("unmatched peer: unexpected %+v, other-peer flows %d", rep.Unexpected, got.OtherPeerFlows)
				}
			}
			if tc.name == "unconfigured zone matches anyone" {
				if !slices.Equal(got.UnconfiguredZones, []string{"cluster"}) || !hasWarning(rep, `zone "cluster" is not configured`) {
					t.Errorf("unconfigured zone not reported: %v %v", got.UnconfiguredZones, rep.Warnings)
				}
			}
		})
	}
}

// TestZoneWarningOnlyForApplicable: a requirement that does not apply
// matches nothing, so its unconfigured zone is not worth a warning.
func TestZoneWarningOnlyForApplicable(t *testing.T) {
	r := req("sync", catalog.In, catalog.TCP, port(3306), catalog.Peer{Kind: catalog.PeerZone, Value: "cluster-peers"})
	r.Condition = &catalog.Condition{Feature: "cluster"}
	for _, on := range []bool{false, true} {
		rep := audit(t, nil, Options{Products: []*catalog.Product{product("p", r)}, Features: map[string]bool{"cluster": on}})
		if got := hasWarning(rep, `zone "cluster-peers" is not configured`); got != on {
			t.Errorf("cluster %v: zone warning %v, want %v (%q)", on, got, on, rep.Warnings)
		}
	}
}

func hasWarning(rep *Report, sub string) bool {
	return slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, sub) })
}

func TestConditions(t *testing.T) {
	cl := req("cluster-db", catalog.Out, catalog.TCP, []catalog.PortRange{{3306, 3307}})
	cl.Condition = &catalog.Condition{Feature: "cluster"}
	on := req("pmm", catalog.Out, catalog.TCP, port(9000))
	on.Condition = &catalog.Condition{Feature: "pmm", Default: true}
	flows := []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:3307", flow.Established)}
	tests := []struct {
		name       string
		site       map[string]bool
		with       map[string]bool
		cluster    Status
		pmm        Status
		unexpected int
	}{
		{"defaults", nil, nil, NotApplicable, NeverSeen, 1},
		{"site turns cluster on", map[string]bool{"cluster": true}, nil, OK, NeverSeen, 0},
		{"--with overrides site", map[string]bool{"cluster": true, "pmm": true}, map[string]bool{"cluster": false, "pmm": false}, NotApplicable, NotApplicable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			site := &catalog.Site{Hosts: []netip.Addr{netip.MustParseAddr(gw4)}, Features: tc.site}
			rep := audit(t, flows, Options{Products: []*catalog.Product{product("p", cl, on)}, Site: site, Features: tc.with})
			if s := findReq(t, rep, "cluster-db").Status; s != tc.cluster {
				t.Errorf("cluster-db %s, want %s", s, tc.cluster)
			}
			if s := findReq(t, rep, "pmm").Status; s != tc.pmm {
				t.Errorf("pmm %s, want %s", s, tc.pmm)
			}
			if len(rep.Unexpected) != tc.unexpected {
				t.Fatalf("unexpected %+v", rep.Unexpected)
			}
			if tc.unexpected == 1 && !slices.Equal(rep.Unexpected[0].NotApplicable, []string{"cluster-db"}) {
				t.Errorf("unexpected group does not name the not-applicable requirement: %+v", rep.Unexpected[0])
			}
			// Evidence is kept even when the requirement does not apply.
			if c := findReq(t, rep, "cluster-db").Counts.Established; c != 1 {
				t.Errorf("cluster-db evidence %d flows", c)
			}
		})
	}
}

func TestUnexpectedGrouping(t *testing.T) {
	p := product("p", req("smtp-in", catalog.In, catalog.TCP, port(25)))
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.9:6667", flow.Established, respNames("irc.example.net"), at(5)),
		fl(tcp, gw4+":40001", "203.0.113.8:6667", flow.Rejected, at(1)),
		fl(tcp, gw4+":40002", "203.0.113.9:6667", flow.Unanswered, at(9)),
		fl(udp, "203.0.113.7:1000", gw4+":69", flow.Unanswered),
		fl(tcp, "203.0.113.7:1000", gw4+":23", flow.Unknown),
		fl(tcp, "203.0.113.7:1001", gw4+":25", flow.Established),       // allowed
		fl(tcp, "198.51.100.1:1", "198.51.100.2:80", flow.Established), // transit
		fl(47, gw4+":0", "203.0.113.1:0", flow.Unanswered),
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{p}})
	type key struct {
		dir   catalog.Direction
		proto string
		port  uint16
		flows int
	}
	var got []key
	for _, u := range rep.Unexpected {
		got = append(got, key{u.Direction, u.Protocol, u.Port, u.Counts.Flows})
	}
	want := []key{{"in", "tcp", 23, 1}, {"in", "udp", 69, 1}, {"out", "ip-47", 0, 1}, {"out", "tcp", 6667, 3}}
	if !slices.Equal(got, want) {
		t.Fatalf("unexpected groups\n got %v\nwant %v", got, want)
	}
	irc := rep.Unexpected[3]
	if !slices.Equal(irc.Outcomes, []string{"established", "rejected", "unanswered"}) {
		t.Errorf("outcomes %v", irc.Outcomes)
	}
	// Worst first: .9 and .8 both failed once; .9 has more flows.
	if len(irc.Peers) != 2 || irc.Peers[1].Addr.String() != "203.0.113.8" || !slices.Equal(irc.Peers[0].Names, []string{"irc.example.net"}) || irc.Peers[0].Counts.Flows != 2 {
		t.Errorf("peers %+v", irc.Peers)
	}
	if !irc.FirstSeen.Equal(t0.Add(1e9)) || !irc.LastSeen.Equal(t0.Add(10e9)) {
		t.Errorf("first/last %v %v", irc.FirstSeen, irc.LastSeen)
	}
	s := rep.Summary
	if s.Transit != 1 || s.Matched != 1 || s.Flows != 8 || s.Unexpected != 4 || s.UnexpectedFlows != 6 {
		t.Errorf("summary %+v", s)
	}
}

func TestHousekeeping(t *testing.T) {
	v6 := flow.ProtoICMPv6
	flows := []flow.Flow{
		fl(v6, "[fe80::1]:135", "[ff02::1:ff00:10]:0", flow.Unanswered),
		fl(v6, "[fe80::1]:133", "[ff02::2]:0", flow.Unanswered),
		fl(v6, "[fe80::1]:143", "[ff02::16]:0", flow.Unanswered),
		fl(udp, "0.0.0.0:68", "255.255.255.255:67", flow.Unanswered),
		fl(udp, "[fe80::1]:546", "[ff02::1:2]:547", flow.Unanswered),
		fl(udp, gw4+":5353", "224.0.0.251:5353", flow.Unanswered),
		fl(udp, gw4+":137", "255.255.255.255:137", flow.Unanswered),
		fl(tcp, "[fe80::1]:40000", "[fe80::2]:22", flow.Established),
		fl(2, gw4+":0", "224.0.0.22:0", flow.Unanswered),
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{product("p", req("x", catalog.Out, catalog.TCP, port(1)))}})
	var kinds []string
	for _, h := range rep.Housekeeping {
		kinds = append(kinds, h.Kind)
		if h.Text == "" || h.Flows == 0 {
			t.Errorf("housekeeping %+v", h)
		}
	}
	want := []string{"ipv6-nd", "mld", "dhcp", "dhcpv6", "igmp", "multicast", "broadcast", "link-local"}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if len(rep.Unexpected) != 0 || rep.Summary.Housekeeping != len(flows) {
		t.Errorf("unexpected %+v, housekeeping %d", rep.Unexpected, rep.Summary.Housekeeping)
	}
}

func TestInferHosts(t *testing.T) {
	gw6 := "[2001:db8::10]"
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established),
		fl(tcp, gw4+":40001", "203.0.113.6:25", flow.Established),
		fl(tcp, "203.0.113.7:40001", gw4+":25", flow.Established),
		fl(tcp, "203.0.113.7:40002", "203.0.113.8:80", flow.Established),
		fl(tcp, gw6+":40000", "[2001:db8:1::5]:25", flow.Established),
		fl(udp, "[2001:db8:1::53]:53", gw6+":4000", flow.Established),
		fl(flow.ProtoICMPv6, "[fe80::1]:135", "[ff02::1]:0", flow.Unanswered),
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{product("p", req("x", catalog.Out, catalog.TCP, port(25)))}, Site: &catalog.Site{}})
	if got := text.Addrs(rep.Hosts.Addrs); got != "192.0.2.10, 2001:db8::10" {
		t.Fatalf("hosts %s", got)
	}
	if !rep.Hosts.Inferred || !strings.Contains(rep.Hosts.How, "192.0.2.10 in 3 of 4 IPv4 flows") || !hasWarning(rep, "inferred") {
		t.Errorf("how %q warnings %v", rep.Hosts.How, rep.Warnings)
	}
	if rep.Summary.Transit != 1 || !hasWarning(rep, "1 flow(s) had no gateway address") {
		t.Errorf("transit %d", rep.Summary.Transit)
	}
	if c := findReq(t, rep, "x").Counts.Established; c != 3 {
		t.Errorf("x established %d, want 3 (two IPv4, one IPv6)", c)
	}
}

func TestEvidenceDetails(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	flows := []flow.Flow{
		fl(tcp, gw4+":40002", "203.0.113.6:25", flow.Unanswered, at(30), node("b")),
		fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established, at(10), respNames("mx.example.org"), node("a")),
		fl(tcp, gw4+":40001", "203.0.113.5:25", flow.Established, at(20), respNames("mx.example.org", "MX.example.org."), node("a")),
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{p}})
	r := findReq(t, rep, "smtp-out")
	if !slices.Equal(r.Nodes, []string{"a", "b"}) || len(r.ByNode) != 2 ||
		r.ByNode[0] != (NodeCounts{Node: "a", Counts: Counts{Flows: 2, Attempts: 2, Established: 2}}) ||
		r.ByNode[1] != (NodeCounts{Node: "b", Counts: Counts{Flows: 1, Attempts: 1, Unanswered: 1}}) {
		t.Errorf("nodes %v by node %+v", r.Nodes, r.ByNode)
	}
	if r.FirstSeen == nil || !r.FirstSeen.Equal(t0.Add(10e9)) || !r.LastSeen.Equal(t0.Add(31e9)) {
		t.Errorf("first %v last %v", r.FirstSeen, r.LastSeen)
	}
	// Worst first: .6 failed, .5 worked twice.
	if len(r.Peers) != 2 || r.Peers[0].Addr.String() != "203.0.113.6" || !slices.Equal(r.Peers[1].Names, []string{"mx.example.org"}) || r.Peers[1].Counts.Established != 2 {
		t.Errorf("peers %+v", r.Peers)
	}
	if len(r.Timeline) != 3 || r.Timeline[0].Time != t0.Add(10e9) || r.Timeline[2].Reason != ReasonUnanswered {
		t.Errorf("timeline %+v", r.Timeline)
	}
	if r.Source.Document != "test.txt" {
		t.Errorf("source %+v", r.Source)
	}
}

func TestTimelineBounded(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	var flows []flow.Flow
	for i := 3*MaxTimeline - 1; i >= 0; i-- {
		flows = append(flows, fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established, at(i)))
	}
	r := findReq(t, audit(t, flows, Options{Products: []*catalog.Product{p}}), "smtp-out")
	if len(r.Timeline) != MaxTimeline || r.TimelineOmitted != 2*MaxTimeline || !r.Timeline[0].Time.Equal(t0) {
		t.Errorf("timeline %d kept, %d omitted, first %v", len(r.Timeline), r.TimelineOmitted, r.Timeline[0].Time)
	}
}

func TestFindings(t *testing.T) {
	p := product("p",
		req("a", catalog.Out, catalog.TCP, port(25)),
		req("b", catalog.Out, catalog.TCP, port(80)),
		req("c", catalog.Out, catalog.TCP, port(443)))
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established),
		fl(tcp, gw4+":40000", "203.0.113.5:80", flow.Rejected),
		fl(tcp, gw4+":40000", "203.0.113.5:8080", flow.Established),
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{p}})
	tests := []struct {
		failOn []Status
		want   int
	}{
		{DefaultFailOn, 3}, // b blocked, c never seen, one unexpected group
		{[]Status{Blocked}, 1},
		{[]Status{Blocked, Blocked}, 1},
		{[]Status{Unexpected}, 1},
		{[]Status{OK}, 1},
		{nil, 0},
	}
	for _, tc := range tests {
		if got := rep.Findings(tc.failOn); got != tc.want {
			t.Errorf("Findings(%v) = %d, want %d", tc.failOn, got, tc.want)
		}
	}
}

func TestAuditErrors(t *testing.T) {
	if _, err := Audit(nil, Options{}); err == nil {
		t.Error("nil result accepted")
	}
	rep := audit(t, nil, Options{Products: []*catalog.Product{product("p", req("a", catalog.Out, catalog.TCP, port(25)))}})
	if !hasWarning(rep, "no flows") {
		t.Errorf("warnings %v", rep.Warnings)
	}
	bad := req("bad", catalog.Out, catalog.TCP, port(25), catalog.Peer{Kind: catalog.PeerIP, Value: "not-an-ip"})
	if _, err := Audit(&captureResult, Options{Products: []*catalog.Product{product("p", bad)}}); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("bad peer: %v", err)
	}
	if _, err := Audit(&captureResult, Options{}); err == nil {
		t.Error("no products accepted")
	}
}

func TestPeersBounded(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	var flows []flow.Flow
	for i := range MaxPeers + 20 {
		out := flow.Established
		if i == MaxPeers+10 {
			out = flow.Unanswered // the one failure must be listed first
		}
		flows = append(flows, fl(tcp, gw4+":40000", netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 25).String(), out))
	}
	r := findReq(t, audit(t, flows, Options{Products: []*catalog.Product{p}}), "smtp-out")
	if len(r.Peers) != MaxPeers || r.PeersOmitted != 20 {
		t.Fatalf("%d peers listed, %d omitted", len(r.Peers), r.PeersOmitted)
	}
	if r.Peers[0].Addr.String() != "203.0.113.110" || r.Peers[1].Addr.String() != "203.0.113.0" {
		t.Errorf("order: %v, %v first", r.Peers[0].Addr, r.Peers[1].Addr)
	}
}

// TestClusterBetweenHosts: a flow between two gateway addresses (cluster
// nodes given together) is evidence for the outbound requirement of one
// node and the inbound requirement of the other.
func TestClusterBetweenHosts(t *testing.T) {
	in := req("db-in", catalog.In, catalog.TCP, port(3306), catalog.Peer{Kind: catalog.PeerZone, Value: "cluster-peers"})
	out := req("db-out", catalog.Out, catalog.TCP, port(3306), catalog.Peer{Kind: catalog.PeerZone, Value: "cluster-peers"})
	site := &catalog.Site{
		Hosts: []netip.Addr{netip.MustParseAddr(gw4), netip.MustParseAddr("192.0.2.11")},
		Zones: map[string][]netip.Prefix{"cluster-peers": {netip.MustParsePrefix("192.0.2.10/31")}},
	}
	rep := audit(t, []flow.Flow{fl(tcp, gw4+":40000", "192.0.2.11:3306", flow.Established)},
		Options{Products: []*catalog.Product{product("p", in, out)}, Site: site})
	for _, id := range []string{"db-in", "db-out"} {
		if r := findReq(t, rep, id); r.Status != OK || r.Counts.Flows != 1 {
			t.Errorf("%s: %s, %+v", id, r.Status, r.Counts)
		}
	}
	if rep.Summary.Matched != 1 || len(rep.Unexpected) != 0 || rep.Hosts.How != "from the site file" {
		t.Errorf("summary %+v, unexpected %v, hosts %+v", rep.Summary, rep.Unexpected, rep.Hosts)
	}
}

// TestSeveralProducts: requirements of every product are listed in the
// order given, a flow any product allows is not unexpected, and a product
// named twice counts once.
func TestSeveralProducts(t *testing.T) {
	a := product("a", req("a-smtp", catalog.Out, catalog.TCP, port(25)))
	b := product("b", req("b-smtp", catalog.Out, catalog.TCP, port(25)), req("b-ntp", catalog.Out, catalog.UDP, port(123)))
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established),
		fl(udp, gw4+":40001", "203.0.113.6:123", flow.Unanswered),
	}
	rep := audit(t, flows, Options{Products: []*catalog.Product{a, b, a}})
	var ids []string
	for _, r := range rep.Requirements {
		ids = append(ids, r.Product+":"+r.ID+":"+string(r.Status))
	}
	want := []string{"a:a-smtp:ok", "b:b-smtp:ok", "b:b-ntp:blocked"}
	if !slices.Equal(ids, want) || len(rep.Products) != 2 || len(rep.Unexpected) != 0 || rep.Summary.Matched != 2 {
		t.Errorf("requirements %v, products %+v, unexpected %+v", ids, rep.Products, rep.Unexpected)
	}
	rep = audit(t, flows, Options{Products: []*catalog.Product{a}})
	if len(rep.Unexpected) != 1 || rep.Unexpected[0].Port != 123 {
		t.Errorf("with product a alone, NTP should be unexpected: %+v", rep.Unexpected)
	}
}

func TestUnusedHostWarning(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	flows := []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established)}
	rep := audit(t, flows, Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{netip.MustParseAddr(gw4), netip.MustParseAddr("192.0.2.99")}})
	if !hasWarning(rep, "gateway address 192.0.2.99 takes part in no audited flow") || hasWarning(rep, "gateway address 192.0.2.10 takes") {
		t.Errorf("warnings %v", rep.Warnings)
	}
}
