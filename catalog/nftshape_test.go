package catalog

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The shape of every line WriteNFTables may write, by nesting level.
// checkNFTShape holds an export to it: a line that fits none of these
// (an injected table, a comment that ends early, a stray brace) fails,
// whatever nft would make of it.
var (
	nftTopLine = regexp.MustCompile(`^(#.*|(delete )?table inet (flowaudit_[A-Za-z0-9_]+)( \{)?)?$`)
	nftSetName = `[A-Za-z0-9_]+`
	nftTable   = regexp.MustCompile(`^(#.*|set (` + nftSetName + `) \{|chain (input|output) \{|\})?$`)
	nftSetLine = regexp.MustCompile(`^(type ipv[46]_addr|flags interval|elements = \{ [0-9a-f.:/]+(, [0-9a-f.:/]+)* \}|\})$`)
	nftRuleRe  = regexp.MustCompile(`^((ip|ip6) (saddr|daddr) @` + nftSetName + ` )?` +
		`(meta l4proto \{ icmp, ipv6-icmp \}|(tcp|udp) dport ([0-9]+(-[0-9]+)?|\{ [0-9]+(-[0-9]+)?(, [0-9]+(-[0-9]+)?)* \}))` +
		` accept comment "([a-z0-9/-]{1,128})"$`)
	nftPorts     = `([0-9]+(-[0-9]+)?|\{ [0-9]+(-[0-9]+)?(, [0-9]+(-[0-9]+)?)* \})`
	nftAdminRule = regexp.MustCompile(`^(ip saddr @admin_v4|ip6 saddr @admin_v6) tcp dport ` + nftPorts + ` accept comment "admin access"$|` +
		`^(ip daddr @admin_v4|ip6 daddr @admin_v6) tcp sport ` + nftPorts + ` accept comment "admin access"$`)
	nftChainFixed = map[string]bool{
		"type filter hook input priority filter; policy drop;":                                                 true,
		"type filter hook output priority filter; policy drop;":                                                true,
		"# Connections conntrack knows stay up (the admin rules below carry those it does not).":               true,
		"ct state established,related accept":                                                                  true,
		"ct state invalid drop":                                                                                true,
		`iifname "lo" accept`:                                                                                  true,
		`oifname "lo" accept`:                                                                                  true,
		"# ICMP errors (path MTU) and the ICMPv6 that IPv6 needs: neighbour discovery, MLD.":                   true,
		"icmp type { destination-unreachable, time-exceeded, parameter-problem } accept":                       true,
		"# Management networks, before the invalid-state drop: a session conntrack did not see open survives.": true,
		`ip saddr @admin_v4 icmp type echo-request accept comment "admin access"`:                              true,
		`ip6 saddr @admin_v6 icmpv6 type echo-request accept comment "admin access"`:                           true,
		"# DHCP and DHCPv6 client, for a gateway that takes its address by DHCP.":                              true,
		"udp sport 67 udp dport 68 accept":                                                                     true,
		"udp sport 547 udp dport 546 accept":                                                                   true,
		"udp sport 68 udp dport 67 accept":                                                                     true,
		"udp sport 546 udp dport 547 accept":                                                                   true,
		"icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, " +
			"mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report, " +
			"nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept": true,
		"}": true,
	}
)

// checkNFTShape parses an export line by line and returns what is wrong
// with it: it must define exactly one table, inet flowaudit_PRODUCT (the
// "table" and "delete table" lines that replace an earlier version
// aside), and nothing but sets and the two chains in it.
func checkNFTShape(out []byte, product string) error {
	want := "flowaudit_" + nftIdent(product)
	level, blocks := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), "\t")
		bad := func(why string) error { return fmt.Errorf("line %d: %s: %q", n, why, line) }
		if strings.ContainsAny(line, "\r\x00") {
			return bad("control character")
		}
		switch level {
		case 0:
			m := nftTopLine.FindStringSubmatch(line)
			switch {
			case m == nil:
				return bad("not a comment or a table statement")
			case m[3] != "" && m[3] != want:
				return bad("table other than " + want)
			case m[4] != "":
				level, blocks = 1, blocks+1
			}
		case 1:
			m := nftTable.FindStringSubmatch(line)
			switch {
			case m == nil:
				return bad("not a set or chain of the table")
			case m[2] != "":
				level = 2
			case m[3] != "":
				level = 3
			case line == "}":
				level = 0
			}
		case 2:
			if !nftSetLine.MatchString(line) {
				return bad("not a set line")
			}
			if line == "}" {
				level = 1
			}
		case 3:
			if !nftChainFixed[line] && !nftRuleRe.MatchString(line) && !nftAdminRule.MatchString(line) {
				return bad("not a rule")
			}
			if line == "}" {
				level = 1
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if level != 0 || blocks != 1 {
		return fmt.Errorf("%d table blocks, ending at nesting level %d; want one, closed", blocks, level)
	}
	return nil
}

// TestNFTShapeCatchesInjection: the shape check itself refuses the
// injections the export must never write.
func TestNFTShapeCatchesInjection(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Product("mailcleaner")
	var buf bytes.Buffer
	if err := WriteNFTables(&buf, p, NFTOptions{}); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	if err := checkNFTShape([]byte(good), p.Name); err != nil {
		t.Fatalf("bundled export: %v", err)
	}
	rule := `accept comment "mailcleaner/in-tcp-25-smtp"`
	for name, bad := range map[string]string{
		"title ends the comment": strings.Replace(good, "(MailCleaner)", "(MailCleaner\ntable ip evil { chain c { type filter hook input priority 0; policy accept; } }\n#)", 1),
		"second table":           good + "table ip evil {\n}\n",
		"other table name":       strings.Replace(good, "delete table inet flowaudit_mailcleaner", "delete table inet filter", 1),
		"quote ends the comment": strings.Replace(good, rule, `accept comment "x"; table ip evil {} #"`, 1),
		"brace in a comment":     strings.Replace(good, rule, `accept comment "x}"`, 1),
		"rule outside a chain":   strings.Replace(good, "\tchain output {", "\ttcp dport 1 accept\n\tchain output {", 1),
		"unclosed table":         strings.TrimSuffix(good, "}\n"),
		"stray element":          strings.Replace(good, "flags interval\n", "flags interval\n\t\telements = { 192.0.2.1; flush ruleset }\n", 1),
	} {
		if bad == good {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := checkNFTShape([]byte(bad), p.Name); err == nil {
			t.Errorf("%s: shape check accepts it", name)
		}
	}
}
