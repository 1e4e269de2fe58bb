package main

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestRoutePeers: the route check asks about each ip peer of the
// products (a prefix's first address) and each site zone, once.
func TestRoutePeers(t *testing.T) {
	ip := func(s string) catalog.Peer { p, _ := catalog.ParsePeer(s); return p }
	prod := &catalog.Product{Name: "x", Requirements: []catalog.Requirement{
		{ID: "a", Peers: []catalog.Peer{ip("ip:198.51.100.7"), ip("any"), ip("host:mx.example")}},
		{ID: "b", Peers: []catalog.Peer{ip("ip:203.0.113.0/24"), ip("zone:clients"), ip("ip:198.51.100.7")}},
	}}
	site := &catalog.Site{Zones: map[string][]netip.Prefix{
		"clients": {netip.MustParsePrefix("2001:db8:c::/48")},
		"admins":  {netip.MustParsePrefix("192.0.2.128/25")},
	}}
	got := routePeers(&analyze.Options{Products: []*catalog.Product{prod}, Site: site})
	want := []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.0"),
		netip.MustParseAddr("2001:db8:c::"), netip.MustParseAddr("192.0.2.128")}
	if !slices.Equal(got, want) {
		t.Errorf("peers %v, want %v", got, want)
	}
	if got := routePeers(&analyze.Options{}); len(got) != 0 {
		t.Errorf("no products: %v", got)
	}
}
