package catalog

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the product and site parsers: they
// must never panic, must return either a result or an error (never both),
// and every error line must name the file and show no control or bidi
// character raw. An accepted product holds none either, and exports to
// an nftables file of the one table's shape (checkNFTShape) and to
// iptables halves of theirs (checkIPTShape); DetectKind agrees with the
// parser that accepts the file.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(good))
	for _, name := range []string{"mailcleaner", "spamexperts", "securitygateway", "clearswift-seg"} {
		if data, err := bundled.ReadFile("products/" + name + ".yaml"); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("hosts: [192.0.2.1]\nzones: {a: [10.0.0.0/8]}\nfeatures: {x: true}\n"))
	f.Add([]byte("rows: [&a {name: x}, *a]\n"))
	f.Add([]byte("product: p\nrows:\n  - {name: a, direction: both, protocol: [tcp, udp, icmp], ports: [\"1-65535\"], peers: any, source: {document: d, text: t}}\n"))
	// Issue 10: hostile strings in keys and values, and row 5's sizes.
	f.Add([]byte("product: p\ntitle: \"x\\ntable ip evil {\\n}\\n#\"\nrows:\n  - {name: a, direction: in, protocol: tcp, ports: [25], peers: any, source: {document: d, text: t}}\n"))
	f.Add([]byte("product: p\ntitle: \"\\e]52;c;eA==\\a\\u202e\"\nrows: []\n\"a\\nb\\e[2J\": 1\n"))
	f.Add([]byte("product: p\ntitle: 'a \"b\"; c # {d}'\nrows:\n  - {name: a, direction: in, protocol: tcp, ports: [25], peers: any, service: \"x\\u2028y\", source: {document: d, text: t}}\n"))
	f.Add([]byte("hosts: [\"192.0.2.1\\u202e\"]\nzones: {\"a\\tb\": [10.0.0.0/8]}\n"))
	f.Add(portsRow("p", 1, portList(1, 1100)))
	f.Add(portsRow("p", 3, portList(1, 400)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if (p == nil) == (err == nil) {
			t.Fatalf("Parse returned product %v and error %v", p, err)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("error line does not name the file: %q", line)
				}
				if _, desc, bad := firstForbidden(line); bad {
					t.Fatalf("error line holds %s raw: %q", desc, line)
				}
			}
		} else {
			if s, ok := productStrings(p); !ok {
				t.Fatalf("accepted with a control or bidi character in %q", s)
			}
			var buf bytes.Buffer
			if err := WriteNFTables(&buf, p, NFTOptions{}); err != nil {
				t.Fatalf("accepted, but the export fails: %v", err)
			}
			if err := checkNFTShape(buf.Bytes(), p.Name); err != nil {
				t.Fatalf("export: %v", err)
			}
			for _, fam := range []IPFamily{IPv4, IPv6} {
				buf.Reset()
				if err := WriteIPTables(&buf, p, NFTOptions{AllowAdmin: propAdmin}, fam); err != nil {
					t.Fatalf("accepted, but the IPv%d iptables export fails: %v", fam, err)
				}
				if err := checkIPTShape(buf.Bytes(), fam); err != nil {
					t.Fatalf("IPv%d iptables export: %v", fam, err)
				}
			}
			seen := map[string]bool{}
			for _, r := range p.Requirements {
				if seen[r.ID] {
					t.Fatalf("duplicate id %s accepted", r.ID)
				}
				seen[r.ID] = true
				if (r.Protocol == ICMP) != (len(r.Ports) == 0) {
					t.Fatalf("%s: protocol %s with ports %v", r.ID, r.Protocol, r.Ports)
				}
				for _, pr := range r.Ports {
					if pr[0] == 0 || pr[0] > pr[1] {
						t.Fatalf("%s: bad range %v", r.ID, pr)
					}
				}
			}
		}
		s, err := ParseSite("s.yaml", data)
		if (s == nil) == (err == nil) {
			t.Fatalf("ParseSite returned site %v and error %v", s, err)
		}
		// DetectKind agrees with the parsers: a file Parse accepts is a
		// catalog file, one ParseSite accepts a site file (or, with no
		// key at all, neither).
		kind, kerr := DetectKind("k.yaml", data)
		switch {
		case p != nil && kind != KindCatalog:
			t.Fatalf("Parse accepts it, DetectKind says %q, %v", kind, kerr)
		case s != nil && kind != KindSite && (kerr == nil || !strings.Contains(kerr.Error(), "neither")):
			t.Fatalf("ParseSite accepts it, DetectKind says %q, %v", kind, kerr)
		case kerr != nil:
			if _, desc, bad := firstForbidden(kerr.Error()); bad || !strings.HasPrefix(kerr.Error(), "k.yaml") {
				t.Fatalf("DetectKind's error does not name the file or holds %s raw: %q", desc, kerr)
			}
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if _, desc, bad := firstForbidden(line); bad || !strings.HasPrefix(line, "s.yaml") {
					t.Fatalf("site error line does not name the file or holds %s raw: %q", desc, line)
				}
			}
		}
	})
}
