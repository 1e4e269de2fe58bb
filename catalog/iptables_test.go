package catalog

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The shape of every line WriteIPTables may write. checkIPTShape holds an
// export to it, as checkNFTShape does for nftables: a line that fits none
// of these (an injected table or rule, a comment spilling onto a line of
// its own) fails, whatever iptables-restore would make of it.
var (
	iptAddr    = `([0-9a-f.:]+(/[0-9]{1,3})?)`
	iptPorts   = `[0-9]+(:[0-9]+)?(,[0-9]+(:[0-9]+)?)*`
	iptReqRule = regexp.MustCompile(`^-A (INPUT|OUTPUT)( -([sd]) ` + iptAddr + `)? ` +
		`(-p (tcp|udp) --dport [0-9]+(:[0-9]+)?|-p (icmp|ipv6-icmp)) -m comment --comment "([a-z0-9/-]{1,128})" -j ACCEPT$`)
	iptAdminRule = regexp.MustCompile(`^-A (INPUT -s|OUTPUT -d) ` + iptAddr + ` -p tcp -m multiport --[ds]ports ` + iptPorts +
		` -m comment --comment "admin access" -j ACCEPT$|` +
		`^-A INPUT -s ` + iptAddr + ` -p (icmp --icmp-type|ipv6-icmp --icmpv6-type) echo-request -m comment --comment "admin access" -j ACCEPT$`)
	iptAddrArg = regexp.MustCompile(` -[sd] (\S+)`)
	iptFixed   = regexp.MustCompile(`^-A (INPUT|OUTPUT) (` +
		`-m conntrack --ctstate (ESTABLISHED,RELATED -j ACCEPT|INVALID -j DROP)|` +
		`-[io] lo -j ACCEPT|` +
		`-p icmp --icmp-type (destination-unreachable|time-exceeded|parameter-problem) -j ACCEPT|` +
		`-p ipv6-icmp --icmpv6-type (destination-unreachable|packet-too-big|time-exceeded|parameter-problem|130|131|132|143|` +
		`router-solicitation|router-advertisement|neighbour-solicitation|neighbour-advertisement) -j ACCEPT|` +
		`-p udp --sport (67|68|546|547) --dport (67|68|546|547) -j ACCEPT)$`)
)

// checkIPTShape parses one half of an iptables export line by line and
// returns what is wrong with it: comments only from the comment set,
// then exactly one filter table with the three built-in chains, rules
// that fit the export's grammar with addresses of the half's family,
// and COMMIT last.
func checkIPTShape(out []byte, family IPFamily) error {
	const (
		head = iota
		chains
		rules
		done
	)
	state, nchains := head, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		bad := func(why string) error { return fmt.Errorf("line %d: %s: %q", n, why, line) }
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if c != "" && !nftCommentSafe(c) {
				return bad("comment with characters outside the comment set")
			}
			if state == chains || state == done {
				return bad("comment out of place")
			}
			continue
		}
		switch state {
		case head:
			if line != "*filter" {
				return bad("want *filter")
			}
			state = chains
		case chains:
			want := []string{":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT DROP [0:0]"}[nchains]
			if line != want {
				return bad("want " + want)
			}
			if nchains++; nchains == 3 {
				state = rules
			}
		case rules:
			if line == "COMMIT" {
				state = done
				continue
			}
			if err := checkIPTRule(line, family); err != nil {
				return bad(err.Error())
			}
		case done:
			return bad("after COMMIT")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if state != done {
		return fmt.Errorf("no COMMIT: the table is not closed")
	}
	return nil
}

// checkIPTRule checks one rule line and the family of its addresses.
func checkIPTRule(line string, family IPFamily) error {
	if m := iptReqRule.FindStringSubmatch(line); m != nil {
		if m[3] == "s" && m[1] != "INPUT" || m[3] == "d" && m[1] != "OUTPUT" {
			return fmt.Errorf("address match of the wrong side")
		}
	} else if !iptAdminRule.MatchString(line) && !iptFixed.MatchString(line) {
		return fmt.Errorf("not a rule of the export")
	}
	if strings.Contains(line, " -p icmp ") && family == IPv6 || strings.Contains(line, " -p ipv6-icmp ") && family == IPv4 {
		return fmt.Errorf("ICMP of the other family")
	}
	for _, m := range iptAddrArg.FindAllStringSubmatch(line, -1) {
		a := m[1]
		p, err := ParseCIDR(a)
		if err != nil || p.Addr().Is4() != (family == IPv4) {
			return fmt.Errorf("address %s: %v, or not of the IPv%d half", a, err, family)
		}
	}
	return nil
}

