package catalog

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// WriteNFTables writes an nftables ruleset (for `nft -f`) that allows
// exactly the product's requirements that apply with the given features,
// and drops everything else the gateway sends or receives, but what keeps
// the host reachable: established and related connections (conntrack),
// loopback, the ICMP errors and the ICMPv6 that IPv6 needs (neighbour
// discovery, MLD), DHCP replies, and SSH, web UI and ping from the
// management networks (opt.AllowAdmin, sets admin_v4 and admin_v6). Zones
// become named sets for the admin to fill in (or filled from the site
// file); host-name peers become sets holding the addresses the documents
// list, commented with the names, since nftables matches addresses, not
// names. What ExportWarnings finds is written as comments at the top.
//
// Only checked strings reach the file: names and ids of lower-case
// letters, digits and dashes, host names, addresses, and the title when
// it is of the characters nftCommentRune allows (else it is left out);
// service, purpose, notes and source text never do. A product with
// anything else (one built in Go rather than loaded) is refused with an
// error before anything is written, so that the file can define no
// table but flowaudit's.
func WriteNFTables(w io.Writer, p *Product, opt ExportOptions) error {
	if err := exportCheck(p, opt); err != nil {
		return fmt.Errorf("nftables export: %w", err)
	}
	x := &nftExport{p: p, opt: opt, sets: map[string]*nftSet{}}
	reqs, skipped := applicable(p, opt.Features)
	x.adminSets()
	for _, r := range reqs {
		x.rules(r)
	}
	bw := bufio.NewWriter(w)
	x.write(bw, skipped, exportWarnings(p, opt))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write nftables ruleset: %w", err)
	}
	return nil
}

type nftSet struct {
	name     string
	family   string // "ip" or "ip6"
	comment  []string
	elements []netip.Prefix
}

type nftRule struct {
	chain string // "input" or "output"
	text  string
}

type nftExport struct {
	p       *Product
	opt     ExportOptions
	sets    map[string]*nftSet
	order   []string
	ruleset []nftRule
}

// adminSets declares admin_v4 and admin_v6, the management networks.
func (x *nftExport) adminSets() {
	v4, v6 := splitFamilies(x.opt.AllowAdmin)
	comment := []string{"management networks (--allow-admin): SSH, web UI and ping; fill in to use"}
	if len(x.opt.AllowAdmin) > 0 {
		comment = []string{"management networks (--allow-admin): SSH, web UI and ping"}
	}
	x.addSet(&nftSet{name: "admin_v4", family: "ip", comment: comment, elements: v4})
	x.addSet(&nftSet{name: "admin_v6", family: "ip6", comment: comment, elements: v6})
}

// rules adds the rules of one requirement: one per group of peers (any,
// each zone, the listed hosts and addresses) and address family.
func (x *nftExport) rules(r *Requirement) {
	chain, addr := "input", "saddr"
	if r.Direction == Out {
		chain, addr = "output", "daddr"
	}
	// nft reads no escapes in a quoted string: the id (checked by
	// nftCheck) is written as it is, between plain quotes.
	tail := nftMatch(r) + ` accept comment "` + r.ID + `"`
	add := func(cond string) {
		x.ruleset = append(x.ruleset, nftRule{chain, strings.TrimSpace(cond + " " + tail)})
	}
	for _, g := range peerGroups(r, x.opt.Site) {
		switch g.kind {
		case PeerAny:
			add("")
		case PeerZone:
			n4, n6 := x.zoneSets(g)
			add(fmt.Sprintf("ip %s @%s", addr, n4))
			add(fmt.Sprintf("ip6 %s @%s", addr, n6))
		default:
			x.hostSets(r, g, addr, add)
		}
	}
}

// nftMatch is a requirement's protocol and ports match.
func nftMatch(r *Requirement) string {
	if r.Protocol == ICMP {
		return "meta l4proto { icmp, ipv6-icmp }"
	}
	ports := make([]string, len(r.Ports))
	for i, pr := range r.Ports {
		ports[i] = pr.String()
	}
	if len(ports) == 1 {
		return fmt.Sprintf("%s dport %s", r.Protocol, ports[0])
	}
	return fmt.Sprintf("%s dport { %s }", r.Protocol, strings.Join(ports, ", "))
}

