package live

import (
	"net/netip"
	"slices"
)

// Route is where this host sends packets for Dst: out of Iface, through
// Gateway when there is one. A capture on one interface sees the replies
// to its peers only if they leave by that interface: a route by another
// one (asymmetric routing, a second uplink) means one side of those
// flows is missing from the capture.
type Route struct {
	// Dst is the destination asked about; a default route is 0.0.0.0/0
	// or ::/0.
	Dst     netip.Prefix
	Iface   string
	Gateway netip.Addr
	// Local is set when the destination is this host's own address
	// (delivered locally, never on a wire).
	Local bool
}

// Default reports whether r is a default route.
func (r Route) Default() bool { return r.Dst.Bits() == 0 }

// RoutesElsewhere returns the routes of routes that leave by another
// interface than iface, in their order: none when iface is AnyIface
// (every interface is captured), and never a local delivery or a route
// whose interface is unknown. A destination asked twice counts once.
func RoutesElsewhere(routes []Route, iface string) []Route {
	if iface == AnyIface {
		return nil
	}
	var out []Route
	for _, r := range routes {
		if r.Local || r.Iface == "" || r.Iface == iface {
			continue
		}
		if slices.ContainsFunc(out, func(o Route) bool { return o.Dst == r.Dst && o.Iface == r.Iface }) {
			continue
		}
		out = append(out, r)
	}
	return out
}