// iptExports renders each bundled product's two halves with its features
// at their defaults and with all of them on, with a site and management
// networks of both families.
func iptExports(t *testing.T, fn func(p *Product, name string, feats map[string]bool, family IPFamily, out []byte)) {
	t.Helper()
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	site, err := ParseSite("site.yaml", []byte("zones:\n  vendor-support: [198.51.100.0/25, 2001:db8:51::/64]\n  admins: [192.0.2.0/28]\n  dns-servers: [192.0.2.53, 2001:db8:53::53]\n"))
	if err != nil {
		t.Fatal(err)
	}
	opt := ExportOptions{Site: site, AllowAdmin: []netip.Prefix{netip.MustParsePrefix("192.0.2.64/26"), netip.MustParsePrefix("2001:db8:1::/64")}}
	for _, p := range c.Products {
		all := map[string]bool{}
		for _, f := range p.Features() {
			all[f.Name] = true
		}
		for _, v := range []struct {
			name  string
			feats map[string]bool
		}{{"defaults", nil}, {"all", all}} {
			for _, fam := range []IPFamily{IPv4, IPv6} {
				var buf bytes.Buffer
				opt.Features = v.feats
				if err := WriteIPTables(&buf, p, opt, fam); err != nil {
					t.Fatal(err)
				}
				fn(p, v.name, v.feats, fam, buf.Bytes())
			}
		}
	}
}

// TestIPTablesExport: each half has the shape of the grammar above, and
// every applicable requirement has a rule (or, with no address of the
// family, a comment saying so); no other requirement has either.
func TestIPTablesExport(t *testing.T) {
	iptExports(t, func(p *Product, name string, feats map[string]bool, fam IPFamily, out []byte) {
		what := fmt.Sprintf("%s/%s/IPv%d", p.Name, name, fam)
		if err := checkIPTShape(out, fam); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		for _, r := range p.Requirements {
			rule := bytes.Contains(out, []byte(`--comment "`+r.ID+`" -j ACCEPT`))
			comment := bytes.Contains(out, []byte("# "+r.ID+": "))
			switch {
			case r.Applies(feats) && !rule && !comment:
				t.Errorf("%s: %s applies but has neither a rule nor a comment", what, r.ID)
			case !r.Applies(feats) && (rule || comment):
				t.Errorf("%s: %s does not apply but is in the export", what, r.ID)
			}
		}
	})
}

// TestIPTablesAdminAndZones: management networks and zone CIDRs become
// rules of their family's half, admin rules come before the invalid-state
// drop, and an empty zone is a comment, not a rule.
func TestIPTablesAdminAndZones(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Product("clearswift-seg")
	site, err := ParseSite("site.yaml", []byte("zones:\n  admins: [192.0.2.0/28, 192.0.2.5, 2001:db8:a::/64]\n"))
	if err != nil {
		t.Fatal(err)
	}
	opt := ExportOptions{Site: site, AllowAdmin: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}
	var v4, v6 bytes.Buffer
	if err := WriteIPTables(&v4, p, opt, IPv4); err != nil {
		t.Fatal(err)
	}
	if err := WriteIPTables(&v6, p, opt, IPv6); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`-A INPUT -s 198.51.100.0/24 -p tcp -m multiport --dports 22,80,443,9090 -m comment --comment "admin access" -j ACCEPT`,
		`-A OUTPUT -d 198.51.100.0/24 -p tcp -m multiport --sports 22,80,443,9090 -m comment --comment "admin access" -j ACCEPT`,
		`-A INPUT -s 198.51.100.0/24 -p icmp --icmp-type echo-request -m comment --comment "admin access" -j ACCEPT`,
		// 192.0.2.5 is inside 192.0.2.0/28: one rule, not two.
		`-A INPUT -s 192.0.2.0/28 -p tcp --dport 22 -m comment --comment "clearswift-seg/in-tcp-22-ssh-console" -j ACCEPT`,
		"# clearswift-seg/in-udp-123-ntp: zone ntp-servers has no IPv4 addresses",
	} {
		if !strings.Contains(v4.String(), want) {
			t.Errorf("IPv4 half lacks %q", want)
		}
	}
	if strings.Contains(v4.String(), "-s 192.0.2.5 ") {
		t.Error("IPv4 half keeps 192.0.2.5 next to 192.0.2.0/28")
	}
	if strings.Index(v4.String(), `--comment "admin access"`) > strings.Index(v4.String(), "INVALID -j DROP") {
		t.Error("admin rules come after the invalid-state drop")
	}
	for _, want := range []string{
		`-A INPUT -s 2001:db8:a::/64 -p tcp --dport 9090 -m comment --comment "clearswift-seg/in-tcp-9090-cockpit" -j ACCEPT`,
		"# No management network of this family (--allow-admin): no admin rule.",
		"-A INPUT -p ipv6-icmp --icmpv6-type neighbour-solicitation -j ACCEPT",
	} {
		if !strings.Contains(v6.String(), want) {
			t.Errorf("IPv6 half lacks %q", want)
		}
	}
}

