package analyze

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// scanIndex looks up every port of every (direction, protocol) in x and
// checks each answer against a plain scan of the rules.
func scanIndex(t *testing.T, x *ruleIndex) {
	t.Helper()
	peer := netip.MustParseAddr("203.0.113.7")
	for _, dir := range []catalog.Direction{catalog.In, catalog.Out} {
		for _, proto := range []uint8{flow.ProtoTCP, flow.ProtoUDP} {
			f := &flow.Flow{Proto: proto}
			for p := range 65536 {
				v := view{dir: dir, peer: peer, port: uint16(p)}
				got := x.lookup(f, v)
				var want []ruleHit
				for ri := range x.rules {
					if m, c := x.rules[ri].matchesFlow(f, v); m {
						want = append(want, ruleHit{rule: ri, counts: c})
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s proto %d port %d: hits %v, want %v", dir, proto, p, got, want)
				}
			}
		}
	}
}

func compile(t *testing.T, reqs ...catalog.Requirement) []rule {
	t.Helper()
	rules, err := compileRules(&Report{}, Options{Products: []*catalog.Product{product("p", reqs...)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestRuleIndexPortClasses: the index answers as a scan of the rules
// does for every port, and keeps a handful of entries, not one per port.
func TestRuleIndexPortClasses(t *testing.T) {
	rules := compile(t,
		req("p/all", catalog.In, catalog.TCP, []catalog.PortRange{{1, 65535}}),
		req("p/smtp", catalog.In, catalog.TCP, port(25)),
		req("p/dns", catalog.Out, catalog.UDP, port(53)),
		req("p/high", catalog.Out, catalog.TCP, []catalog.PortRange{{1000, 2000}, {65535, 65535}}),
	)
	x := newRuleIndex(rules)
	scanIndex(t, &x)
	// Bounds 1, 25, 26, 53, 54, 1000, 2001, 65535 make 9 classes per
	// direction and protocol: 36 entries at most.
	if len(x.hits) > 36 {
		t.Errorf("%d index entries after a scan of every port; want at most 36", len(x.hits))
	}
}

// TestRuleIndexWideRangeCostsAsOnePort: row 5 of issue 10. A rule for
// every port costs the index what a rule for one port does.
func TestRuleIndexWideRangeCostsAsOnePort(t *testing.T) {
	entries := map[string]int{}
	for name, ports := range map[string][]catalog.PortRange{"wide": {{1, 65535}}, "narrow": port(25)} {
		x := newRuleIndex(compile(t, req("p/"+name, catalog.In, catalog.TCP, ports)))
		scanIndex(t, &x)
		entries[name] = len(x.hits)
	}
	if entries["wide"] > entries["narrow"] || entries["narrow"] > 12 {
		t.Errorf("index entries after a scan of every port: %v; want the wide rule no dearer, both a few", entries)
	}
	rep := audit(t, []flow.Flow{fl(flow.ProtoTCP, "203.0.113.7:40000", gw4+":8080", flow.Established)},
		Options{Products: []*catalog.Product{product("p", req("p/all", catalog.In, catalog.TCP, []catalog.PortRange{{1, 65535}}))}})
	b, err := json.Marshal(findReq(t, rep, "p/all").Ports)
	if err != nil || string(b) != "[[1,65535]]" {
		t.Errorf("ports marshal to %s (%v); want [[1,65535]]", b, err)
	}
	if r := findReq(t, rep, "p/all"); r.Status != OK {
		t.Errorf("status %s; want ok", r.Status)
	}
}

// TestRuleIndexCacheBound: nested ranges scanned port by port fill the
// index only up to maxCachedHits; the answers stay right past it.
func TestRuleIndexCacheBound(t *testing.T) {
	defer func(n int) { maxCachedHits = n }(maxCachedHits)
	maxCachedHits = 500
	var reqs []catalog.Requirement
	for i := range 100 {
		reqs = append(reqs, req(fmt.Sprintf("p/r%d", i), catalog.In, catalog.TCP, []catalog.PortRange{{uint16(100 + i), uint16(1000 - i)}}))
	}
	x := newRuleIndex(compile(t, reqs...))
	scanIndex(t, &x)
	if x.cached > maxCachedHits {
		t.Errorf("cached %d hits; bound %d", x.cached, maxCachedHits)
	}
	n := 0
	for _, h := range x.hits {
		n += len(h) + 1
	}
	if n != x.cached {
		t.Errorf("cached counts %d, the map holds %d", x.cached, n)
	}
}
