package catalog

import (
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the product and site parsers: they
// must never panic, must return either a result or an error (never both),
// and every error line must name the file.
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
			}
		} else {
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
	})
}
