package analyze

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/catalog"
)

// oneSidedScenario generates, for one address family, a gateway's
// traffic with one flow kind per rule of docs/report.md "One-sided
// captures", and returns the capture and its product. gw is the gateway,
// net the peers' prefix ("198.51.100." or "2001:db8:b::"), router the
// firewall that sends ICMP errors.
func oneSidedScenario(t *testing.T, c *genCapture, gw, router netip.Addr, peer func(int) netip.Addr) {
	ap := netip.AddrPortFrom
	// Six outbound and six inbound SMTP sessions: the established TCP
	// flows that tell which side a capture lacks.
	for i := range 6 {
		c.session(ap(gw, uint16(40000+i)), ap(peer(25+i), 25))
		c.session(ap(peer(77+i), uint16(50000+i)), ap(gw, 25))
	}
	// out tcp/22: dropped, the SYN retransmitted.
	c.droppedSYN(ap(gw, 41022), ap(peer(22), 22))
	// out tcp/2703: refused by RST+ACK.
	c.tcp(ap(gw, 41027), ap(peer(27), 2703), "S", 3000, 0, "")
	c.tcp(ap(peer(27), 2703), ap(gw, 41027), "RA", 0, 3001, "")
	// out tcp/7 (a port no list of server ports names): admin-prohibited.
	syn := c.tcp(ap(gw, 41007), ap(peer(7), 7), "S", 4000, 0, "")
	c.icmpErr(router, syn, adminType(gw), adminCode(gw))
	// out tcp/443: the server's SYN-ACK never reaches the gateway's
	// stack (its own firewall drops it after the capture point), so the
	// SYN is retransmitted and never acknowledged.
	c.tcp(ap(gw, 41443), ap(peer(80), 443), "S", 6000, 0, "")
	c.tcp(ap(peer(80), 443), ap(gw, 41443), "SA", 9000, 6001, "")
	c.wait(time.Second)
	c.tcp(ap(gw, 41443), ap(peer(80), 443), "S", 6000, 0, "")
	c.tcp(ap(peer(80), 443), ap(gw, 41443), "SA", 9000, 6001, "")
	// out udp/53: answered.
	c.udp(ap(gw, 42053), ap(peer(53), 53), "query")
	c.udp(ap(peer(53), 53), ap(gw, 42053), "answer")
	// out udp/1600: answered; neither port is one the flow table knows
	// servers by, so only the audit can tell the reply from a request.
	c.udp(ap(gw, 49307), ap(peer(16), 1600), "lookup")
	c.udp(ap(peer(16), 1600), ap(gw, 49307), "result")
	// out udp/6277: admin-prohibited.
	req := c.udp(ap(gw, 42277), ap(peer(62), 6277), "dcc")
	c.icmpErr(router, req, adminType(gw), adminCode(gw))
	// out udp/24441: no reply.
	c.udp(ap(gw, 42441), ap(peer(24), 24441), "pyzor")
	// in tcp/80: refused by the gateway (closed port).
	c.tcp(ap(peer(10), 51080), ap(gw, 80), "S", 7000, 0, "")
	c.tcp(ap(gw, 80), ap(peer(10), 51080), "RA", 0, 7001, "")
	// in udp/5060, unexpected: the gateway's port unreachable.
	req = c.udp(ap(peer(99), 5060), ap(gw, 5060), "OPTIONS")
	c.icmpErr(gw, req, unreachType(gw), portUnreachCode(gw))
}

func adminType(a netip.Addr) uint8 {
	if a.Is4() {
		return 3
	}
	return 1
}

func adminCode(a netip.Addr) uint8 {
	if a.Is4() {
		return 13
	}
	return 1
}

func unreachType(a netip.Addr) uint8 { return adminType(a) }

func portUnreachCode(a netip.Addr) uint8 {
	if a.Is4() {
		return 3
	}
	return 4
}

// oneSidedProduct holds a requirement for each flow kind of the scenario,
// and two nothing uses.
func oneSidedProduct() *catalog.Product {
	return product("gen",
		req("out-tcp-25", catalog.Out, catalog.TCP, port(25)),
		req("out-tcp-22", catalog.Out, catalog.TCP, port(22)),
		req("out-tcp-2703", catalog.Out, catalog.TCP, port(2703)),
		req("out-tcp-7", catalog.Out, catalog.TCP, port(7)),
		req("out-tcp-443", catalog.Out, catalog.TCP, port(443)),
		req("out-tcp-465", catalog.Out, catalog.TCP, port(465)),
		req("out-udp-53", catalog.Out, catalog.UDP, port(53)),
		req("out-udp-1600", catalog.Out, catalog.UDP, port(1600)),
		req("out-udp-6277", catalog.Out, catalog.UDP, port(6277)),
		req("out-udp-24441", catalog.Out, catalog.UDP, port(24441)),
		req("in-tcp-25", catalog.In, catalog.TCP, port(25)),
		req("in-tcp-80", catalog.In, catalog.TCP, port(80)),
		req("in-tcp-443", catalog.In, catalog.TCP, port(443)),
	)
}

