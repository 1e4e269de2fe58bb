package analyze

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// ICMP echo request types: ICMP requirements are about reachability, so
// they are judged on echo flows.
const (
	icmpEcho   = 8
	icmpv6Echo = 128
)

// peerMatcher is one compiled catalog.Peer.
type peerMatcher struct {
	kind     catalog.PeerKind
	prefixes []netip.Prefix // zone CIDRs or the listed IP/CIDR
	name     string         // host: lower-case name, "*" labels allowed (catalog.MatchHost)
	// anyPeer is true for "any" and for zones the site does not define.
	anyPeer bool
}

// rule is one requirement compiled for matching.
type rule struct {
	product    string
	id         string
	dir        catalog.Direction
	proto      catalog.Protocol
	ports      []catalog.PortRange
	peers      []peerMatcher
	applies    bool
	oneway     bool // a UDP exchange with no reply by design (catalog OneWay)
	unconfZone []string
}

// compilePeers turns catalog peers into matchers, resolving zones against
// the site. Zones the site does not define match anyone and are returned.
func compilePeers(peers []catalog.Peer, site *catalog.Site) ([]peerMatcher, []string, error) {
	var out []peerMatcher
	var unconf []string
	if len(peers) == 0 {
		// A requirement without peers constrains nothing about the peer.
		return []peerMatcher{{kind: catalog.PeerAny, anyPeer: true}}, nil, nil
	}
	for _, p := range peers {
		m := peerMatcher{kind: p.Kind}
		switch p.Kind {
		case catalog.PeerAny:
			m.anyPeer = true
		case catalog.PeerZone:
			var cidrs []netip.Prefix
			if site != nil {
				cidrs = site.Zones[p.Value]
			}
			if len(cidrs) == 0 {
				m.anyPeer = true
				unconf = append(unconf, p.Value)
			}
			m.prefixes = cidrs
		case catalog.PeerHost:
			m.name = normName(p.Value)
		case catalog.PeerIP:
			pfx, err := parsePrefix(p.Value)
			if err != nil {
				return nil, nil, err
			}
			m.prefixes = []netip.Prefix{pfx}
		default:
			return nil, nil, fmt.Errorf("unknown peer kind %q", p.Kind)
		}
		out = append(out, m)
	}
	return out, unconf, nil
}

// parsePrefix accepts an address or a CIDR prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("peer ip %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("peer ip %q: %w", s, err)
	}
	return netip.PrefixFrom(a.Unmap(), a.BitLen()), nil
}

// normName lower-cases a DNS name and drops the root dot.
func normName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// matches reports whether the peer address (with its learned names)
// satisfies m.
func (m *peerMatcher) matches(addr netip.Addr, names []string) bool {
	if m.anyPeer {
		return true
	}
	switch m.kind {
	case catalog.PeerZone, catalog.PeerIP:
		for _, p := range m.prefixes {
			if p.Contains(addr) {
				return true
			}
		}
	case catalog.PeerHost:
		for _, n := range names {
			if catalog.MatchHost(m.name, n) {
				return true
			}
		}
	}
	return false
}

// peerOK reports whether any of the rule's peers allows the peer.
func (r *rule) peerOK(addr netip.Addr, names []string) bool {
	ok, _ := r.peerMatch(addr, names)
	return ok
}

// peerMatch reports whether any of the rule's peers allows the peer, and
// whether one that is narrower than any peer does (an IP, a configured
// zone or a host name): the more specific requirement for the flow.
func (r *rule) peerMatch(addr netip.Addr, names []string) (ok, specific bool) {
	for i := range r.peers {
		m := &r.peers[i]
		if m.matches(addr, names) {
			ok = true
			if !m.anyPeer {
				return true, true
			}
		}
	}
	return ok, false
}

// portOK reports whether the server port is one of the rule's ports.
func (r *rule) portOK(port uint16) bool {
	for _, pr := range r.ports {
		if pr.Contains(port) {
			return true
		}
	}
	return false
}

// portWidth is the number of ports of the narrowest of the rule's
// ranges holding port (0 for ICMP, which has no ports): the narrower, the
// more specific the requirement is for the flow.
func (r *rule) portWidth(port uint16) int {
	width := 0
	for _, pr := range r.ports {
		if pr.Contains(port) {
			if w := int(pr[1]) - int(pr[0]) + 1; width == 0 || w < width {
				width = w
			}
		}
	}
	return width
}

// view is one flow seen from the gateway: which side is the peer and what
// the server port is.
type view struct {
	dir   catalog.Direction
	peer  netip.Addr
	names []string // the peer's names
	port  uint16   // responder's port (ICMP: the originator's type)
}

// protoName is the catalog protocol of a flow ("icmp" for ICMP and ICMPv6)
// or "ip-N" for protocols the catalog cannot name.
func protoName(p uint8) string {
	switch p {
	case flow.ProtoTCP:
		return string(catalog.TCP)
	case flow.ProtoUDP:
		return string(catalog.UDP)
	case flow.ProtoICMP, flow.ProtoICMPv6:
		return string(catalog.ICMP)
	}
	return fmt.Sprintf("ip-%d", p)
}

// serverPort is the port that identifies a flow's service: the responder's
// port, or for ICMP the originator's message type.
func serverPort(f *flow.Flow) uint16 {
	if f.Proto == flow.ProtoICMP || f.Proto == flow.ProtoICMPv6 {
		return f.Orig.Port()
	}
	return f.Resp.Port()
}

// isEcho reports whether an ICMP flow is an echo (ping) exchange.
func isEcho(f *flow.Flow) bool {
	t := f.Orig.Port()
	return (f.Proto == flow.ProtoICMP && t == icmpEcho) || (f.Proto == flow.ProtoICMPv6 && t == icmpv6Echo)
}

// matchesFlow reports whether the flow, seen as v, has the rule's
// direction, protocol and port (peer aside). ICMP requirements allow every
// ICMP message but are judged on echo flows only: counts is false for the
// others (stray errors, time exceeded), which then are neither evidence
// nor unexpected.
func (r *rule) matchesFlow(f *flow.Flow, v view) (match, counts bool) {
	if v.dir != r.dir || protoName(f.Proto) != string(r.proto) {
		return false, false
	}
	if r.proto == catalog.ICMP {
		return true, isEcho(f)
	}
	ok := r.portOK(v.port)
	return ok, ok
}
