package analyze

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestRemoteSideSMTP40 is issue 14's measurement: generated outbound SMTP
// from the gateway to 40 servers, of which 2, half or all never answer
// (their SYNs retransmitted). Two down among 40 read ok with both listed
// as the remote side (exit status 0); half is partial, all blocked.
func TestRemoteSideSMTP40(t *testing.T) {
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	gw := netip.MustParseAddr("192.0.2.10")
	for _, tc := range []struct {
		down   int
		status Status
	}{{2, OK}, {20, Partial}, {40, Blocked}} {
		t.Run(fmt.Sprintf("%d down", tc.down), func(t *testing.T) {
			c := newGenCapture(t, gw)
			for i := range 40 {
				srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}), 25)
				cli := netip.AddrPortFrom(gw, uint16(40000+i))
				if i < tc.down {
					c.droppedSYN(cli, srv)
				} else {
					c.session(cli, srv)
				}
			}
			c.wait(3 * time.Second)
			c.udp(netip.AddrPortFrom(gw, 42999), netip.MustParseAddrPort("198.51.100.53:53"), "last")
			rep, err := Audit(c.replay(cutNone), Options{Products: []*catalog.Product{prod}, Hosts: []netip.Addr{gw}})
			if err != nil {
				t.Fatal(err)
			}
			r := findReq(t, rep, "mailcleaner/out-tcp-25-smtp")
			if r.Status != tc.status || r.Counts.Failed() != tc.down {
				t.Fatalf("status %s, %d failed (%+v), want %s, %d failed", r.Status, r.Counts.Failed(), r.Counts, tc.status, tc.down)
			}
			if tc.status != OK {
				if len(r.RemoteSide) != 0 {
					t.Errorf("remote side %v for a %s requirement", r.RemoteSide, r.Status)
				}
				return
			}
			if len(r.RemoteSide) != 2 || r.RemoteSide[0].Counts.Unanswered != 1 || r.Reason != "" || r.Note == "" {
				t.Errorf("remote side %+v reason %q note %q, want the 2 servers listed, no reason, a note", r.RemoteSide, r.Reason, r.Note)
			}
			for _, p := range r.RemoteSide {
				if p.Addr != netip.MustParseAddr("203.0.113.10") && p.Addr != netip.MustParseAddr("203.0.113.11") {
					t.Errorf("remote side lists %s, which worked", p.Addr)
				}
			}
		})
	}
}

