package catalog

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// IPFamily picks the half of an iptables export: IPv4 for
// iptables-restore, IPv6 for ip6tables-restore. The two tools read
// separate files, so each half is a file of its own.
type IPFamily int

// The two halves of an iptables export.
const (
	IPv4 IPFamily = 4
	IPv6 IPFamily = 6
)

// WriteIPTables writes one half of the iptables export of p: the filter
// table for iptables-restore (IPv4) or ip6tables-restore (IPv6), allowing
// what WriteNFTables allows for that family, in the same order. Without
// named sets, every zone CIDR, listed address and management network is a
// rule of its own; a zone or host list without addresses of the family
// gives a comment instead of a rule. The file is a whole filter table:
// iptables-restore replaces the host's filter table with it (INPUT and
// OUTPUT drop what is not allowed, FORWARD drops everything: a mail
// gateway routes nothing), and leaves the other tables alone.
//
// The character rules are those of WriteNFTables: ids, names, host names
// and addresses are checked (a product with anything else is refused
// before anything is written), comment strings are ids or fixed words,
// and the title is written only when nftCommentSafe allows it.
func WriteIPTables(w io.Writer, p *Product, opt ExportOptions, family IPFamily) error {
	if family != IPv4 && family != IPv6 {
		return fmt.Errorf("iptables export: family %d: want 4 or 6", family)
	}
	if err := exportCheck(p, opt); err != nil {
		return fmt.Errorf("iptables export: %w", err)
	}
	x := &iptExport{p: p, opt: opt, family: family}
	reqs, skipped := applicable(p, opt.Features)
	bw := bufio.NewWriter(w)
	exportHeader(bw, p, opt, skipped, exportWarnings(p, opt))
	tool, other := "iptables", "ip6tables"
	if family == IPv6 {
		tool, other = other, tool
	}
	fmt.Fprintf(bw, "# The %s half, for %s-restore (the other half: flowaudit catalog export %s --format %s).\n", x.familyName(), tool, p.Name, other)
	fmt.Fprintf(bw, "# Check: %s-restore --test FILE. Load: %s-restore FILE (replaces the filter table).\n", tool, tool)
	fmt.Fprintf(bw, "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n")
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		for _, line := range x.housekeeping(chain) {
			fmt.Fprintln(bw, line)
		}
		for _, r := range reqs {
			if (r.Direction == In) == (chain == "INPUT") {
				x.rules(bw, chain, r)
			}
		}
	}
	fmt.Fprintf(bw, "COMMIT\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s ruleset: %w", tool, err)
	}
	return nil
}

type iptExport struct {
	p      *Product
	opt    ExportOptions
	family IPFamily
}

