package analyze

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// peerAddr is the i-th of many distinct IPv6 documentation addresses.
func peerAddr(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf1, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
}

// TestPeerTableBounded: a million distinct peers cost a requirement no
// more than maxReqPeers tracked peers; every count stays exact in total,
// and the folded peers are estimated within 5 %.
func TestPeerTableBounded(t *testing.T) {
	e := newEvidence(true)
	const n = 1_000_000
	v := view{dir: catalog.In, port: 25}
	f := flow.Flow{Proto: tcp, Outcome: flow.Established, Start: t0, End: t0}
	for i := range n {
		v.peer = peerAddr(i)
		e.add(&f, v, false)
	}
	if len(e.peers.peers) != maxReqPeers || len(e.peers.idx) != maxReqPeers {
		t.Fatalf("%d peers tracked (%d indexed), want %d", len(e.peers.peers), len(e.peers.idx), maxReqPeers)
	}
	folded, counts := e.folded(sides{})
	if counts == nil || counts.Flows != n-maxReqPeers || counts.Established != n-maxReqPeers {
		t.Errorf("folded counts %+v, want %d established", counts, n-maxReqPeers)
	}
	if want := n - maxReqPeers; folded < want*95/100 || folded > want*105/100 {
		t.Errorf("about %d folded peers, want %d within 5 %%", folded, want)
	}
	total := e.peers.rest
	for _, p := range e.peers.peers {
		addCounts(&total, p.counts)
	}
	if total != e.counts {
		t.Errorf("tracked plus folded %+v, total %+v", total, e.counts)
	}
}

// TestPeersFailuresKept: once a requirement's table is full of peers that
// worked, a peer that fails takes the place of one of them, so the peers
// the report lists first (most failures) are there with exact failure
// counts; the folded ones are said in the report and a warning.
func TestPeersFailuresKept(t *testing.T) {
	var flows []flow.Flow
	for i := range 1000 {
		flows = append(flows, fl(tcp, gw4+":40000", netip.AddrPortFrom(peerAddr(i), 25).String(), flow.Established, at(i)))
	}
	for i := range 3 {
		for range 1 + i {
			flows = append(flows, fl(tcp, gw4+":40000", netip.AddrPortFrom(peerAddr(5000+i), 25).String(), flow.Unanswered, at(2000)))
		}
	}
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))}})
	r := findReq(t, rep, "smtp-out")
	// Three of 1003 peers never answered while 1000 worked: the
	// remote-side rule makes it ok, the three listed as remote side.
	if r.Status != OK || r.Counts.Flows != 1006 || r.Counts.Unanswered != 6 || len(r.RemoteSide) != 3 {
		t.Fatalf("status %s counts %+v remote side %v, want ok, 1006 flows, 6 unanswered, 3 remote-side peers", r.Status, r.Counts, r.RemoteSide)
	}
	for i, want := range []int{3, 2, 1} {
		if p := r.Peers[i]; p.Addr != peerAddr(5002-i) || p.Counts.Unanswered != want {
			t.Errorf("peer %d is %s with %+v, want %s with %d unanswered", i, p.Addr, p.Counts, peerAddr(5002-i), want)
		}
	}
	listed := 0
	for _, p := range r.Peers {
		listed += p.Counts.Flows
	}
	if len(r.Peers) != MaxPeers || r.PeersOmitted != maxReqPeers-MaxPeers || r.FoldedCounts == nil ||
		listed+r.FoldedCounts.Flows+r.PeersOmitted != r.Counts.Flows || r.PeersFolded < 790 || r.PeersFolded > 960 {
		t.Errorf("%d peers listed (%d flows), %d omitted, about %d folded with %+v; want %d listed, %d omitted, ~875 folded (within 10 %%), flows adding up",
			len(r.Peers), listed, r.PeersOmitted, r.PeersFolded, r.FoldedCounts, MaxPeers, maxReqPeers-MaxPeers)
	}
	if !hasWarning(rep, "peers folded: 1 requirement(s) (smtp-out)") {
		t.Errorf("warnings %q, want one about folded peers", rep.Warnings)
	}
}

// TestUnexpectedGroupsBounded: flows to more ports than MaxUnexpected
// groups are counted together beyond it, and every flow stays counted.
func TestUnexpectedGroupsBounded(t *testing.T) {
	var flows []flow.Flow
	for p := range MaxUnexpected + 500 {
		flows = append(flows, fl(tcp, gw4+":40000", fmt.Sprintf("203.0.113.5:%d", 1000+p), flow.Rejected))
	}
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))}})
	if len(rep.Unexpected) != MaxUnexpected || rep.UnexpectedFolded == nil || rep.UnexpectedFolded.Groups != 500 ||
		rep.UnexpectedFolded.Counts.Rejected != 500 || rep.Summary.Unexpected != MaxUnexpected+500 {
		t.Errorf("%d groups listed, folded %+v, summary %+v; want %d listed and 500 folded", len(rep.Unexpected), rep.UnexpectedFolded, rep.Summary, MaxUnexpected)
	}
	if !hasWarning(rep, "unexpected groups folded: 500 more group(s)") {
		t.Errorf("warnings %q, want one about folded groups", rep.Warnings)
	}
}

// TestDetailsBounded: ICMP errors from many (forged) senders keep a few
// details and say there were others.
func TestDetailsBounded(t *testing.T) {
	var flows []flow.Flow
	for i := range 50 {
		flows = append(flows, fl(udp, gw4+":40000", "198.51.100.62:6277", flow.Unreachable, icmpErr("port-unreachable", fmt.Sprintf("192.0.2.%d", 100+i))))
	}
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{product("p", req("dcc", catalog.Out, catalog.UDP, port(6277)))}})
	d := findReq(t, rep, "dcc").Reasons[0].Detail
	if len(d) != maxDetails+1 || d[maxDetails] != detailsMore {
		t.Errorf("details %q, want %d and %q", d, maxDetails, detailsMore)
	}
}
