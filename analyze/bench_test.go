package analyze

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// benchFlows makes n flows of a busy gateway: mostly outbound SMTP and
// DNS to many peers, some inbound SMTP, some unexpected ports.
func benchFlows(n int) []flow.Flow {
	gw := netip.MustParseAddr(gw4)
	outcomes := []flow.Outcome{flow.Established, flow.Established, flow.Established, flow.Unanswered, flow.Rejected}
	flows := make([]flow.Flow, n)
	for i := range flows {
		peer := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		f := flow.Flow{Proto: flow.ProtoTCP, Start: t0.Add(time.Duration(i) * time.Millisecond), Outcome: outcomes[i%len(outcomes)]}
		f.End = f.Start.Add(time.Second)
		switch i % 4 {
		case 0:
			f.Orig, f.Resp = netip.AddrPortFrom(gw, uint16(30000+i%30000)), netip.AddrPortFrom(peer, 25)
			f.RespNames = []string{"mx.example.org"}
		case 1:
			f.Proto = flow.ProtoUDP
			f.Orig, f.Resp = netip.AddrPortFrom(gw, uint16(30000+i%30000)), netip.AddrPortFrom(peer, 53)
		case 2:
			f.Orig, f.Resp = netip.AddrPortFrom(peer, uint16(30000+i%30000)), netip.AddrPortFrom(gw, 25)
		case 3:
			f.Orig, f.Resp = netip.AddrPortFrom(gw, uint16(30000+i%30000)), netip.AddrPortFrom(peer, uint16(1000+i%500))
		}
		flows[i] = f
	}
	return flows
}

// BenchmarkAudit200k audits 200k flows against two bundled products.
func BenchmarkAudit200k(b *testing.B) {
	cat, err := catalog.Bundled()
	if err != nil {
		b.Fatal(err)
	}
	var prods []*catalog.Product
	for _, name := range []string{"mailcleaner", "spamexperts"} {
		p, err := cat.Product(name)
		if err != nil {
			b.Fatal(err)
		}
		prods = append(prods, p)
	}
	res := &capture.Result{Flows: benchFlows(200_000)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Audit(res, Options{Products: prods}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAddAllocs: once its peers are known, auditing a flow allocates
// nothing (streaming replay calls Add for every flow).
func TestAddAllocs(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)), req("dns", catalog.Out, catalog.UDP, port(53)))
	a, err := NewAuditor(Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
	if err != nil {
		t.Fatal(err)
	}
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established, respNames("mx.example.org")),
		fl(udp, gw4+":40001", "203.0.113.53:53", flow.Unanswered),
		fl(tcp, gw4+":40002", "203.0.113.9:6667", flow.Rejected),
		// A server name beside the DNS names: the view's names are
		// built in the Auditor's scratch, not allocated per flow.
		fl(tcp, gw4+":40003", "203.0.113.7:25", flow.Established, respNames("mx.example.org"),
			func(f *flow.Flow) { f.ServerName = "smtp.example.org" }),
	}
	for i := range flows {
		a.Add(&flows[i]) // first sight of each peer and group allocates
	}
	late := flows
	for i := range late {
		late[i].Start = t0.Add(time.Hour) // after the kept timeline
	}
	for range 2 * MaxTimeline {
		for i := range late {
			a.Add(&late[i])
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		for i := range late {
			a.Add(&late[i])
		}
	}); n != 0 {
		t.Errorf("Add allocates %.1f times per %d flows", n, len(late))
	}
}

// BenchmarkPortScan looks up the rules of one flow to each of the 65535
// TCP ports of the gateway, for a rule of every port (wide) and of port
// 25 (narrow): row 5 of issue 10 wants both to cost the index the same.
// (The rest of Add is left out: flows no rule allows are unexpected,
// which is another cost.)
func BenchmarkPortScan(b *testing.B) {
	peer := netip.MustParseAddr("203.0.113.7")
	f := &flow.Flow{Proto: flow.ProtoTCP}
	for name, ports := range map[string][]catalog.PortRange{"wide": {{1, 65535}}, "narrow": port(25)} {
		b.Run(name, func(b *testing.B) {
			rules, err := compileRules(&Report{}, Options{Products: []*catalog.Product{product("p", req("p/in", catalog.In, catalog.TCP, ports))}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				x := newRuleIndex(rules)
				for p := 1; p <= 65535; p++ {
					x.lookup(f, view{dir: catalog.In, peer: peer, port: uint16(p)})
				}
				b.ReportMetric(float64(len(x.hits)), "index-entries")
			}
		})
	}
}
