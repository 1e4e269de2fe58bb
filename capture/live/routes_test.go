package live

import (
	"net/netip"
	"slices"
	"testing"
)

func TestRoutesElsewhere(t *testing.T) {
	def4 := Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Iface: "eth1", Gateway: netip.MustParseAddr("198.51.100.1")}
	def6 := Route{Dst: netip.MustParsePrefix("::/0"), Iface: "eth0"}
	peer := Route{Dst: netip.MustParsePrefix("203.0.113.7/32"), Iface: "eth1"}
	peerHere := Route{Dst: netip.MustParsePrefix("203.0.113.8/32"), Iface: "eth0"}
	local := Route{Dst: netip.MustParsePrefix("192.0.2.10/32"), Iface: "lo", Local: true}
	unknown := Route{Dst: netip.MustParsePrefix("203.0.113.9/32")}
	all := []Route{def4, def6, peer, peerHere, local, unknown, peer}
	cases := []struct {
		name   string
		routes []Route
		iface  string
		want   []Route
	}{
		{"captured interface carries everything", []Route{def6, peerHere}, "eth0", nil},
		{"default and a peer by another interface, once each", all, "eth0", []Route{def4, peer}},
		{"capturing the other interface", all, "eth1", []Route{def6, peerHere}},
		{"any captures every interface", all, AnyIface, nil},
		{"no routes", nil, "eth0", nil},
		{"a local address is never on a wire", []Route{local}, "eth0", nil},
	}
	for _, c := range cases {
		if got := RoutesElsewhere(c.routes, c.iface); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if !def4.Default() || peer.Default() {
		t.Error("Default")
	}
}
