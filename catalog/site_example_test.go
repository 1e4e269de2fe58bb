package catalog

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// documentation are the address blocks set aside for examples (RFC 5737,
// RFC 3849): the only ones the example may hold.
var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"),
}

func isDocumentation(p netip.Prefix) bool {
	for _, d := range documentation {
		if d.Bits() <= p.Bits() && d.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// TestSiteExample: site.example.yaml at the repository root (issue 12
// item 9) is a valid site file; it names every zone the bundled products
// use, each with addresses and a comment saying what it is for, and no
// zone outside the shared vocabulary; it holds only documentation
// addresses; and its features are features of bundled products.
func TestSiteExample(t *testing.T) {
	const file = "../site.example.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if kind, err := DetectKind(file, data); err != nil || kind != KindSite {
		t.Fatalf("DetectKind: %v, %v", kind, err)
	}
	site, err := ParseSite(file, data)
	if err != nil {
		t.Fatal(err)
	}
	used, features := bundledZonesFeatures(t)
	for z := range used {
		if len(site.Zones[z]) == 0 {
			t.Errorf("zone %s, used by the bundled products, has no addresses in the example", z)
		}
	}
	for z, list := range site.Zones {
		if !slices.Contains(KnownZones(), z) {
			t.Errorf("zone %s is not in the shared vocabulary (catalog/zones.go)", z)
		}
		for _, p := range list {
			if !isDocumentation(p) {
				t.Errorf("zone %s: %s is not a documentation address", z, p)
			}
		}
	}
	if len(site.Hosts) == 0 {
		t.Error("the example names no gateway address")
	}
	for _, h := range site.Hosts {
		if !isDocumentation(netip.PrefixFrom(h, h.BitLen())) {
			t.Errorf("host %s is not a documentation address", h)
		}
	}
	if len(site.Features) == 0 {
		t.Error("the example shows no feature")
	}
	for f := range site.Features {
		if !features[f] {
			t.Errorf("feature %s is no bundled product's", f)
		}
	}
	checkZoneComments(t, data)
}

// bundledZonesFeatures returns the zones the bundled products' peers name
// and the features they declare.
func bundledZonesFeatures(t *testing.T) (zones, features map[string]bool) {
	t.Helper()
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	zones, features = map[string]bool{}, map[string]bool{}
	for _, p := range c.Products {
		for _, r := range p.Requirements {
			for _, peer := range r.Peers {
				if peer.Kind == PeerZone {
					zones[peer.Value] = true
				}
			}
		}
		for _, f := range p.Features() {
			features[f.Name] = true
		}
	}
	return zones, features
}

// checkZoneComments: each zone of a site file says what it is for, in a
// comment above it.
func checkZoneComments(t *testing.T, data []byte) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "zones" {
			continue
		}
		zones := root.Content[i+1]
		for j := 0; j+1 < len(zones.Content); j += 2 {
			k := zones.Content[j]
			if strings.TrimSpace(strings.TrimPrefix(k.HeadComment, "#")) == "" {
				t.Errorf("zone %s (line %d) has no comment saying what it is for", k.Value, k.Line)
			}
		}
	}
}

// TestDetectKind: catalog and site files are told apart by their
// top-level keys; a file of neither kind or of both is named with the
// keys found.
func TestDetectKind(t *testing.T) {
	for src, want := range map[string]string{
		"product: x\nrows: []\n":                  "catalog",
		"title: x\n":                              "catalog",
		"features:\n  - {name: a, default: true}": "catalog",
		"hosts: [192.0.2.1]\n":                    "site",
		"zones: {a: [192.0.2.0/24]}\n":            "site",
		"features: {cluster: true}\n":             "site",
		"product: x\nhosts: [192.0.2.1]\n":        "f.yaml:1: has keys of a catalog file (product) and of a site file (hosts): give each its own file",
		"colour: blue\nsize: 3\n":                 "f.yaml:1: neither a catalog file (product, rows) nor a site file (hosts, zones, features): its top-level keys are colour, size",
		"- a\n":                                   "f.yaml:1: top level must be a mapping of keys to values",
		strings.Repeat("k", 100) + ": 1\n":        "f.yaml:1: neither a catalog file (product, rows) nor a site file (hosts, zones, features): its top-level keys are " + strings.Repeat("k", 40) + "...",
		"":                                        "f.yaml: file is empty",
	} {
		kind, err := DetectKind("f.yaml", []byte(src))
		got := string(kind)
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%q: %s, want %s", src, got, want)
		}
	}
}

// TestLoadAny: LoadAnyLimit validates a file as the kind its keys say,
// returning the kind with the validation's problems too.
func TestLoadAny(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		f := dir + "/" + name
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	site := write("site.yaml", "hosts: [192.0.2.1]\nzones: {clients: [198.51.100.0/33]}\n")
	kind, _, s, err := LoadAnyLimit(site, 0)
	if kind != KindSite || s != nil || err == nil || !strings.Contains(err.Error(), `site.yaml:2: zones.clients[0]: "198.51.100.0/33"`) {
		t.Errorf("bad site: %v %v %v", kind, s, err)
	}
	cat := write("cat.yaml", "product: mine\ndocument: d\nrows:\n  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [any], source: {text: t}}\n")
	kind, c, _, err := LoadAnyLimit(cat, 0)
	if kind != KindCatalog || err != nil || len(c.Products) != 1 || c.Products[0].Name != "mine" {
		t.Errorf("catalog: %v %v %v", kind, c, err)
	}
	if _, _, _, err := LoadAnyLimit(dir, 0); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}
