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
