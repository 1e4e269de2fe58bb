package catalog

import (
	"fmt"
	"net/netip"
	"strings"
)

// String renders the peer the way catalog files write it: "any",
// "zone:clients", "host:*.apc.avira.com", "ip:192.0.2.0/24".
func (p Peer) String() string {
	if p.Kind == PeerAny {
		return string(PeerAny)
	}
	return string(p.Kind) + ":" + p.Value
}

// Prefix returns the address or prefix of an ip peer (a bare address
// becomes a full-length prefix); ok is false for other kinds.
func (p Peer) Prefix() (netip.Prefix, bool) {
	if p.Kind != PeerIP {
		return netip.Prefix{}, false
	}
	pfx, err := parsePrefix(p.Value)
	return pfx, err == nil
}

// ParsePeer parses the textual form written in catalog files: "any",
// "zone:NAME", "host:NAME" (leading "*." wildcards allowed) or
// "ip:ADDR[/BITS]". The result is normalised (lower-case names, canonical
// addresses).
func ParsePeer(s string) (Peer, error) {
	if s == "any" {
		return Peer{Kind: PeerAny}, nil
	}
	kind, val, ok := strings.Cut(s, ":")
	if !ok {
		return Peer{}, fmt.Errorf("%q: want any, zone:NAME, host:NAME or ip:ADDR[/BITS]", s)
	}
	switch PeerKind(kind) {
	case PeerZone:
		if !validName(val) {
			return Peer{}, fmt.Errorf("%q: zone name must be lower-case letters, digits and dashes", s)
		}
		return Peer{Kind: PeerZone, Value: val}, nil
	case PeerHost:
		v := strings.ToLower(val)
		if !validHost(v) {
			return Peer{}, fmt.Errorf("%q: not a host name (letters, digits, dashes, dots; \"*\" labels allowed)", s)
		}
		return Peer{Kind: PeerHost, Value: v}, nil
	case PeerIP:
		pfx, err := parsePrefix(val)
		if err != nil {
			return Peer{}, fmt.Errorf("%q: %w", s, err)
		}
		if pfx.IsSingleIP() && !strings.Contains(val, "/") {
			return Peer{Kind: PeerIP, Value: pfx.Addr().String()}, nil
		}
		return Peer{Kind: PeerIP, Value: pfx.String()}, nil
	}
	return Peer{}, fmt.Errorf("%q: unknown peer kind %q (want any, zone, host or ip)", s, kind)
}

// MatchHost reports whether name (a DNS name seen on the wire, any case,
// with or without the root dot) matches a host pattern as ParsePeer
// normalises it, where each "*" label stands for one or more labels. The
// common forms (exact name, leading "*.") allocate nothing: the auditor
// calls this for every flow and every host peer.
func MatchHost(pattern, name string) bool {
	name = strings.TrimSuffix(name, ".")
	if !strings.Contains(pattern, "*") {
		return strings.EqualFold(pattern, name)
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok && !strings.Contains(rest, "*") {
		n := len(name) - len(rest)
		return n >= 2 && name[n-1] == '.' && strings.EqualFold(name[n:], rest)
	}
	return matchLabels(strings.Split(pattern, "."), strings.Split(strings.ToLower(name), "."))
}

func matchLabels(p, n []string) bool {
	if len(p) == 0 {
		return len(n) == 0
	}
	if p[0] == "*" {
		// "*" consumes at least one label.
		for i := 1; i <= len(n); i++ {
			if matchLabels(p[1:], n[i:]) {
				return true
			}
		}
		return false
	}
	return len(n) > 0 && p[0] == n[0] && matchLabels(p[1:], n[1:])
}

// parsePrefix accepts an address or a CIDR prefix, and refuses prefixes
// with host bits set, which are almost always typing mistakes.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address zones are not allowed")
		}
		// An IPv4-mapped IPv6 address is the IPv4 address on the wire.
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("prefix has host bits set (did you mean %s?)", p.Masked())
	}
	return p, nil
}

// validName: lower-case letters, digits and inner dashes. Used for product
// names, row names, feature and zone names.
func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "*" {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