// hostSets adds the sets and rules for the host names and addresses a
// requirement lists itself.
func (x *nftExport) hostSets(r *Requirement, g peerGroup, addr string, add func(string)) {
	base := "req_" + nftIdent(strings.TrimPrefix(r.ID, x.p.Name+"/"))
	comment := []string{"addresses for " + r.ID}
	if len(g.hosts) > 0 {
		comment = append(comment, "host names: "+strings.Join(g.hosts, " "))
	}
	fill := g.empty()
	if fill {
		comment = append(comment, "the document lists no addresses: fill in what these names resolve to")
	}
	// An IPv6 set only when the document lists IPv6 addresses or the
	// admin has to fill the sets in anyway.
	if len(g.v4) > 0 || fill {
		name := x.addSet(&nftSet{name: base + "_v4", family: "ip", comment: comment, elements: g.v4})
		add(fmt.Sprintf("ip %s @%s", addr, name))
	}
	if len(g.v6) > 0 || fill {
		name := x.addSet(&nftSet{name: base + "_v6", family: "ip6", comment: comment, elements: g.v6})
		add(fmt.Sprintf("ip6 %s @%s", addr, name))
	}
}

func (x *nftExport) zoneSets(g peerGroup) (string, string) {
	base := "zone_" + nftIdent(g.zone)
	comment := []string{"zone " + g.zone + ": fill in its addresses or CIDRs (or give --site)"}
	if !g.empty() {
		comment = []string{"zone " + g.zone + ", from the site file"}
	}
	x.addSet(&nftSet{name: base + "_v4", family: "ip", comment: comment, elements: g.v4})
	x.addSet(&nftSet{name: base + "_v6", family: "ip6", comment: comment, elements: g.v6})
	return base + "_v4", base + "_v6"
}

// addSet records a set once; a second set with the same name keeps the
// first (zones are shared by many requirements).
func (x *nftExport) addSet(s *nftSet) string {
	if _, ok := x.sets[s.name]; !ok {
		x.sets[s.name] = s
		x.order = append(x.order, s.name)
	}
	return s.name
}

func (x *nftExport) write(w io.Writer, skipped []string, warnings []ExportWarning) {
	table := "flowaudit_" + nftIdent(x.p.Name)
	fmt.Fprintf(w, "#!/usr/sbin/nft -f\n")
	exportHeader(w, x.p, x.opt, skipped, warnings)
	fmt.Fprintf(w, "# Check: nft -c -f FILE. Load: nft -f FILE (replaces only table inet %s).\n", table)
	fmt.Fprintf(w, "\n# Replace any earlier version of this table.\ntable inet %s\ndelete table inet %s\n\n", table, table)
	fmt.Fprintf(w, "table inet %s {\n", table)
	for _, name := range x.order {
		s := x.sets[name]
		for _, c := range s.comment {
			fmt.Fprintf(w, "\t# %s\n", c)
		}
		fmt.Fprintf(w, "\tset %s {\n\t\ttype %s_addr\n\t\tflags interval\n", s.name, map[string]string{"ip": "ipv4", "ip6": "ipv6"}[s.family])
		if len(s.elements) > 0 {
			els := make([]string, len(s.elements))
			for i, p := range s.elements {
				els[i] = nftElement(p)
			}
			fmt.Fprintf(w, "\t\telements = { %s }\n", strings.Join(els, ", "))
		}
		fmt.Fprintf(w, "\t}\n\n")
	}
	admin := joinPorts(x.p.AdminPorts(), ", ")
	if strings.Contains(admin, ",") {
		admin = "{ " + admin + " }"
	}
	for _, chain := range []string{"input", "output"} {
		fmt.Fprintf(w, "\tchain %s {\n", chain)
		fmt.Fprintf(w, "\t\ttype filter hook %s priority filter; policy drop;\n", chain)
		for _, line := range nftHousekeeping(chain, admin) {
			fmt.Fprintf(w, "\t\t%s\n", line)
		}
		for _, r := range x.ruleset {
			if r.chain == chain {
				fmt.Fprintf(w, "\t\t%s\n", r.text)
			}
		}
		fmt.Fprintf(w, "\t}\n")
		if chain == "input" {
			fmt.Fprintf(w, "\n")
		}
	}
	fmt.Fprintf(w, "}\n")
}

