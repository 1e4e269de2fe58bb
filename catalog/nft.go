package catalog

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// NFTOptions says what an nftables export covers.
type NFTOptions struct {
	// Features turns optional features on or off; the others take their
	// defaults.
	Features map[string]bool
	// Site, when given, fills the zone sets with its CIDRs.
	Site *Site
}

// WriteNFTables writes an nftables ruleset (for `nft -f`) that allows
// exactly the product's requirements that apply with the given features,
// and drops everything else the gateway sends or receives. Zones become
// named sets for the admin to fill in (or filled from the site file);
// host-name peers become sets holding the addresses the documents list,
// commented with the names, since nftables matches addresses, not names.
//
// Only checked strings reach the file: names and ids of lower-case
// letters, digits and dashes, host names, addresses, and the title when
// it is of the characters nftCommentRune allows (else it is left out);
// service, purpose, notes and source text never do. A product with
// anything else (one built in Go rather than loaded) is refused with an
// error before anything is written, so that the file can define no
// table but flowaudit's.
func WriteNFTables(w io.Writer, p *Product, opt NFTOptions) error {
	if err := nftCheck(p); err != nil {
		return fmt.Errorf("nftables export: %w", err)
	}
	x := &nftExport{p: p, opt: opt, sets: map[string]*nftSet{}}
	var skipped []string
	for i := range p.Requirements {
		r := &p.Requirements[i]
		if !r.Applies(opt.Features) {
			skipped = append(skipped, fmt.Sprintf("%s (needs %s)", r.ID, r.Condition.Feature))
			continue
		}
		x.rules(r)
	}
	bw := bufio.NewWriter(w)
	x.write(bw, skipped)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write nftables ruleset: %w", err)
	}
	return nil
}

type nftSet struct {
	name     string
	family   string // "ip" or "ip6"
	comment  []string
	elements []string
	fill     bool // the admin must fill it in
}

type nftRule struct {
	chain string // "input" or "output"
	text  string
}

type nftExport struct {
	p       *Product
	opt     NFTOptions
	sets    map[string]*nftSet
	order   []string
	ruleset []nftRule
}

// rules adds the rules of one requirement: one per group of peers (any,
// each zone, the listed hosts and addresses) and address family.
func (x *nftExport) rules(r *Requirement) {
	chain, addr := "input", "saddr"
	if r.Direction == Out {
		chain, addr = "output", "daddr"
	}
	var match string
	switch r.Protocol {
	case ICMP:
		match = "meta l4proto { icmp, ipv6-icmp }"
	default:
		ports := make([]string, len(r.Ports))
		for i, pr := range r.Ports {
			ports[i] = pr.String()
		}
		if len(ports) == 1 {
			match = fmt.Sprintf("%s dport %s", r.Protocol, ports[0])
		} else {
			match = fmt.Sprintf("%s dport { %s }", r.Protocol, strings.Join(ports, ", "))
		}
	}
	// nft reads no escapes in a quoted string: the id (checked by
	// nftCheck) is written as it is, between plain quotes.
	comment := ` accept comment "` + r.ID + `"`
	add := func(cond string) {
		x.ruleset = append(x.ruleset, nftRule{chain, strings.TrimSpace(cond + " " + match + comment)})
	}
	var hosts []string
	var v4, v6 []string
	for _, peer := range r.Peers {
		switch peer.Kind {
		case PeerAny:
			// Anyone: no address match, and the other peers add nothing.
			add("")
			return
		case PeerHost:
			hosts = append(hosts, peer.Value)
		case PeerIP:
			if pfx, ok := peer.Prefix(); ok {
				if pfx.Addr().Is4() {
					v4 = append(v4, nftElement(pfx))
				} else {
					v6 = append(v6, nftElement(pfx))
				}
			}
		}
	}
	for _, peer := range r.Peers {
		if peer.Kind == PeerZone {
			n4, n6 := x.zoneSets(peer.Value)
			add(fmt.Sprintf("ip %s @%s", addr, n4))
			add(fmt.Sprintf("ip6 %s @%s", addr, n6))
		}
	}
	if len(hosts) == 0 && len(v4) == 0 && len(v6) == 0 {
		return
	}
	base := "req_" + nftIdent(strings.TrimPrefix(r.ID, x.p.Name+"/"))
	comment4 := []string{"addresses for " + r.ID}
	if len(hosts) > 0 {
		comment4 = append(comment4, "host names: "+strings.Join(hosts, " "))
	}
	fill := len(v4) == 0 && len(v6) == 0
	if fill {
		comment4 = append(comment4, "the document lists no addresses: fill in what these names resolve to")
	}
	// An IPv6 set only when the document lists IPv6 addresses or the
	// admin has to fill the sets in anyway.
	if len(v4) > 0 || fill {
		name := x.addSet(&nftSet{name: base + "_v4", family: "ip", comment: comment4, elements: v4, fill: fill})
		add(fmt.Sprintf("ip %s @%s", addr, name))
	}
	if len(v6) > 0 || fill {
		name := x.addSet(&nftSet{name: base + "_v6", family: "ip6", comment: comment4, elements: v6, fill: fill})
		add(fmt.Sprintf("ip6 %s @%s", addr, name))
	}
}