func (x *iptExport) familyName() string {
	if x.family == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// pick returns the prefixes of x's family.
func (x *iptExport) pick(v4, v6 []netip.Prefix) []netip.Prefix {
	if x.family == IPv6 {
		return v6
	}
	return v4
}

// icmp is the protocol name of ICMP in x's family.
func (x *iptExport) icmp() string {
	if x.family == IPv6 {
		return "ipv6-icmp"
	}
	return "icmp"
}

// housekeeping is what a chain accepts before the requirements, as in
// nftHousekeeping.
func (x *iptExport) housekeeping(chain string) []string {
	in := chain == "INPUT"
	iface, addr, portDir := "-o", "-d", "--sports"
	if in {
		iface, addr, portDir = "-i", "-s", "--dports"
	}
	a := "-A " + chain + " "
	lines := []string{
		"# Connections conntrack knows stay up (the admin rules below carry those it does not).",
		a + "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
		a + iface + " lo -j ACCEPT",
	}
	if x.family == IPv6 {
		lines = append(lines, "# ICMPv6 errors (path MTU) and what IPv6 needs: neighbour discovery, MLD.")
		for _, t := range iptICMPv6Types {
			lines = append(lines, a+"-p ipv6-icmp --icmpv6-type "+t+" -j ACCEPT")
		}
	} else {
		lines = append(lines, "# ICMP errors (path MTU).")
		for _, t := range []string{"destination-unreachable", "time-exceeded", "parameter-problem"} {
			lines = append(lines, a+"-p icmp --icmp-type "+t+" -j ACCEPT")
		}
	}
	lines = append(lines, "# Management networks, before the invalid-state drop: a session conntrack did not see open survives.")
	admin := x.pick(splitFamilies(x.opt.AllowAdmin))
	if len(admin) == 0 {
		lines = append(lines, "# No management network of this family (--allow-admin): no admin rule.")
	}
	ports := multiportChunks(x.p.AdminPorts())
	for _, n := range admin {
		for _, list := range ports {
			lines = append(lines, a+addr+" "+nftElement(n)+" -p tcp -m multiport "+portDir+" "+list+` -m comment --comment "admin access" -j ACCEPT`)
		}
		if in {
			echo := "--icmp-type echo-request"
			if x.family == IPv6 {
				echo = "--icmpv6-type echo-request"
			}
			lines = append(lines, a+"-s "+nftElement(n)+" -p "+x.icmp()+" "+echo+` -m comment --comment "admin access" -j ACCEPT`)
		}
	}
	lines = append(lines, a+"-m conntrack --ctstate INVALID -j DROP",
		"# DHCP client, for a gateway that takes its address by DHCP.")
	client, server := "68", "67"
	if x.family == IPv6 {
		client, server = "546", "547"
	}
	if in {
		return append(lines, a+"-p udp --sport "+server+" --dport "+client+" -j ACCEPT")
	}
	return append(lines, a+"-p udp --sport "+client+" --dport "+server+" -j ACCEPT")
}

// iptICMPv6Types are nftICMPv6Types as ip6tables names them (MLD by
// number: 130 query, 131 report, 132 done, 143 MLDv2 report).
var iptICMPv6Types = []string{
	"destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem",
	"130", "131", "132", "143",
	"router-solicitation", "router-advertisement", "neighbour-solicitation", "neighbour-advertisement",
}

// multiportChunks writes port ranges as multiport lists of at most 15
// ports, a range counting as two (the multiport match's limit).
func multiportChunks(rs []PortRange) []string {
	var out []string
	var cur []PortRange
	used := 0
	for _, r := range rs {
		n := 1
		if r[0] != r[1] {
			n = 2
		}
		if used+n > 15 {
			out = append(out, joinPorts(cur, ","))
			cur, used = nil, 0
		}
		cur, used = append(cur, r), used+n
	}
	if len(cur) > 0 {
		out = append(out, joinPorts(cur, ","))
	}
	return out
}

// rules writes one requirement's rules: one per address of each peer
// group of x's family (none needed for anyone), and a comment for each
// group without addresses of the family.
func (x *iptExport) rules(w io.Writer, chain string, r *Requirement) {
	addr := "-d"
	if chain == "INPUT" {
		addr = "-s"
	}
	var match []string
	if r.Protocol == ICMP {
		match = []string{"-p " + x.icmp()}
	} else {
		for _, pr := range r.Ports {
			match = append(match, fmt.Sprintf("-p %s --dport %s", r.Protocol, strings.Replace(pr.String(), "-", ":", 1)))
		}
	}
	// iptables-restore reads a quoted string up to the next quote; the
	// id (checked by nftCheck) holds neither quotes nor backslashes.
	emit := func(peer string) {
		for _, m := range match {
			fmt.Fprintf(w, "-A %s %s%s -m comment --comment \"%s\" -j ACCEPT\n", chain, peer, m, r.ID)
		}
	}
	for _, g := range peerGroups(r, x.opt.Site) {
		if g.kind == PeerAny {
			emit("")
			continue
		}
		list := x.pick(g.v4, g.v6)
		if len(list) == 0 {
			what := "zone " + g.zone + " has no " + x.familyName() + " addresses (site file zones, --site)"
			if g.kind != PeerZone {
				what = "no " + x.familyName() + " addresses listed for " + strings.Join(g.hosts, " ")
			}
			fmt.Fprintf(w, "# %s: %s: no rule\n", r.ID, what)
			continue
		}
		if g.kind == PeerHost && len(g.hosts) > 0 {
			fmt.Fprintf(w, "# %s: host names %s\n", r.ID, strings.Join(g.hosts, " "))
		}
		for _, pfx := range list {
			emit(addr + " " + nftElement(pfx) + " ")
		}
	}
}