// nftHousekeeping is what each chain accepts before the requirements:
// what keeps the host and its administrators' sessions working.
func nftHousekeeping(chain, admin string) []string {
	dir := map[string][3]string{
		"input":  {"iifname", "saddr", "dport"},
		"output": {"oifname", "daddr", "sport"},
	}[chain]
	lines := []string{
		"# Connections conntrack knows stay up (the admin rules below carry those it does not).",
		"ct state established,related accept",
		dir[0] + ` "lo" accept`,
		"# ICMP errors (path MTU) and the ICMPv6 that IPv6 needs: neighbour discovery, MLD.",
		"icmp type { destination-unreachable, time-exceeded, parameter-problem } accept",
		"icmpv6 type { " + nftICMPv6Types + " } accept",
		"# Management networks, before the invalid-state drop: a session conntrack did not see open survives.",
	}
	if chain == "input" {
		lines = append(lines,
			"ip saddr @admin_v4 tcp dport "+admin+` accept comment "admin access"`,
			"ip6 saddr @admin_v6 tcp dport "+admin+` accept comment "admin access"`,
			`ip saddr @admin_v4 icmp type echo-request accept comment "admin access"`,
			`ip6 saddr @admin_v6 icmpv6 type echo-request accept comment "admin access"`)
	} else {
		lines = append(lines,
			"ip daddr @admin_v4 tcp sport "+admin+` accept comment "admin access"`,
			"ip6 daddr @admin_v6 tcp sport "+admin+` accept comment "admin access"`)
	}
	lines = append(lines, "ct state invalid drop", "# DHCP and DHCPv6 client, for a gateway that takes its address by DHCP.")
	if chain == "input" {
		return append(lines, "udp sport 67 udp dport 68 accept", "udp sport 547 udp dport 546 accept")
	}
	return append(lines, "udp sport 68 udp dport 67 accept", "udp sport 546 udp dport 547 accept")
}

// nftICMPv6Types are the ICMPv6 types a host needs (RFC 4890, section
// 4.4.1): errors, neighbour discovery and multicast listener discovery.
const nftICMPv6Types = "destination-unreachable, packet-too-big, time-exceeded, parameter-problem, " +
	"mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report, " +
	"nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert"

// exportHeader writes the comment lines every export format starts with:
// what it is, the features, the requirements left out and the warnings.
func exportHeader(w io.Writer, p *Product, opt ExportOptions, skipped []string, warnings []ExportWarning) {
	fmt.Fprintf(w, "# Generated by flowaudit catalog export: %s", p.Name)
	// The title is free text (a report escapes it for its format); here
	// it is written only when all of it is from nftCommentRune's set.
	if p.Title != "" && nftCommentSafe(p.Title) {
		fmt.Fprintf(w, " (%s)", p.Title)
	}
	fmt.Fprintf(w, ".\n# Allows exactly the requirements below and drops all other traffic of this host, but\n")
	fmt.Fprintf(w, "# established connections, loopback, ICMP errors, IPv6 neighbour discovery, DHCP, and\n")
	fmt.Fprintf(w, "# SSH, web UI (tcp %s) and ping from the management networks.\n", joinPorts(p.AdminPorts(), ", "))
	if len(opt.AllowAdmin) > 0 {
		nets := make([]string, len(opt.AllowAdmin))
		for i, n := range opt.AllowAdmin {
			nets[i] = nftElement(n)
		}
		fmt.Fprintf(w, "# Management networks: %s\n", strings.Join(nets, ", "))
	}
	if feats := p.Features(); len(feats) > 0 {
		fmt.Fprintf(w, "# Features:\n")
		for _, f := range feats {
			on, set := opt.Features[f.Name]
			how := "given"
			if !set {
				on, how = f.Default, "default"
			}
			state := "off"
			if on {
				state = "on"
			}
			fmt.Fprintf(w, "#   %-20s %s (%s)\n", f.Name, state, how)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "# Left out, their feature being off:\n")
		for _, s := range skipped {
			fmt.Fprintf(w, "#   %s\n", s)
		}
	}
	for _, wa := range warnings {
		head := "WARNING: "
		if wa.LockOut {
			head = "WARNING: LOCK-OUT RISK: "
		}
		fmt.Fprintf(w, "# %s%s", head, wa.Head)
		if len(wa.IDs) > 0 {
			fmt.Fprintf(w, ":")
		}
		fmt.Fprintf(w, "\n")
		for _, id := range wa.IDs {
			fmt.Fprintf(w, "#   %s\n", id)
		}
	}
}

// joinPorts writes ranges as "22, 80, 10045-10049" (sep ", ") or, for
// iptables' multiport, "22,80,10045:10049" (sep ",").
func joinPorts(rs []PortRange, sep string) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
		if sep == "," {
			s[i] = strings.Replace(s[i], "-", ":", 1)
		}
	}
	return strings.Join(s, sep)
}

// nftIdent turns a catalog name into an nftables identifier.
func nftIdent(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func nftElement(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