// TestIPTShapeCatchesInjection: the shape check refuses what the export
// must never write.
func TestIPTShapeCatchesInjection(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Product("mailcleaner")
	var buf bytes.Buffer
	if err := WriteIPTables(&buf, p, ExportOptions{AllowAdmin: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, IPv4); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	if err := checkIPTShape([]byte(good), IPv4); err != nil {
		t.Fatalf("bundled export: %v", err)
	}
	rule := `--comment "mailcleaner/in-tcp-25-smtp"`
	for name, bad := range map[string]string{
		"title ends the comment": strings.Replace(good, "(MailCleaner)", "(MailCleaner\n-A INPUT -j ACCEPT\n#)", 1),
		"quote in a comment":     strings.Replace(good, rule, `--comment "x" -j ACCEPT -A INPUT -j ACCEPT "`, 1),
		"accept everything":      strings.Replace(good, "COMMIT", "-A INPUT -j ACCEPT\nCOMMIT", 1),
		"policy accept":          strings.Replace(good, ":INPUT DROP", ":INPUT ACCEPT", 1),
		"second table":           good + "*nat\nCOMMIT\n",
		"no commit":              strings.Replace(good, "COMMIT\n", "", 1),
		"other family":           strings.Replace(good, "-s 192.0.2.0/24", "-s 2001:db8::/32", 1),
		"user chain":             strings.Replace(good, ":OUTPUT DROP [0:0]", ":OUTPUT DROP [0:0]\n:EVIL - [0:0]", 1),
		"comment off charset":    strings.Replace(good, "# Features:", "# Features; flush", 1),
	} {
		if bad == good {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := checkIPTShape([]byte(bad), IPv4); err == nil {
			t.Errorf("%s: shape check accepts it", name)
		}
	}
}

// TestIPTablesRefusesUnsafe: the iptables export refuses what the
// nftables export refuses, writing nothing, and an invalid management
// network or site prefix built in Go.
func TestIPTablesRefusesUnsafe(t *testing.T) {
	base := &Product{Name: "demo", Requirements: []Requirement{{
		ID: "demo/in-tcp-25-smtp", Direction: In, Protocol: TCP, Ports: []PortRange{{25, 25}}, Peers: []Peer{{Kind: PeerAny}},
	}}}
	bad := *base
	bad.Requirements = []Requirement{base.Requirements[0]}
	bad.Requirements[0].ID = `demo/x" -j ACCEPT`
	for name, tc := range map[string]struct {
		p   *Product
		opt ExportOptions
	}{
		"id":              {&bad, ExportOptions{}},
		"admin host bits": {base, ExportOptions{AllowAdmin: []netip.Prefix{netip.MustParsePrefix("192.0.2.5/24")}}},
		"admin invalid":   {base, ExportOptions{AllowAdmin: []netip.Prefix{{}}}},
		"site invalid":    {base, ExportOptions{Site: &Site{Zones: map[string][]netip.Prefix{"z": {{}}}}}},
	} {
		for _, fam := range []IPFamily{IPv4, IPv6} {
			var buf bytes.Buffer
			if err := WriteIPTables(&buf, tc.p, tc.opt, fam); err == nil || buf.Len() != 0 {
				t.Errorf("%s/IPv%d: error %v, %d bytes written", name, fam, err, buf.Len())
			}
		}
		var buf bytes.Buffer
		if err := WriteNFTables(&buf, tc.p, tc.opt); err == nil || buf.Len() != 0 {
			t.Errorf("%s/nftables: error %v, %d bytes written", name, err, buf.Len())
		}
	}
}

// needIPTables returns iptables-restore, ip6tables-restore and unshare
// for a test that has them check or load exports in a throwaway network
// namespace: it skips when one is missing or the test is not root, and
// fails instead under CI=true.
func needIPTables(t *testing.T) (ipt, ip6t, unshare string) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	var paths []string
	for _, tool := range []string{"iptables-restore", "ip6tables-restore", "unshare"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			if ci {
				t.Fatalf("%s not installed (CI needs the iptables and util-linux packages): %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
		paths = append(paths, p)
	}
	if os.Geteuid() != 0 {
		if ci {
			t.Fatal("not root: iptables-restore --test needs a network namespace of its own")
		}
		t.Skip("not root: iptables-restore --test needs a network namespace of its own")
	}
	return paths[0], paths[1], paths[2]
}

// iptRestore runs tool (iptables-restore or ip6tables-restore) with args
// on file in a new network namespace, then the matching -save, and
// returns what -save printed.
func iptRestore(unshare, tool, file string, args ...string) (string, error) {
	save := strings.Replace(tool, "-restore", "-save", 1)
	script := `t="$1" f="$2"; shift 2; "$t" "$@" < "$f" || exit; "$0"`
	cmd := exec.Command(unshare, append([]string{"--net", "sh", "-c", script, save, tool, file}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return string(out), nil
}

// TestPrivilegedIPTablesCheck has iptables-restore --test and
// ip6tables-restore --test judge both halves of every product's export
// in a throwaway network namespace, then loads them there: iptables-save
// must show the filter table with the built-in chains only.
func TestPrivilegedIPTablesCheck(t *testing.T) {
	ipt, ip6t, unshare := needIPTables(t)
	checked := 0
	iptExports(t, func(p *Product, name string, _ map[string]bool, fam IPFamily, out []byte) {
		tool := map[IPFamily]string{IPv4: ipt, IPv6: ip6t}[fam]
		file := filepath.Join(t.TempDir(), fmt.Sprintf("%s.v%d", p.Name, fam))
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("%s/%s/IPv%d", p.Name, name, fam)
		if _, err := iptRestore(unshare, tool, file, "--test"); err != nil {
			t.Errorf("%s: %s --test rejects the export: %v", what, filepath.Base(tool), err)
			return
		}
		saved, err := iptRestore(unshare, tool, file)
		if err != nil {
			t.Errorf("%s: load: %v", what, err)
			return
		}
		checkSaved(t, what, saved)
		checked++
	})
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// checkSaved: what iptables-save shows after a load is the filter table
// with its three built-in chains, dropping, and accepting rules only.
func checkSaved(t *testing.T, what, saved string) {
	t.Helper()
	tables, rules := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(saved), "\n") {
		switch {
		case strings.HasPrefix(line, "#"), line == "COMMIT":
		case strings.HasPrefix(line, "*"):
			tables++
			if line != "*filter" {
				t.Errorf("%s: after the load, iptables-save shows table %s", what, line)
			}
		case strings.HasPrefix(line, ":"):
			if !regexp.MustCompile(`^:(INPUT|FORWARD|OUTPUT) DROP `).MatchString(line) {
				t.Errorf("%s: after the load, iptables-save shows chain %s", what, line)
			}
		case strings.HasPrefix(line, "-A "):
			rules++
			if !strings.HasSuffix(line, "-j ACCEPT") && !strings.HasSuffix(line, "INVALID -j DROP") {
				t.Errorf("%s: after the load, iptables-save shows %s", what, line)
			}
		default:
			t.Errorf("%s: iptables-save shows %q", what, line)
		}
	}
	if tables != 1 || rules == 0 {
		t.Errorf("%s: after the load, %d tables and %d rules:\n%s", what, tables, rules, saved)
	}
}