// TestOneSidedCaptures generates a gateway's traffic over IPv4 and IPv6,
// cuts it to what the gateway sent and to what it received, and checks
// every verdict against what each side proves (docs/report.md "One-sided
// captures"): the true verdict or inconclusive, never a wrong blocked or
// never-seen; no ICMP error and no reply to the gateway's own connection
// is an unexpected flow; the one-sided cuts warn.
func TestOneSidedCaptures(t *testing.T) {
	type want struct{ full, sent, recv Status }
	wants := map[string]want{
		"out-tcp-25":    {OK, OK, OK},
		"out-tcp-22":    {Blocked, Blocked, Inconclusive},      // retransmitted SYNs prove no answer; unseen from the receiving side
		"out-tcp-2703":  {Blocked, Inconclusive, Blocked},      // a lone SYN proves nothing; the RST+ACK proves the refusal
		"out-tcp-7":     {Blocked, Inconclusive, Blocked},      // the ICMP error creates the flow it quotes
		"out-tcp-443":   {Blocked, Blocked, Inconclusive},      // a SYN-ACK alone proves only the SYN arrived
		"out-tcp-465":   {NeverSeen, NeverSeen, Inconclusive},  // unanswered attempts would not show when received only
		"out-udp-53":    {OK, Inconclusive, OK},                // an answer proves the query
		"out-udp-1600":  {OK, Inconclusive, OK},                // a reply to the gateway, not an inbound flow
		"out-udp-6277":  {Blocked, Inconclusive, Blocked},      // quoted by admin-prohibited
		"out-udp-24441": {Blocked, Inconclusive, Inconclusive}, // no reply: cannot be told from either side alone
		"in-tcp-25":     {OK, OK, OK},
		"in-tcp-80":     {Blocked, Blocked, Inconclusive}, // the gateway's RST+ACK proves the refusal
		"in-tcp-443":    {NeverSeen, Inconclusive, NeverSeen},
	}
	families := []struct {
		name       string
		gw, router netip.Addr
		peer       func(int) netip.Addr
	}{
		{"ipv4", netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.1"),
			func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }},
		{"ipv6", netip.MustParseAddr("2001:db8:a::10"), netip.MustParseAddr("2001:db8:a::1"),
			func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:b::%x", i)) }},
	}
	for _, fam := range families {
		c := newGenCapture(t, fam.gw)
		oneSidedScenario(t, c, fam.gw, fam.router, fam.peer)
		c.wait(3 * time.Second) // the capture goes on: nothing is pending
		c.udp(netip.AddrPortFrom(fam.gw, 42999), netip.AddrPortFrom(fam.peer(53), 53), "last")
		for _, cut := range []struct {
			name string
			cut  int
			warn string
		}{{"full", cutNone, ""}, {"sent", cutSent, "lacks what the gateway received"}, {"received", cutRecv, "lacks what the gateway sent"}} {
			t.Run(fam.name+"/"+cut.name, func(t *testing.T) {
				rep, err := Audit(c.replay(cut.cut), Options{Products: []*catalog.Product{oneSidedProduct()}, Hosts: []netip.Addr{fam.gw}})
				if err != nil {
					t.Fatal(err)
				}
				for id, w := range wants {
					r := findReq(t, rep, id)
					st := map[int]Status{cutNone: w.full, cutSent: w.sent, cutRecv: w.recv}[cut.cut]
					if r.Status != st {
						t.Errorf("%s: %s (counts %+v, note %q), want %s", id, r.Status, r.Counts, r.Note, st)
					}
					if r.Status == Inconclusive && r.Note == "" {
						t.Errorf("%s: inconclusive without a note saying why", id)
					}
				}
				checkOneSidedUnexpected(t, rep, cut.cut)
				warned := false
				for _, w := range rep.Warnings {
					warned = warned || (cut.warn != "" && strings.Contains(w, cut.warn))
					if strings.Contains(w, "the capture lacks") && cut.warn == "" {
						t.Errorf("full capture warns: %s", w)
					}
				}
				if cut.warn != "" && !warned {
					t.Errorf("no warning %q: %q", cut.warn, rep.Warnings)
				}
			})
		}
	}
}

// checkOneSidedUnexpected: the only unexpected group is inbound udp/5060,
// refused by the gateway's port unreachable (which, sent by the gateway,
// is in the sent cut) or inconclusive (received cut).
func checkOneSidedUnexpected(t *testing.T, rep *Report, cut int) {
	t.Helper()
	if len(rep.Unexpected) != 1 {
		t.Fatalf("unexpected groups %+v, want only in udp/5060", rep.Unexpected)
	}
	u := rep.Unexpected[0]
	want := []string{"unreachable"}
	if cut == cutRecv {
		want = []string{OutcomeInconclusive}
	}
	if u.Direction != catalog.In || u.Protocol != "udp" || u.Port != 5060 || strings.Join(u.Outcomes, ",") != strings.Join(want, ",") {
		t.Errorf("unexpected %s %s/%d outcomes %v, want in udp/5060 %v", u.Direction, u.Protocol, u.Port, u.Outcomes, want)
	}
}
