package catalog

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ExportOptions says what a firewall export (WriteNFTables,
// WriteIPTables) covers.
type ExportOptions struct {
	// Features turns optional features on or off; the others take their
	// defaults.
	Features map[string]bool
	// Site, when given, fills the zones with its CIDRs.
	Site *Site
	// AllowAdmin are the management networks: SSH, HTTP, HTTPS and the
	// product's own admin ports (Product.AdminPorts), and ICMP echo, are
	// accepted from them whatever the requirements say. Empty, the export
	// still has the admin sets (nftables), empty, and says so.
	AllowAdmin []netip.Prefix
}

// NFTOptions is the former name of ExportOptions.
type NFTOptions = ExportOptions

// baseAdminPorts are opened to the management networks for every
// product: SSH (22), HTTP (80) and HTTPS (443), the ports a Linux
// appliance's console and web UI use unless its catalog says otherwise.
var baseAdminPorts = []PortRange{{22, 22}, {80, 80}, {443, 443}}

// AdminPorts returns the TCP ports an export opens to the management
// networks (ExportOptions.AllowAdmin): 22, 80 and 443, and the ports of
// the product's requirements marked admin (Requirement.Admin: its console
// and web UI ports, such as Cockpit's 9090), whether or not their feature
// is on. The ranges are sorted and do not overlap.
func (p *Product) AdminPorts() []PortRange {
	ports := slices.Clone(baseAdminPorts)
	for i := range p.Requirements {
		if r := &p.Requirements[i]; r.Admin && r.Direction == In && r.Protocol == TCP {
			ports = append(ports, r.Ports...)
		}
	}
	return mergeRanges(ports)
}

// mergeRanges sorts port ranges and joins those that overlap or touch.
func mergeRanges(in []PortRange) []PortRange {
	rs := slices.Clone(in)
	slices.SortFunc(rs, func(a, b PortRange) int { return int(a[0]) - int(b[0]) })
	var out []PortRange
	for _, r := range rs {
		if n := len(out); n > 0 && uint32(r[0]) <= uint32(out[n-1][1])+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// peerGroup is one group of a requirement's peers as a firewall sees
// them: anyone, one zone, or the host names and addresses the requirement
// lists itself (kind PeerHost), with the addresses the export knows.
type peerGroup struct {
	kind   PeerKind
	zone   string
	hosts  []string
	v4, v6 []netip.Prefix
}

// empty reports whether the group admits nobody: no address of either
// family is known for it.
func (g *peerGroup) empty() bool { return g.kind != PeerAny && len(g.v4) == 0 && len(g.v6) == 0 }

// peerGroups splits r's peers into groups: a single PeerAny group when
// anyone may be the peer; else one group per zone (addresses from the
// site), then one for the listed hosts and addresses, if any.
func peerGroups(r *Requirement, site *Site) []peerGroup {
	own := peerGroup{kind: PeerHost}
	var zones []peerGroup
	for _, peer := range r.Peers {
		switch peer.Kind {
		case PeerAny:
			return []peerGroup{{kind: PeerAny}}
		case PeerZone:
			g := peerGroup{kind: PeerZone, zone: peer.Value}
			if site != nil {
				g.v4, g.v6 = splitFamilies(site.Zones[peer.Value])
			}
			zones = append(zones, g)
		case PeerHost:
			own.hosts = append(own.hosts, peer.Value)
		case PeerIP:
			if pfx, ok := peer.Prefix(); ok {
				v4, v6 := splitFamilies([]netip.Prefix{pfx})
				own.v4, own.v6 = append(own.v4, v4...), append(own.v6, v6...)
			}
		}
	}
	own.v4, own.v6 = normalizePrefixes(own.v4), normalizePrefixes(own.v6)
	if len(own.hosts) > 0 || len(own.v4) > 0 || len(own.v6) > 0 {
		zones = append(zones, own)
	}
	return zones
}

// splitFamilies returns the IPv4 and the IPv6 prefixes of ps, each
// normalized.
func splitFamilies(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return normalizePrefixes(v4), normalizePrefixes(v6)
}

// normalizePrefixes orders prefixes by address and drops repeats and
// prefixes inside another one (002 lists some addresses several times,
// and a site may list a host and its network): an nftables interval set
// refuses overlapping elements ("conflicting intervals").
func normalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	// Prefixes either nest or are disjoint, and a covering prefix sorts
	// before what it covers: comparing with the last one kept suffices.
	kept := out[:0]
	for _, p := range out {
		if n := len(kept); n > 0 && kept[n-1].Bits() <= p.Bits() && kept[n-1].Contains(p.Addr()) {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// ExportWarning is one way an export can cut traffic that its user
// expects to keep. Head and IDs hold only what the export's character
// sets allow (ids, zone names, port numbers, fixed words), so that the
// writers put them into the file's comments as they are.
type ExportWarning struct {
	// LockOut is set when inbound access is at stake: loading the export
	// can cut an administrator's or a peer's access to the gateway.
	LockOut bool
	// Head says what is wrong, in one line.
	Head string
	// IDs are the requirements concerned, if any.
	IDs []string
}

// String is the warning on one line, with at most 6 of its ids.
func (w ExportWarning) String() string {
	s := w.Head
	if w.LockOut {
		s = "LOCK-OUT RISK: " + s
	}
	if len(w.IDs) == 0 {
		return s
	}
	ids := w.IDs
	more := ""
	if len(ids) > 6 {
		ids, more = ids[:6], fmt.Sprintf(" and %d more", len(w.IDs)-6)
	}
	return s + ": " + strings.Join(ids, ", ") + more
}

// ExportWarnings lists what in an export of p with opt can cut traffic
// at once when it is loaded: zones without addresses that inbound or
// outbound requirements name, host names listed without addresses, no
// management network (--allow-admin) while SSH or a web UI port is not
// open to everyone, and no requirement letting the gateway resolve names
// or set its clock. The lock-out risks come first. It refuses a product
// the export would refuse (see WriteNFTables).
func ExportWarnings(p *Product, opt ExportOptions) ([]ExportWarning, error) {
	if err := exportCheck(p, opt); err != nil {
		return nil, err
	}
	return exportWarnings(p, opt), nil
}

// exportUse is what exportWarnings learns from the applicable
// requirements: which empty zones and host lists they name, in which
// direction, which inbound tcp ports are open to anyone, and whether the
// gateway may send DNS queries and reach NTP servers.
type exportUse struct {
	zoneOrder         []string
	zoneIn, zoneOut   map[string][]string
	inHosts, outHosts []string
	open              []PortRange
	dns, ntp          bool
}

func (u *exportUse) add(r *Requirement, site *Site) {
	u.dns = u.dns || r.Direction == Out && r.Protocol == UDP && covers(r.Ports, 53)
	u.ntp = u.ntp || r.Direction == Out && r.Protocol == UDP && covers(r.Ports, 123)
	for _, g := range peerGroups(r, site) {
		switch {
		case g.kind == PeerAny && r.Direction == In && r.Protocol == TCP:
			u.open = append(u.open, r.Ports...)
		case !g.empty():
		case g.kind == PeerZone:
			if u.zoneIn[g.zone] == nil && u.zoneOut[g.zone] == nil {
				u.zoneOrder = append(u.zoneOrder, g.zone)
			}
			if r.Direction == In {
				u.zoneIn[g.zone] = append(u.zoneIn[g.zone], r.ID)
			} else {
				u.zoneOut[g.zone] = append(u.zoneOut[g.zone], r.ID)
			}
		case r.Direction == In:
			u.inHosts = append(u.inHosts, r.ID)
		default:
			u.outHosts = append(u.outHosts, r.ID)
		}
	}
}

// exportWarnings is ExportWarnings for a product exportCheck has passed.
func exportWarnings(p *Product, opt ExportOptions) []ExportWarning {
	u := &exportUse{zoneIn: map[string][]string{}, zoneOut: map[string][]string{}}
	reqs, _ := applicable(p, opt.Features)
	for _, r := range reqs {
		u.add(r, opt.Site)
	}
	var lock, other []ExportWarning
	for _, z := range u.zoneOrder {
		if ids := u.zoneIn[z]; len(ids) > 0 {
			lock = append(lock, ExportWarning{LockOut: true, IDs: ids,
				Head: "zone " + z + " has no addresses, so these inbound requirements admit nobody from it until it is filled (site file zones, --site)"})
		}
		if ids := u.zoneOut[z]; len(ids) > 0 {
			other = append(other, ExportWarning{IDs: ids,
				Head: "zone " + z + " has no addresses, so these outbound requirements reach nobody in it until it is filled (site file zones, --site)"})
		}
	}
	if len(u.inHosts) > 0 {
		lock = append(lock, ExportWarning{LockOut: true, IDs: u.inHosts,
			Head: "the documents list no addresses for the host names of these inbound requirements: they admit nobody until the addresses are filled in"})
	}
	if len(opt.AllowAdmin) == 0 {
		var closed []string
		for _, r := range subtractRanges(p.AdminPorts(), mergeRanges(u.open)) {
			closed = append(closed, r.String())
		}
		if len(closed) > 0 {
			lock = append(lock, ExportWarning{LockOut: true,
				Head: "no --allow-admin: SSH and web UI ports (tcp " + strings.Join(closed, ", ") + ") are open to nobody but the requirements' peers, and loading this over SSH from elsewhere can cut the session: give --allow-admin CIDR with the management network"})
		}
	}
	if len(u.outHosts) > 0 {
		other = append(other, ExportWarning{IDs: u.outHosts,
			Head: "the documents list no addresses for the host names of these outbound requirements: they reach nobody until the addresses are filled in"})
	}
	if !u.dns {
		other = append(other, ExportWarning{Head: "no applicable requirement lets the gateway send DNS queries (udp 53): name resolution stops unless the resolver is the gateway itself"})
	}
	if !u.ntp {
		other = append(other, ExportWarning{Head: "no applicable requirement lets the gateway reach NTP servers (udp 123): its clock stops being synchronised (add a row with a --catalog overlay)"})
	}
	return append(lock, other...)
}

// subtractRanges returns the parts of the sorted, disjoint ranges a that
// the sorted, disjoint ranges b do not cover.
func subtractRanges(a, b []PortRange) []PortRange {
	var out []PortRange
	for _, r := range a {
		lo := uint32(r[0])
		for _, x := range b {
			if uint32(x[1]) < lo || x[0] > r[1] {
				continue
			}
			if uint32(x[0]) > lo {
				out = append(out, PortRange{uint16(lo), x[0] - 1})
			}
			lo = uint32(x[1]) + 1
		}
		if lo <= uint32(r[1]) {
			out = append(out, PortRange{uint16(lo), r[1]})
		}
	}
	return out
}

// covers reports whether one of the ranges holds port.
func covers(ranges []PortRange, port uint16) bool {
	for _, r := range ranges {
		if r.Contains(port) {
			return true
		}
	}
	return false
}

// exportCheck refuses what an export cannot write safely: a product with
// strings outside the export's character sets (nftCheck), and addresses
// that are not valid, masked prefixes (a Site or AllowAdmin built in Go
// rather than parsed).
func exportCheck(p *Product, opt ExportOptions) error {
	if p == nil {
		return fmt.Errorf("no product")
	}
	if err := nftCheck(p); err != nil {
		return err
	}
	for _, pfx := range opt.AllowAdmin {
		if !pfx.IsValid() || pfx.Masked() != pfx || pfx.Addr().Zone() != "" {
			return fmt.Errorf("admin network %q: want an address or a CIDR prefix without host bits", Visible(pfx.String()))
		}
	}
	if opt.Site != nil {
		for zone, list := range opt.Site.Zones {
			for _, pfx := range list {
				if !pfx.IsValid() || pfx.Masked() != pfx || pfx.Addr().Zone() != "" {
					return fmt.Errorf("site zone %q: address %q: want an address or a CIDR prefix without host bits", Visible(zone), Visible(pfx.String()))
				}
			}
		}
	}
	return nil
}

// applicable splits p's requirements into those that apply with the
// features and the ids left out (with the feature they need).
func applicable(p *Product, features map[string]bool) (in []*Requirement, skipped []string) {
	for i := range p.Requirements {
		r := &p.Requirements[i]
		if !r.Applies(features) {
			skipped = append(skipped, fmt.Sprintf("%s (needs %s)", r.ID, r.Condition.Feature))
			continue
		}
		in = append(in, r)
	}
	return in, skipped
}

// ParseCIDR reads an address or a CIDR prefix as site files and
// --allow-admin take them: an address stands for itself (/32, /128), an
// IPv4-mapped IPv6 address for the IPv4 address, and a prefix with host
// bits set is refused, naming the network meant.
func ParseCIDR(s string) (netip.Prefix, error) { return parsePrefix(s) }
