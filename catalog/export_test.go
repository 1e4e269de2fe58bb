package catalog

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func bundledProduct(t *testing.T, name string) *Product {
	t.Helper()
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Product(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAdminPorts: SSH, HTTP and HTTPS for every product, and the ports of
// the rows the catalog marks admin (Clearswift's Cockpit, SecurityGateway's
// user interface), written from the documents.
func TestAdminPorts(t *testing.T) {
	for product, want := range map[string]string{
		"mailcleaner":     "22, 80, 443",
		"clearswift-seg":  "22, 80, 443, 9090",
		"securitygateway": "22, 80, 443, 4000, 4443",
		"spamexperts":     "22, 80, 443",
	} {
		if got := joinPorts(bundledProduct(t, product).AdminPorts(), ", "); got != want {
			t.Errorf("%s: admin ports %s, want %s", product, got, want)
		}
	}
	if got := joinPorts(mergeRanges([]PortRange{{443, 443}, {20, 22}, {22, 25}, {26, 26}, {80, 80}}), ", "); got != "20-26, 80, 443" {
		t.Errorf("mergeRanges: %s", got)
	}
	if got := joinPorts(subtractRanges([]PortRange{{20, 30}, {80, 80}, {443, 443}}, []PortRange{{22, 22}, {25, 80}}), ", "); got != "20-21, 23-24, 443" {
		t.Errorf("subtractRanges: %s", got)
	}
}

// TestAdminRow: admin is for inbound tcp rows; a "both" row's outbound
// half is not admin access.
func TestAdminRow(t *testing.T) {
	const head = "product: demo\ndocument: d\nrows:\n"
	p, err := Parse("ok.yaml", []byte(head+"  - {name: ui, direction: both, protocol: tcp, ports: [8443], peers: [any], admin: true, source: {text: t}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Requirements {
		if r.Admin != (r.Direction == In) {
			t.Errorf("%s: admin %v", r.ID, r.Admin)
		}
	}
	if got := joinPorts(p.AdminPorts(), ", "); got != "22, 80, 443, 8443" {
		t.Errorf("admin ports %s", got)
	}
	for row, want := range map[string]string{
		"{name: ui, direction: out, protocol: tcp, ports: [1], peers: [any], admin: true, source: {text: t}}":       "bad.yaml:4: rows[0].admin: only an inbound row (direction in or both) can be admin access",
		"{name: ui, direction: in, protocol: [tcp, udp], ports: [1], peers: [any], admin: true, source: {text: t}}": "bad.yaml:4: rows[0].admin: only a tcp row can be admin access (udp is listed)",
		"{name: ui, direction: in, protocol: tcp, ports: [1], peers: [any], admin: yes-please, source: {text: t}}":  "bad.yaml:4: rows[0].admin",
	} {
		_, err := Parse("bad.yaml", []byte(head+"  - "+row+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want %s", row, err, want)
		}
	}
}

func warningHeads(ws []ExportWarning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// TestExportWarnings: issue 12 item 6. The export that cut the lab's SSH,
// web UI, ping and NTP says so: the empty vendor-support zone with the
// requirements it empties, no management network, no NTP. Filled in, the
// lock-out warnings go.
func TestExportWarnings(t *testing.T) {
	mc := bundledProduct(t, "mailcleaner")
	site, err := ParseSite("site.yaml", []byte("zones:\n  vendor-support: [198.51.100.0/24]\n"))
	if err != nil {
		t.Fatal(err)
	}
	admin := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/28")}
	for _, tc := range []struct {
		name, product string
		opt           ExportOptions
		want          []string
		some          bool // want lists some of the warnings, not all
	}{
		{"mailcleaner bare", "mailcleaner", ExportOptions{}, []string{
			"LOCK-OUT RISK: zone vendor-support has no addresses, so these inbound requirements admit nobody from it until it is filled (site file zones, --site): mailcleaner/in-tcp-22-ssh, mailcleaner/in-tcp-80-web, mailcleaner/in-tcp-443-web",
			"LOCK-OUT RISK: no --allow-admin: SSH and web UI ports (tcp 22, 80, 443) are open to nobody but the requirements' peers, and loading this over SSH from elsewhere can cut the session: give --allow-admin CIDR with the management network",
			"zone vendor-support has no addresses, so these outbound requirements reach nobody in it until it is filled (site file zones, --site): mailcleaner/out-tcp-22-updates",
			"no applicable requirement lets the gateway reach NTP servers (udp 123): its clock stops being synchronised (add a row with a --catalog overlay)",
		}, false},
		{"mailcleaner filled", "mailcleaner", ExportOptions{Site: site, AllowAdmin: admin}, []string{
			"no applicable requirement lets the gateway reach NTP servers (udp 123): its clock stops being synchronised (add a row with a --catalog overlay)",
		}, false},
		// SSH, HTTP and HTTPS are open to anyone: nothing to lock out.
		{"spamexperts", "spamexperts", ExportOptions{}, nil, false},
		{"securitygateway", "securitygateway", ExportOptions{}, []string{
			"LOCK-OUT RISK: no --allow-admin: SSH and web UI ports (tcp 22, 80, 443) are open to nobody but the requirements' peers, and loading this over SSH from elsewhere can cut the session: give --allow-admin CIDR with the management network",
		}, true},
	} {
		ws, err := ExportWarnings(bundledProduct(t, tc.product), tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		got := warningHeads(ws)
		if tc.some {
			got = slices.DeleteFunc(got, func(s string) bool { return !slices.Contains(tc.want, s) })
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: warnings\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	// The file says it too, each requirement on a line of its own.
	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WriteNFTables(b, mc, ExportOptions{}) },
		func(b *bytes.Buffer) error { return WriteIPTables(b, mc, ExportOptions{}, IPv4) },
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"# WARNING: LOCK-OUT RISK: zone vendor-support has no addresses, so these inbound requirements admit nobody from it until it is filled (site file zones, --site):\n#   mailcleaner/in-tcp-22-ssh\n",
			"# WARNING: LOCK-OUT RISK: no --allow-admin:",
			"# WARNING: no applicable requirement lets the gateway reach NTP servers",
		} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("export lacks %q", want)
			}
		}
	}
}

// TestExportWarningsRanges: a catalog whose admin row is a wide range is
// judged by ranges, not port by port, and a range open to anyone is
// subtracted.
func TestExportWarningsRanges(t *testing.T) {
	p, err := Parse("wide.yaml", []byte("product: wide\ndocument: d\nrows:\n"+
		"  - {name: ui, direction: in, protocol: tcp, ports: [\"1000-65535\"], peers: [zone:admins], admin: true, source: {text: t}}\n"+
		"  - {name: web, direction: in, protocol: tcp, ports: [\"80-2000\"], peers: [any], source: {text: t}}\n"+
		"  - {name: dns, direction: out, protocol: udp, ports: [53, 123], peers: [any], source: {text: t}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := ExportWarnings(p, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(warningHeads(ws), "\n")
	if !strings.Contains(got, "(tcp 22, 2001-65535)") {
		t.Errorf("warnings:\n%s", got)
	}
}

// TestNFTablesAdmin: --allow-admin fills admin_v4 and admin_v6; the admin
// rules (SSH, HTTP, HTTPS and the product's own ports, ping) come after
// the established and before the invalid-state drop, and the replies of
// admin ports go out whatever conntrack knows.
func TestNFTablesAdmin(t *testing.T) {
	p := bundledProduct(t, "clearswift-seg")
	var buf bytes.Buffer
	opt := ExportOptions{AllowAdmin: []netip.Prefix{netip.MustParsePrefix("2001:db8:ad::/48"), netip.MustParsePrefix("192.0.2.0/28"), netip.MustParsePrefix("192.0.2.7/32")}}
	if err := WriteNFTables(&buf, p, opt); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if err := checkNFTShape(buf.Bytes(), p.Name); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"set admin_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 192.0.2.0/28 }\n",
		"set admin_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t\telements = { 2001:db8:ad::/48 }\n",
		"# Management networks: 2001:db8:ad::/48, 192.0.2.0/28, 192.0.2.7\n",
		"ct state established,related accept\n\t\tiifname \"lo\" accept\n",
		"ip saddr @admin_v4 tcp dport { 22, 80, 443, 9090 } accept comment \"admin access\"\n" +
			"\t\tip6 saddr @admin_v6 tcp dport { 22, 80, 443, 9090 } accept comment \"admin access\"\n" +
			"\t\tip saddr @admin_v4 icmp type echo-request accept comment \"admin access\"\n" +
			"\t\tip6 saddr @admin_v6 icmpv6 type echo-request accept comment \"admin access\"\n" +
			"\t\tct state invalid drop\n",
		"ip daddr @admin_v4 tcp sport { 22, 80, 443, 9090 } accept comment \"admin access\"\n",
		"nd-neighbor-solicit, nd-neighbor-advert } accept",
		"udp sport 67 udp dport 68 accept",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	if strings.Contains(out, "LOCK-OUT RISK: no --allow-admin") {
		t.Error("export warns of no --allow-admin though it is given")
	}
}

// TestNFTablesOverlappingZone: a site that lists a network and a host in
// it, or the same network twice, makes one set element: nftables refuses
// overlapping intervals ("conflicting intervals specified").
func TestNFTablesOverlappingZone(t *testing.T) {
	p := bundledProduct(t, "mailcleaner")
	site, err := ParseSite("site.yaml", []byte("zones:\n  vendor-support: [192.0.2.5, 192.0.2.0/24, 192.0.2.128/25, 192.0.2.0/24, 198.51.100.7, 2001:db8::/32, 2001:db8:5::1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteNFTables(&buf, p, ExportOptions{Site: site}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"elements = { 192.0.2.0/24, 198.51.100.7 }", "elements = { 2001:db8::/32 }"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("export lacks %q", want)
		}
	}
	if os.Geteuid() == 0 {
		if nft, err := exec.LookPath("nft"); err == nil {
			f := filepath.Join(t.TempDir(), "o.nft")
			if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			nftCheckFile(t, nft, f, "overlapping zone")
		}
	}
}