func (x *nftExport) zoneSets(zone string) (string, string) {
	base := "zone_" + nftIdent(zone)
	var v4, v6 []string
	if x.opt.Site != nil {
		for _, pfx := range x.opt.Site.Zones[zone] {
			if pfx.Addr().Is4() {
				v4 = append(v4, nftElement(pfx))
			} else {
				v6 = append(v6, nftElement(pfx))
			}
		}
	}
	comment := []string{"zone " + zone + ": fill in its addresses or CIDRs (or give --site)"}
	if x.opt.Site != nil && len(x.opt.Site.Zones[zone]) > 0 {
		comment = []string{"zone " + zone + ", from the site file"}
	}
	x.addSet(&nftSet{name: base + "_v4", family: "ip", comment: comment, elements: v4, fill: len(v4) == 0})
	x.addSet(&nftSet{name: base + "_v6", family: "ip6", comment: comment, elements: v6, fill: len(v6) == 0})
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

func (x *nftExport) write(w io.Writer, skipped []string) {
	table := "flowaudit_" + nftIdent(x.p.Name)
	fmt.Fprintf(w, "#!/usr/sbin/nft -f\n")
	fmt.Fprintf(w, "# Generated by flowaudit catalog export: %s", x.p.Name)
	// The title is free text (a report escapes it for its format); here
	// it is written only when all of it is from nftCommentRune's set.
	if x.p.Title != "" && nftCommentSafe(x.p.Title) {
		fmt.Fprintf(w, " (%s)", x.p.Title)
	}
	fmt.Fprintf(w, ".\n# Allows exactly the requirements below and drops all other traffic of this host.\n")
	if feats := x.p.Features(); len(feats) > 0 {
		fmt.Fprintf(w, "# Features:\n")
		for _, f := range feats {
			on, set := x.opt.Features[f.Name]
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
	fmt.Fprintf(w, "\n# Replace any earlier version of this table.\ntable inet %s\ndelete table inet %s\n\n", table, table)
	fmt.Fprintf(w, "table inet %s {\n", table)
	for _, name := range x.order {
		s := x.sets[name]
		for _, c := range s.comment {
			fmt.Fprintf(w, "\t# %s\n", c)
		}
		fmt.Fprintf(w, "\tset %s {\n\t\ttype %s_addr\n\t\tflags interval\n", s.name, map[string]string{"ip": "ipv4", "ip6": "ipv6"}[s.family])
		if len(s.elements) > 0 {
			els := sortElements(s.elements)
			fmt.Fprintf(w, "\t\telements = { %s }\n", strings.Join(els, ", "))
		}
		fmt.Fprintf(w, "\t}\n\n")
	}
	for _, chain := range []string{"input", "output"} {
		iface := map[string]string{"input": "iifname", "output": "oifname"}[chain]
		fmt.Fprintf(w, "\tchain %s {\n", chain)
		fmt.Fprintf(w, "\t\ttype filter hook %s priority filter; policy drop;\n", chain)
		fmt.Fprintf(w, "\t\tct state established,related accept\n")
		fmt.Fprintf(w, "\t\tct state invalid drop\n")
		fmt.Fprintf(w, "\t\t%s \"lo\" accept\n", iface)
		fmt.Fprintf(w, "\t\t# IPv6 does not work without neighbour discovery.\n")
		fmt.Fprintf(w, "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept\n")
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

// sortElements orders addresses numerically and drops repeats (002 lists
// some addresses several times).
func sortElements(els []string) []string {
	pfx := make([]netip.Prefix, 0, len(els))
	for _, e := range els {
		if p, err := parsePrefix(e); err == nil {
			pfx = append(pfx, p)
		}
	}
	slices.SortFunc(pfx, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	pfx = slices.Compact(pfx)
	out := make([]string, len(pfx))
	for i, p := range pfx {
		out[i] = nftElement(p)
	}
	return out
}

func nftElement(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
