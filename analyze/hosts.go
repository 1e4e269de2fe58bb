package analyze

import (
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// hostSet is the gateway's addresses.
type hostSet map[netip.Addr]bool

func newHostSet(addrs []netip.Addr) hostSet {
	s := hostSet{}
	for _, a := range addrs {
		s[a.Unmap()] = true
	}
	return s
}

// sorted returns the addresses in order (IPv4 first).
func (s hostSet) sorted() []netip.Addr {
	out := make([]netip.Addr, 0, len(s))
	for a := range s {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// views returns the flow as seen from the gateway: one view when one side
// is a gateway address, two (out, then in) when both are (traffic between
// cluster nodes given as hosts), none for transit.
//
// The peer's names are its DNS names, and for an out view also the flow's
// ServerName: the name the gateway itself asked for (TLS SNI, HTTP Host)
// names the server it connected to. A name a peer asks for when it
// connects to the gateway names the gateway, never the peer, so an in view
// does not get it (docs/naming.md). buf is scratch for the out view's
// names, valid until the next call: no allocation, this runs once per flow.
func (s hostSet) views(f *flow.Flow, buf *[]string) (vs [2]view, n int) {
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	port := serverPort(f)
	if s[o] {
		vs[n] = view{dir: catalog.Out, peer: r, names: outNames(f, buf), port: port}
		n++
	}
	if s[r] {
		vs[n] = view{dir: catalog.In, peer: o, names: f.OrigNames, port: port}
		n++
	}
	return vs, n
}

// outNames is what names the responder of a flow the gateway opened: its
// DNS names and, when they lack it, the server name the gateway asked for.
func outNames(f *flow.Flow, buf *[]string) []string {
	if f.ServerName == "" {
		return f.RespNames
	}
	for _, n := range f.RespNames {
		if strings.EqualFold(n, f.ServerName) {
			return f.RespNames
		}
	}
	*buf = append(append((*buf)[:0], f.RespNames...), f.ServerName)
	return *buf
}

// flowsOf iterates over a slice of flows.
func flowsOf(flows []flow.Flow) iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		for i := range flows {
			if !yield(&flows[i]) {
				return
			}
		}
	}
}

// candidate reports whether an address can be a gateway's own address.
func candidate(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast() &&
		!a.IsLoopback() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}
