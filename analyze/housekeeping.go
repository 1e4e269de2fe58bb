package analyze

import (
	"net/netip"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Housekeeping kinds, in report order, with their descriptions. ARP never
// becomes a flow (it is not IP), so it does not appear here.
var housekeepingKinds = []struct{ kind, text string }{
	{"ipv6-nd", "IPv6 neighbour discovery: router and neighbour solicitations/advertisements, redirects"},
	{"mld", "IPv6 multicast listener discovery (MLD)"},
	{"router-discovery", "ICMP router discovery: router solicitations and advertisements (IPv4)"},
	{"dhcp", "DHCP (UDP 67/68)"},
	{"dhcpv6", "DHCPv6 (UDP 546/547)"},
	{"igmp", "IGMP multicast group membership"},
	{"multicast", "traffic to multicast groups (mDNS, LLMNR, SSDP...)"},
	{"broadcast", "traffic to the IPv4 broadcast address"},
	{"link-local", "traffic between link-local or unspecified addresses"},
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// ICMPControl names the ICMP and ICMPv6 control messages that keep a link
// working rather than carry a conversation: "ipv6-nd" (ICMPv6 133-137:
// router and neighbour solicitations and advertisements, redirects),
// "mld" (ICMPv6 130-132 and 143: multicast listener queries, reports and
// done), "router-discovery" (ICMP 9 and 10: router advertisement and
// solicitation); "" for any other flow. The audit counts them as
// housekeeping, and `flows` shows them so. An ICMP flow's originator port
// is the type of the message that opened it (flow.Flow).
func ICMPControl(f *flow.Flow) string {
	t := f.Orig.Port()
	switch f.Proto {
	case flow.ProtoICMPv6:
		switch {
		case t >= 133 && t <= 137:
			return "ipv6-nd"
		case t >= 130 && t <= 132, t == 143:
			return "mld"
		}
	case flow.ProtoICMP:
		if t == 9 || t == 10 {
			return "router-discovery"
		}
	}
	return ""
}

// housekeepingKind classifies link-local chatter that says nothing about
// the product's requirements; "" for everything else.
func housekeepingKind(f *flow.Flow) string {
	o, r := f.Orig.Addr().Unmap(), f.Resp.Addr().Unmap()
	if kind := ICMPControl(f); kind != "" {
		return kind
	}
	switch f.Proto {
	case flow.ProtoUDP:
		op, rp := f.Orig.Port(), f.Resp.Port()
		switch {
		case (op == 68 || op == 67) && (rp == 67 || rp == 68):
			return "dhcp"
		case (op == 546 || op == 547) && (rp == 546 || rp == 547):
			return "dhcpv6"
		}
	case 2: // IGMP
		return "igmp"
	}
	switch {
	case r.IsMulticast() || o.IsMulticast():
		return "multicast"
	case r == broadcast4 || o == broadcast4:
		return "broadcast"
	case o.IsLinkLocalUnicast() || r.IsLinkLocalUnicast() || o.IsUnspecified() || r.IsUnspecified():
		return "link-local"
	}
	return ""
}
