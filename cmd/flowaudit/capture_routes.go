package main

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/live"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// maxRoutePeers bounds the route lookups at the start of a capture.
const maxRoutePeers = 256

// routePeers are the fixed peers of the audit: the address (or the first
// address of the prefix) of every ip peer of the products, and of every
// site zone, in order, once each.
func routePeers(opts *analyze.Options) []netip.Addr {
	var out []netip.Addr
	add := func(p netip.Prefix) {
		if a := p.Masked().Addr(); a.IsValid() && !slices.Contains(out, a) && len(out) < maxRoutePeers {
			out = append(out, a)
		}
	}
	for _, prod := range opts.Products {
		for _, r := range prod.Requirements {
			for _, p := range r.Peers {
				if pfx, ok := p.Prefix(); ok {
					add(pfx)
				}
				if p.Kind == catalog.PeerZone && opts.Site != nil {
					for _, z := range opts.Site.Zones[p.Value] {
						add(z)
					}
				}
			}
		}
	}
	if opts.Site != nil {
		for _, z := range slices.Sorted(maps.Keys(opts.Site.Zones)) {
			for _, p := range opts.Site.Zones[z] {
				add(p)
			}
		}
	}
	return out
}

// routeWarning checks, before a capture on iface, that the routes to the
// audit's fixed peers and the default routes leave by iface, and says in
// one line which leave by another interface and how to capture both
// sides; "" when all do, for "any", or when the routes cannot be read.
func routeWarning(iface string, opts *analyze.Options) string {
	routes, err := live.LookupRoutes(routePeers(opts))
	if err != nil && len(routes) == 0 {
		return ""
	}
	off := live.RoutesElsewhere(routes, iface)
	if len(off) == 0 {
		return ""
	}
	var ifaces, dsts []string
	for _, r := range off {
		if !slices.Contains(ifaces, r.Iface) {
			ifaces = append(ifaces, r.Iface)
		}
		d := r.Dst.Addr().String()
		if r.Default() {
			d = map[bool]string{true: "the IPv4 default route", false: "the IPv6 default route"}[r.Dst.Addr().Is4()]
		}
		dsts = append(dsts, d+" via "+r.Iface)
	}
	if len(dsts) > 4 {
		dsts = append(dsts[:4], fmt.Sprintf("%d more", len(dsts)-4))
	}
	return escape.Terminal(fmt.Sprintf("routes leave by another interface than %s (%s): replies sent that way are not in this capture "+
		"and its verdicts will miss them; capture on any (--iface any), or on %s and %s and merge the captures",
		iface, strings.Join(dsts, ", "), iface, strings.Join(ifaces, " and ")))
}