// TestRemoteSideRule checks the rule's edges on flows: the thresholds, a
// peer failing and working in turn, named vendor hosts, inbound
// requirements, zones, and peers folded beyond the table's bound.
func TestRemoteSideRule(t *testing.T) {
	ok := func(i int) flow.Flow {
		return fl(tcp, gw4+":40000", fmt.Sprintf("203.0.113.%d:25", i%250), flow.Established, at(i))
	}
	okV6 := func(i int) flow.Flow {
		return fl(tcp, "[2001:db8:a::10]:40000", netip.AddrPortFrom(peerAddr(i), 25).String(), flow.Established, at(i))
	}
	down := func(a string) flow.Flow { return fl(tcp, gw4+":40001", a+":25", flow.Unanswered, at(500)) }
	worked := func(n int) []flow.Flow {
		var fs []flow.Flow
		for i := range n {
			fs = append(fs, ok(10+i))
		}
		return fs
	}
	host := catalog.Peer{Kind: catalog.PeerHost, Value: "*.example.test"}
	wideSite := &catalog.Site{Zones: map[string][]netip.Prefix{"internet": {netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")},
		"partners": {netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.0/24")}}}
	for _, tc := range []struct {
		name   string
		r      catalog.Requirement
		site   *catalog.Site
		flows  []flow.Flow
		status Status
		remote int
	}{
		{"9 worked is too few", req("smtp", catalog.Out, catalog.TCP, port(25)), nil,
			append(worked(9), down("198.51.100.1")), Partial, 0},
		{"10 worked, 1 down", req("smtp", catalog.Out, catalog.TCP, port(25)), nil,
			append(worked(10), down("198.51.100.1")), OK, 1},
		{"18 worked, 2 down: 10 %", req("smtp", catalog.Out, catalog.TCP, port(25)), nil,
			append(worked(18), down("198.51.100.1"), down("198.51.100.2")), OK, 2},
		{"17 worked, 2 down: over 10 %", req("smtp", catalog.Out, catalog.TCP, port(25)), nil,
			append(worked(17), down("198.51.100.1"), down("198.51.100.2")), Partial, 0},
		{"a peer failing and working in turn", req("smtp", catalog.Out, catalog.TCP, port(25)), nil,
			append(worked(30), down("203.0.113.12")), Partial, 0},
		{"named vendor hosts judge each", req("smtp", catalog.Out, catalog.TCP, port(25), host), nil,
			withNames(append(worked(30), down("198.51.100.1")), "mx.example.test"), Partial, 0},
		{"inbound keeps its rule", req("smtp", catalog.In, catalog.TCP, port(25)), nil,
			reverseAll(append(worked(30), down("198.51.100.1"))), Partial, 0},
		{"a wide zone", req("smtp", catalog.Out, catalog.TCP, port(25), catalog.Peer{Kind: catalog.PeerZone, Value: "internet"}), wideSite,
			append(worked(30), down("198.51.100.1")), OK, 1},
		{"a narrow zone judges each", req("smtp", catalog.Out, catalog.TCP, port(25), catalog.Peer{Kind: catalog.PeerZone, Value: "partners"}), wideSite,
			append(worked(30), down("198.51.100.1")), Partial, 0},
		{"an unconfigured zone judges each", req("smtp", catalog.Out, catalog.TCP, port(25), catalog.Peer{Kind: catalog.PeerZone, Value: "vendor"}), nil,
			append(worked(30), down("198.51.100.1")), Partial, 0},
		{"admin-prohibited from a few peers is theirs too", req("smtp", catalog.Out, catalog.TCP, port(25)), nil,
			append(worked(30), fl(tcp, gw4+":40001", "198.51.100.1:25", flow.Unreachable, icmpErr("admin-prohibited", "198.51.100.254"))), OK, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Products: []*catalog.Product{product("p", tc.r)}, Site: tc.site,
				Hosts: []netip.Addr{netip.MustParseAddr(gw4), netip.MustParseAddr("2001:db8:a::10")}}
			r := findReq(t, audit(t, tc.flows, opts), "smtp")
			if r.Status != tc.status || len(r.RemoteSide) != tc.remote {
				t.Errorf("status %s, remote side %v; want %s, %d peers", r.Status, r.RemoteSide, tc.status, tc.remote)
			}
		})
	}
	// Beyond the 128 peers a requirement tracks: a peer folded while it
	// worked and failing later is a peer failing and working in turn;
	// peers that never worked stay explained.
	t.Run("folded", func(t *testing.T) {
		var fs []flow.Flow
		for i := range 1000 {
			fs = append(fs, okV6(i))
		}
		opts := Options{Products: []*catalog.Product{product("p", req("smtp", catalog.Out, catalog.TCP, port(25)))},
			Hosts: []netip.Addr{netip.MustParseAddr("2001:db8:a::10")}}
		downs := []flow.Flow{fl(tcp, "[2001:db8:a::10]:40001", netip.AddrPortFrom(peerAddr(5000), 25).String(), flow.Unanswered, at(2000)),
			fl(tcp, "[2001:db8:a::10]:40001", netip.AddrPortFrom(peerAddr(5001), 25).String(), flow.Unanswered, at(2000))}
		r := findReq(t, audit(t, append(fs, downs...), opts), "smtp")
		if r.Status != OK || len(r.RemoteSide) != 2 || r.PeersFolded == 0 {
			t.Errorf("never-working peers after folding: status %s, remote side %v, %d folded; want ok, 2", r.Status, r.RemoteSide, r.PeersFolded)
		}
		// peerAddr(999) worked and was folded at once (the table was full).
		again := fl(tcp, "[2001:db8:a::10]:40001", netip.AddrPortFrom(peerAddr(999), 25).String(), flow.Unanswered, at(2001))
		r = findReq(t, audit(t, append(append(fs, downs...), again), opts), "smtp")
		if r.Status != Partial || len(r.RemoteSide) != 0 {
			t.Errorf("a folded peer that worked, failing later: status %s, remote side %v; want partial", r.Status, r.RemoteSide)
		}
	})
}

func withNames(fs []flow.Flow, name string) []flow.Flow {
	for i := range fs {
		fs[i].RespNames = []string{name}
	}
	return fs
}

// reverseAll makes outbound flows inbound: the peer opens them to the
// gateway's port 25.
func reverseAll(fs []flow.Flow) []flow.Flow {
	for i := range fs {
		fs[i].Orig, fs[i].Resp = netip.AddrPortFrom(fs[i].Resp.Addr(), 40000), netip.AddrPortFrom(fs[i].Orig.Addr(), 25)
	}
	return fs
}
